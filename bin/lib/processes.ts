/**
 * Small tools the local scripts (seed, cluster) share: is a shop answering
 * at a URL, is a process alive and still the one we started, stop a
 * process politely and then not.
 */
import fs from "fs";
import net from "net";
import path from "path";

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

/** The namespace of `npm run cluster` when NAMESPACE is unset. */
export const DEFAULT_CLUSTER_NAMESPACE = "shop-cluster";

export interface ClusterNode extends OwnedProcess {
	name: string;
	services: string;
	port?: number;
	nodeId: string;
	log: string;
}

/** `pids.json` of a local cluster: the processes `npm run cluster` started. */
export interface ClusterPidFile {
	namespace: string;
	startedAt: string;
	gateways: string[];
	nodes: ClusterNode[];
}

/** The folder of the local cluster of NAMESPACE (default shop-cluster): `<CLUSTER_DIR, default data/cluster>/<namespace>`. */
export function clusterFolder(env: NodeJS.ProcessEnv): { namespace: string; dir: string } {
	const namespace = env.NAMESPACE || DEFAULT_CLUSTER_NAMESPACE;
	return { namespace, dir: path.resolve(env.CLUSTER_DIR || "data/cluster", namespace) };
}

export function readClusterPidFile(dir: string): ClusterPidFile | undefined {
	try {
		return JSON.parse(fs.readFileSync(path.join(dir, "pids.json"), "utf8")) as ClusterPidFile;
	} catch {
		return undefined;
	}
}

/** How to start what the shop's clusters need on this machine, when it is not there. */
export const START_RABBITMQ = "rabbitmq-server -detached";
export const START_REDIS = `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`;

/** Whether a RabbitMQ (`amqp://`) or Redis (`redis://`) URL's host accepts connections (default ports 5672 and 6379). */
export function reachable(url: string): Promise<boolean> {
	const u = new URL(url);
	const port = Number(u.port) || (u.protocol.startsWith("amqp") ? 5672 : 6379);
	return new Promise(resolve => {
		const socket = net.connect({ host: u.hostname, port, timeout: 2000 });
		socket.once("connect", () => (socket.destroy(), resolve(true)));
		socket.once("timeout", () => (socket.destroy(), resolve(false)));
		socket.once("error", () => resolve(false));
	});
}

/** The last lines of a log file. */
export function tail(file: string, lines = 20): string {
	try {
		return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
	} catch {
		return "(no log)";
	}
}

/** `/api/health`'s status, or undefined when nothing answers there. */
export async function healthStatus(baseUrl: string, timeoutMs = 3000): Promise<number | undefined> {
	try {
		const res = await fetch(`${baseUrl}/api/health`, { signal: AbortSignal.timeout(timeoutMs) });
		await res.arrayBuffer();
		return res.status;
	} catch {
		return undefined;
	}
}

/** Resolves once `/api/health` answers 200; rejects after `timeoutMs`, or at once when `gone()` says the process died. */
export async function waitForHealthy(baseUrl: string, timeoutMs: number, gone: () => string | undefined = () => undefined): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	let last: number | undefined;
	for (;;) {
		const why = gone();
		if (why) throw new Error(why);
		last = await healthStatus(baseUrl);
		if (last === 200) return;
		if (Date.now() > deadline) throw new Error(`${baseUrl}/api/health did not answer 200 within ${Math.round(timeoutMs / 1000)} s (last: ${last ?? "no answer"})`);
		await sleep(250);
	}
}

/** A TCP port nobody listens on now (127.0.0.1). */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address() as net.AddressInfo;
			server.close(() => resolve(port));
		});
	});
}

/** Whether something on this host accepts connections on the port (any address). */
export function portInUse(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const server = net.createServer();
		server.once("error", () => resolve(true));
		server.listen(port, () => server.close(() => resolve(false)));
	});
}

/**
 * The fields of `/proc/<pid>/stat` after the command name (which may hold
 * spaces), so `[0]` is field 3 (state), `[11]`/`[12]` utime/stime and
 * `[19]` starttime; undefined when the process is gone (Linux).
 */
export function procStat(pid: number): string[] | undefined {
	try {
		const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
		return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
	} catch {
		return undefined;
	}
}

/** The kernel's start time of a process, so a pid the system gave to another process since is not taken for ours. */
export function processStartTime(pid: number): string | undefined {
	return procStat(pid)?.[19];
}

/** Alive, and (where the system says when it started) the same process that started at `startTime`. A zombie is not alive. */
export function isAlive(pid: number, startTime?: string): boolean {
	try {
		process.kill(pid, 0);
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
	}
	const stat = procStat(pid);
	if (stat?.[0] === "Z") return false;
	if (startTime === undefined) return true;
	const now = stat?.[19];
	return now === undefined || now === startTime;
}

export interface OwnedProcess {
	pid: number;
	startTime?: string;
}

/**
 * SIGTERM to each (a node finishes what is in flight and exits), then
 * SIGKILL to any still running after `timeoutMs`. Resolves once all are
 * gone; answers the pids that needed SIGKILL.
 */
export async function stopProcesses(processes: OwnedProcess[], timeoutMs = 15_000): Promise<number[]> {
	const ours = processes.filter(p => isAlive(p.pid, p.startTime));
	for (const p of ours) signal(p.pid, "SIGTERM");
	const deadline = Date.now() + timeoutMs;
	while (ours.some(p => isAlive(p.pid, p.startTime)) && Date.now() < deadline) await sleep(100);
	const stubborn = ours.filter(p => isAlive(p.pid, p.startTime));
	for (const p of stubborn) signal(p.pid, "SIGKILL");
	const killDeadline = Date.now() + 5000;
	while (stubborn.some(p => isAlive(p.pid, p.startTime)) && Date.now() < killDeadline) await sleep(50);
	return stubborn.map(p => p.pid);
}

function signal(pid: number, sig: NodeJS.Signals): void {
	try {
		process.kill(pid, sig);
	} catch {
		// gone meanwhile
	}
}

/** `.env` of the working directory into process.env, the environment winning over it (Node's own loader). */
export function loadDotEnv(): void {
	const file = path.resolve(".env");
	if (fs.existsSync(file)) process.loadEnvFile(file);
}
