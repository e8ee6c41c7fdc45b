/**
 * A cluster on this machine, one process per service over the local
 * RabbitMQ and Redis, with two gateways:
 *
 *   node dist/bin/cluster.js start   (npm run cluster)
 *   node dist/bin/cluster.js stop    (npm run cluster:stop)
 *   node dist/bin/cluster.js restart <node or service>   (npm run cluster:restart products)
 *   node dist/bin/cluster.js clean   (npm run cluster:clean)
 *
 * Each namespace (NAMESPACE, default `shop-cluster`) has its own folder
 * `data/cluster/<namespace>/`: a data directory per node, the JWT secret
 * all nodes share (made once, unless JWT_SECRET is set) and `pids.json`,
 * the processes `stop` ends (and no others: a pid is ours only while its
 * start time is the one recorded). Logs go to `logs/cluster/<namespace>/`.
 * `restart` stops one node (or both gateways for `api`, one after the
 * other) and starts it again under the same node id, the others untouched.
 * `clean` stops the cluster, then removes the namespace's queues,
 * exchanges and Redis keys, its data and its logs.
 */
import { spawn } from "child_process";
import crypto from "crypto";
import fs from "fs";
import path from "path";
import { GENERATED_ADMIN_FILE, generateAdmin, readAdminFile, writeAdminFile, type AdminCredentials } from "../lib/infra/generated-admin";
import { BACKEND_SERVICES } from "../lib/contracts/services";
import { deleteNamespaceWithTransport } from "./lib/namespace-cleanup";
import {
	DEFAULT_CLUSTER_NAMESPACE,
	START_RABBITMQ,
	START_REDIS,
	clusterFolder,
	isAlive,
	loadDotEnv,
	portInUse,
	processStartTime,
	reachable,
	readClusterPidFile,
	sleep,
	stopProcesses,
	tail,
	waitForHealthy,
	type ClusterNode,
	type ClusterPidFile,
} from "./lib/processes";

const RUNNER = path.join(__dirname, "runner.js");
const START_TIMEOUT_MS = 90_000;
const DEFAULTS = {
	port: 5000,
	transporter: "amqp://guest:guest@127.0.0.1:5672",
	cacher: "redis://127.0.0.1:6379",
};

class ClusterError extends Error {
	name = "ClusterError";
}

type NodeSpec = Pick<ClusterNode, "name" | "services" | "port">;

interface ClusterConfig {
	namespace: string;
	ports: [number, number];
	transporter: string;
	cacher: string;
	dataDir: string;
	logDir: string;
	/** ADMIN_EMAIL / ADMIN_PASSWORD; without them, the cluster's own generated admin. */
	admin?: AdminCredentials;
}

function portOf(value: string | undefined, fallback: number, name: string): number {
	if (!value) return fallback;
	const port = Number(value);
	if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new ClusterError(`${name}=${value} is not a port`);
	return port;
}

/** The cluster's settings from the environment (and .env): NAMESPACE, PORT and PORT2, TRANSPORTER, CACHER, CLUSTER_DIR, CLUSTER_LOG_DIR, ADMIN_*. */
function configOf(env: NodeJS.ProcessEnv): ClusterConfig {
	const { namespace, dir } = clusterFolder(env);
	if (!/^[A-Za-z0-9_-]+$/.test(namespace)) throw new ClusterError(`NAMESPACE=${namespace}: letters, digits, - and _ only`);
	const first = portOf(env.PORT, DEFAULTS.port, "PORT");
	const second = portOf(env.PORT2, first + 1, "PORT2");
	if (first === second) throw new ClusterError("PORT and PORT2 must differ: they are the two gateways' ports");
	return {
		namespace,
		ports: [first, second],
		transporter: env.TRANSPORTER || DEFAULTS.transporter,
		cacher: env.CACHER || DEFAULTS.cacher,
		dataDir: dir,
		logDir: path.resolve(env.CLUSTER_LOG_DIR || "logs/cluster", namespace),
		admin: env.ADMIN_EMAIL && env.ADMIN_PASSWORD ? { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD } : undefined,
	};
}

