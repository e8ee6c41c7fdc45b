/**
 * Child processes and everything else the benchmark must undo, whatever
 * happens: each child is tracked from its spawn, each clean-up step is
 * registered before the thing it undoes exists, and `cleanUp()` runs them
 * all (newest first) on success, on failure and on Ctrl-C.
 */
import { fork, spawn, type ChildProcess } from "child_process";
import fs from "fs";
import net from "net";
import os from "os";
import path from "path";
import { procStat, sleep, tail } from "../bin/lib/processes";

const live = new Set<ChildProcess>();
const steps: Array<{ name: string; run: () => Promise<void> }> = [];

/** Where the children's stdout and stderr go; kept after the run for reading. */
export const LOG_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "moleculer-bench-logs-"));

/** Registers a clean-up step; the returned function runs it now (once) and unregisters it. */
export function onCleanUp(name: string, run: () => Promise<void> | void): () => Promise<void> {
	let done: Promise<void> | undefined;
	const step = {
		name,
		run: () => (done ??= Promise.resolve().then(run)),
	};
	steps.push(step);
	return async () => {
		const i = steps.indexOf(step);
		if (i >= 0) steps.splice(i, 1);
		await step.run();
	};
}

/** Runs every registered step, newest first; a failing step does not stop the others. */
export async function cleanUp(): Promise<void> {
	while (steps.length) {
		const step = steps.pop()!;
		try {
			await step.run();
		} catch (err) {
			console.error(`clean-up "${step.name}" failed:`, (err as Error).message);
		}
	}
	// Anything a failed step left running.
	await Promise.all([...live].map(child => stopChild(child, 2000)));
}

// Last resort when the process exits without cleaning up (an exit() elsewhere): no child outlives the benchmark.
process.on("exit", () => {
	for (const child of live) child.kill("SIGKILL");
});

export interface Child {
	name: string;
	proc: ChildProcess;
	log: string;
	/** Set when the process exited, with how. */
	exited?: string;
	/** Whether its exit is expected (it was told to stop). */
	stopping: boolean;
}

function track(name: string, proc: ChildProcess, log: string): Child {
	const child: Child = { name, proc, log, stopping: false };
	live.add(proc);
	proc.once("exit", (code, signal) => {
		live.delete(proc);
		child.exited = signal ? `signal ${signal}` : `code ${code}`;
	});
	return child;
}

function logFile(name: string): { path: string; fd: number } {
	const file = path.join(LOG_DIR, `${name.replace(/[^A-Za-z0-9._-]/g, "_")}.log`);
	return { path: file, fd: fs.openSync(file, "a") };
}

/** A Node process (a node of the system under test or a baseline), its output in a log file. */
export function spawnNode(name: string, args: string[], env: Record<string, string>, cwd: string, { ipc = false } = {}): Child {
	const log = logFile(name);
	const stdio: Array<"ignore" | "ipc" | number> = ["ignore", log.fd, log.fd, ...(ipc ? (["ipc"] as const) : [])];
	const proc = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, stdio });
	fs.closeSync(log.fd);
	return track(name, proc, log.path);
}

/** A compiled helper of the benchmark (bench/*.js) with an IPC channel. */
export function forkHelper(name: string, modulePath: string, env: Record<string, string> = {}): Child {
	const log = logFile(name);
	const proc = fork(modulePath, [], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, stdio: ["ignore", log.fd, log.fd, "ipc"] });
	fs.closeSync(log.fd);
	return track(name, proc, log.path);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export function stopChild(proc: ChildProcess, graceMs = 10_000): Promise<void> {
	return new Promise(resolve => {
		if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
		const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
		proc.once("exit", () => (clearTimeout(timer), resolve()));
		proc.kill("SIGTERM");
	});
}

/** Throws, with the end of its log, if a child that should be running has exited. */
export function assertRunning(children: Child[]): void {
	for (const child of children) {
		if (child.exited && !child.stopping) {
			const hint = child.exited === "code 0" ? " (a node ends with code 0 on SIGTERM or SIGINT: was it signalled from outside?)" : "";
			throw new Error(`${child.name} exited (${child.exited}) during the run${hint}; its log (${child.log}) ends:\n${tail(child.log)}`);
		}
	}
}