/** One node per service, then the two gateways. */
function nodeSpecs(ports: [number, number]): NodeSpec[] {
	return [...BACKEND_SERVICES.map(s => ({ name: s, services: s })), { name: "api-1", services: "api", port: ports[0] }, { name: "api-2", services: "api", port: ports[1] }];
}

/** A URL without its credentials, to print. */
function shown(url: string): string {
	const u = new URL(url);
	u.username = "";
	u.password = "";
	return u.toString().replace(/\/$/, "");
}

const pidFilePath = (c: ClusterConfig) => path.join(c.dataDir, "pids.json");

const readPidFile = (c: ClusterConfig) => readClusterPidFile(c.dataDir);

function writePidFile(c: ClusterConfig, file: ClusterPidFile): void {
	fs.writeFileSync(pidFilePath(c), `${JSON.stringify(file, null, "\t")}\n`);
}

/** The secret every node signs and verifies tokens with: JWT_SECRET, or one made on the first start and kept beside the data. */
function jwtSecret(c: ClusterConfig): string {
	if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
	const file = path.join(c.dataDir, "jwt-secret");
	if (!fs.existsSync(file)) fs.writeFileSync(file, crypto.randomBytes(32).toString("hex"), { mode: 0o600 });
	return fs.readFileSync(file, "utf8").trim();
}

/** No well-known password: without ADMIN_*, an admin with a generated one, made on the first start and kept beside the data (0600), where the seed finds it. */
function clusterAdmin(c: ClusterConfig): AdminCredentials {
	if (c.admin) return c.admin;
	const file = path.join(c.dataDir, GENERATED_ADMIN_FILE);
	const kept = readAdminFile(file);
	if (kept) return kept;
	const admin = generateAdmin();
	writeAdminFile(file, admin);
	return admin;
}

async function checkCanStart(c: ClusterConfig): Promise<void> {
	const previous = readPidFile(c);
	const alive = previous?.nodes.filter(n => isAlive(n.pid, n.startTime)) ?? [];
	if (alive.length) throw new ClusterError(`The cluster "${c.namespace}" is running (pids ${alive.map(n => n.pid).join(", ")}): npm run cluster:stop first.`);
	for (const port of c.ports) if (await portInUse(port)) throw new ClusterError(`Port ${port} is in use: stop what listens there, or choose the gateways' ports with PORT and PORT2.`);
	const missing = [
		!(await reachable(c.transporter)) && `RabbitMQ at ${shown(c.transporter)} (start it: ${START_RABBITMQ})`,
		!(await reachable(c.cacher)) && `Redis at ${shown(c.cacher)} (start it: ${START_REDIS})`,
	].filter(Boolean);
	if (missing.length) throw new ClusterError(`The cluster needs ${missing.join(" and ")}.`);
}

/** A node in its own process group, on after this script exits, its output in its log file. */
function spawnNode(c: ClusterConfig, spec: NodeSpec, secret: string, admin: AdminCredentials): ClusterNode {
	const nodeId = `${c.namespace}-${spec.name}`;
	const log = path.join(c.logDir, `${spec.name}.log`);
	const out = fs.openSync(log, "a");
	const env: NodeJS.ProcessEnv = {
		...process.env,
		SERVICES: spec.services,
		NODE_ID: nodeId,
		NAMESPACE: c.namespace,
		TRANSPORTER: c.transporter,
		CACHER: c.cacher,
		JWT_SECRET: secret,
		DATA_DIR: path.join(c.dataDir, spec.name),
		PORT: spec.port === undefined ? "" : String(spec.port),
		// One port per machine: seven nodes cannot share it.
		METRICS_PORT: "",
		...(spec.services === "customers" ? { ADMIN_EMAIL: admin.email, ADMIN_PASSWORD: admin.password } : {}),
	};
	try {
		const child = spawn(process.execPath, [RUNNER], { cwd: process.cwd(), env, detached: true, stdio: ["ignore", out, out] });
		child.unref();
		return { ...spec, nodeId, log, pid: child.pid!, startTime: processStartTime(child.pid!) };
	} finally {
		fs.closeSync(out);
	}
}