/** Known and harmless: @moleculer/channels' stale version check of amqplib. */
const KNOWN_NOISE = [/amqplib library is not supported officially/];

/**
 * The warnings and errors in a child's log, by message (its timestamp
 * dropped), most frequent first: Moleculer's console logger prints
 * `[time] WARN ...`, and an uncaught error prints its name first.
 */
export function problems(file: string): Array<{ message: string; count: number }> {
	let text = "";
	try {
		text = fs.readFileSync(file, "utf8");
	} catch {
		return [];
	}
	const counts = new Map<string, number>();
	for (const line of text.split("\n")) {
		const isProblem = /^\[[^\]]+\]\s+(WARN|ERROR|FATAL)\s/.test(line) || /^(\w*Error|Unhandled|FATAL)/.test(line);
		if (!isProblem || KNOWN_NOISE.some(re => re.test(line))) continue;
		// Ids and numbers vary from one occurrence to the next; the message is what repeats.
		const message = line
			.replace(/^\[[^\]]+\]\s+/, "")
			.replace(/\b[0-9a-f]{8,}\b|\b[\w-]{20,}\b/gi, "…")
			.replace(/\d+/g, "N")
			.slice(0, 220);
		counts.set(message, (counts.get(message) ?? 0) + 1);
	}
	return [...counts].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count);
}

export { freePort } from "../bin/lib/processes";
export { sleep, tail };

export function waitForPort(port: number, timeoutMs = 30_000, child?: Child): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	return new Promise((resolve, reject) => {
		const attempt = () => {
			if (child?.exited) return reject(new Error(`${child.name} exited (${child.exited}) before listening; its log ends:\n${tail(child.log)}`));
			const socket = net.connect(port, "127.0.0.1");
			socket.once("connect", () => (socket.destroy(), resolve()));
			socket.once("error", () => (Date.now() > deadline ? reject(new Error(`port ${port} never opened`)) : setTimeout(attempt, 50)));
		};
		attempt();
	});
}

/** Resident memory of a process in bytes, from /proc/<pid>/status (VmRSS). */
export function rssBytes(pid: number): number {
	const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
	const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
	if (!match) throw new Error(`no VmRSS for pid ${pid}`);
	return Number(match[1]) * 1024;
}

/** CPU seconds a process has used so far (user + system), from /proc/<pid>/stat; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
	const fields = procStat(pid);
	return fields ? (Number(fields[11]) + Number(fields[12])) / 100 : 0;
}

interface QuietOptions {
	busyFraction: number;
	windowMs: number;
	timeoutMs: number;
}

/** Waits until `cpu` (seconds used so far) grows by under `busyFraction` of a core over a window; resolves with the ms it waited. */
async function waitForQuiet(cpu: () => number, { busyFraction, windowMs, timeoutMs }: QuietOptions): Promise<number> {
	const start = Date.now();
	let before = cpu();
	for (;;) {
		await sleep(windowMs);
		const after = cpu();
		if ((after - before) / (windowMs / 1000) < busyFraction || Date.now() - start > timeoutMs) return Date.now() - start;
		before = after;
	}
}

/**
 * Waits until the processes together use under `busyFraction` of a core
 * (a system's background work after a load: events, channels, analytics),
 * so that it does not run into the next contender's measurement.
 * Resolves with the ms it waited.
 */
export function waitUntilAllQuiet(children: Child[], { busyFraction = 0.15, windowMs = 300, timeoutMs = 15_000 } = {}): Promise<number> {
	const total = () => children.reduce((sum, c) => sum + (c.exited || !c.proc.pid ? 0 : cpuSeconds(c.proc.pid)), 0);
	return waitForQuiet(total, { busyFraction, windowMs, timeoutMs });
}

/** Waits until a process uses under `busyFraction` of a core for a while (its background work after a load is done). */
export function waitUntilQuiet(pid: number, { busyFraction = 0.1, windowMs = 500, timeoutMs = 30_000 } = {}): Promise<number> {
	return waitForQuiet(() => cpuSeconds(pid), { busyFraction, windowMs, timeoutMs });
}