async function start(c: ClusterConfig): Promise<void> {
	await checkCanStart(c);
	fs.mkdirSync(c.dataDir, { recursive: true });
	fs.mkdirSync(c.logDir, { recursive: true });
	const secret = jwtSecret(c);
	const admin = clusterAdmin(c);
	const gateways = c.ports.map(port => `http://localhost:${port}`);
	const file: ClusterPidFile = { namespace: c.namespace, startedAt: new Date().toISOString(), gateways, nodes: [] };
	for (const spec of nodeSpecs(c.ports)) {
		file.nodes.push(spawnNode(c, spec, secret, admin));
		// Kept after each start: a stop finds every node even if this script dies half-way.
		writePidFile(c, file);
	}
	const dead = () => {
		const node = file.nodes.find(n => !isAlive(n.pid, n.startTime));
		return node && `The node ${node.name} (pid ${node.pid}) exited. The end of ${node.log}:\n${tail(node.log, 30)}`;
	};
	try {
		for (const port of c.ports) await waitForHealthy(`http://127.0.0.1:${port}`, START_TIMEOUT_MS, dead);
	} catch (err) {
		await stopProcesses(file.nodes);
		fs.rmSync(pidFilePath(c), { force: true });
		throw new ClusterError(`The cluster "${c.namespace}" did not start; its nodes were stopped.\n${(err as Error).message}`);
	}
	console.log(`Cluster "${c.namespace}" is up: ${file.nodes.length} nodes over ${shown(c.transporter)} and ${shown(c.cacher)}.`);
	console.log(`  gateway 1:  ${gateways[0]}/api   (operations page ${gateways[0]}/)`);
	console.log(`  gateway 2:  ${gateways[1]}/api`);
	console.log(`  admin:      ${admin.email}${c.admin ? "" : `, its generated password in ${rel(path.join(c.dataDir, GENERATED_ADMIN_FILE))} (or set ADMIN_EMAIL and ADMIN_PASSWORD)`}`);
	console.log(`  nodes:      ${file.nodes.map(n => `${n.name} (${n.pid})`).join(", ")}`);
	console.log(`  logs:       ${rel(c.logDir)}/<node>.log`);
	console.log(`  data:       ${rel(c.dataDir)}/`);
	console.log(`Seed it: ${c.namespace === DEFAULT_CLUSTER_NAMESPACE ? "" : `NAMESPACE=${c.namespace} `}npm run seed (it finds this cluster's gateway 1 and admin)`);
	console.log(`Stop it: ${c.namespace === DEFAULT_CLUSTER_NAMESPACE ? "" : `NAMESPACE=${c.namespace} `}npm run cluster:stop (cluster:clean also removes its queues, Redis keys, data and logs)`);
}

/** A path as short as it can be said from here. */
function rel(p: string): string {
	const r = path.relative(process.cwd(), p);
	return r.startsWith("..") ? p : r || ".";
}

/** Ends the processes of the pid file, those only; true when there was a pid file. */
async function stop(c: ClusterConfig): Promise<boolean> {
	const file = readPidFile(c);
	if (!file) {
		console.log(`No cluster "${c.namespace}" is running here (no ${rel(pidFilePath(c))}).`);
		return false;
	}
	const running = file.nodes.filter(n => isAlive(n.pid, n.startTime));
	const killed = await stopProcesses(running);
	fs.rmSync(pidFilePath(c), { force: true });
	console.log(
		running.length
			? `Stopped the cluster "${c.namespace}": ${running.map(n => `${n.name} (${n.pid})`).join(", ")}${killed.length ? `; ${killed.join(", ")} needed SIGKILL` : ""}.`
			: `The cluster "${c.namespace}" was not running any more.`,
	);
	return true;
}

/** How long the gateways may answer health from a report made before a node stopped (services/api/health.ts keeps it a second). */
const HEALTH_REPORT_AGE_MS = 1500;

/** Resolves once a restarted node's log says it started (after `logFrom`), and the cluster's first gateway reports every service running. */
async function waitForRestarted(node: ClusterNode, logFrom: number, gateway: string, stoppedAt: number): Promise<void> {
	const deadline = Date.now() + START_TIMEOUT_MS;
	const started = () => {
		try {
			return fs.readFileSync(node.log, "utf8").slice(logFrom).includes("started successfully");
		} catch {
			return false;
		}
	};
	while (!started()) {
		if (!isAlive(node.pid, node.startTime)) throw new ClusterError(`The node ${node.name} (pid ${node.pid}) exited. The end of ${node.log}:\n${tail(node.log, 30)}`);
		if (Date.now() > deadline) throw new ClusterError(`The node ${node.name} did not start within ${START_TIMEOUT_MS / 1000} s; see ${node.log}`);
		await sleep(100);
	}
	await sleep(Math.max(0, stoppedAt + HEALTH_REPORT_AGE_MS - Date.now()));
	const gone = () => (isAlive(node.pid, node.startTime) ? undefined : `The node ${node.name} (pid ${node.pid}) exited. The end of ${node.log}:\n${tail(node.log, 30)}`);
	await waitForHealthy(node.port === undefined ? gateway : `http://127.0.0.1:${node.port}`, Math.max(1000, deadline - Date.now()), gone);
}

/**
 * Stops the nodes named `name` (a node's name, or a service's: `api` is
 * both gateways) and starts each again under its node id, one after the
 * other, so that one gateway always answers. The id stays: the node said
 * goodbye (DISCONNECT) when it stopped, so the others take the new process
 * for the same node at once.
 */
async function restart(c: ClusterConfig, name: string | undefined): Promise<void> {
	const file = readPidFile(c);
	if (!file) throw new ClusterError(`No cluster "${c.namespace}" is running here (no ${rel(pidFilePath(c))}): npm run cluster first.`);
	const targets = file.nodes.filter(n => n.name === name || n.services === name);
	if (!name || !targets.length)
		throw new ClusterError(
			`No node or service "${name ?? ""}" in the cluster "${c.namespace}"; its nodes: ${file.nodes.map(n => n.name).join(", ")} (api: both gateways, one after the other). Usage: npm run cluster:restart <node>`,
		);
	const secret = jwtSecret(c);
	const admin = clusterAdmin(c);
	for (const old of targets) {
		const killed = await stopProcesses([old]);
		const stoppedAt = Date.now();
		const logFrom = fs.existsSync(old.log) ? fs.statSync(old.log).size : 0;
		const fresh = spawnNode(c, old, secret, admin);
		file.nodes[file.nodes.indexOf(old)] = fresh;
		writePidFile(c, file);
		await waitForRestarted(fresh, logFrom, file.gateways[0].replace("localhost", "127.0.0.1"), stoppedAt);
		console.log(
			`Restarted ${old.name} of the cluster "${c.namespace}" as ${fresh.nodeId} (pid ${fresh.pid}, was ${old.pid}${killed.length ? ", which needed SIGKILL" : ""}); the other nodes were left running.`,
		);
	}
}

async function clean(c: ClusterConfig): Promise<void> {
	const nodeIds = (readPidFile(c)?.nodes ?? []).map(n => n.nodeId);
	await stop(c);
	const ids = nodeIds.length ? nodeIds : nodeSpecs(c.ports).map(s => `${c.namespace}-${s.name}`);
	await deleteNamespaceWithTransport(c.namespace, c.transporter, c.cacher, ids);
	fs.rmSync(c.dataDir, { recursive: true, force: true });
	fs.rmSync(c.logDir, { recursive: true, force: true });
	console.log(`Removed the namespace "${c.namespace}": its RabbitMQ queues and exchanges, Redis keys, data and logs.`);
}

async function main(command: string | undefined): Promise<void> {
	loadDotEnv();
	const config = configOf(process.env);
	if (command === "start") await start(config);
	else if (command === "stop") await stop(config);
	else if (command === "clean") await clean(config);
	else if (command === "restart") await restart(config, process.argv[3]);
	else throw new ClusterError("Usage: node dist/bin/cluster.js start|stop|restart <node>|clean (npm run cluster, cluster:stop, cluster:restart <node>, cluster:clean)");
}

main(process.argv[2]).then(
	() => process.exit(0),
	(err: Error) => {
		console.error(err instanceof ClusterError ? err.message : err);
		process.exit(1);
	},
);
