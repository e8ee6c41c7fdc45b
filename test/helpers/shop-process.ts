import { spawn } from "child_process";
import fs from "fs";
import path from "path";
import { testStoreEnv } from "./mongo";

const ROOT = path.resolve(__dirname, "../..");
const RUNNER = path.join(ROOT, "dist/bin/runner.js");
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

export interface ShopProcess {
	url: string;
	output: string[];
	/** SIGTERM, then SIGKILL if it has not exited in 15 s; resolves once it has exited. */
	stop(): Promise<void>;
	/** SIGKILL, as kill -9; resolves once it has exited. */
	kill(): Promise<void>;
	/** Resolves with how the process ended: its exit code, or the signal that ended it. */
	exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The whole system as `npm start` runs it once built: `node dist/bin/runner.js`
 * on the embedded default (no TRANSPORTER, no CACHER), every service in one
 * process. Resolves once the broker says it started.
 */
export async function startShopProcess(opts: { port: number; dataDir: string; env: Record<string, string> }): Promise<ShopProcess> {
	if (!fs.existsSync(RUNNER)) throw new Error("dist/ is missing: run `npm run build` (npm test does it)");
	const proc = spawn(process.execPath, [RUNNER], {
		cwd: ROOT,
		env: { PATH: process.env.PATH, PORT: String(opts.port), DATA_DIR: opts.dataDir, LOG_LEVEL: "info", ...testStoreEnv(opts.dataDir), ...opts.env },
		stdio: ["ignore", "pipe", "pipe"],
	});
	const output: string[] = [];
	const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve => proc.once("exit", (code, signal) => resolve({ code, signal })));
	const running = () => proc.exitCode === null && proc.signalCode === null;
	const stop = async () => {
		if (!running()) return;
		proc.kill("SIGTERM");
		const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
		await exited;
		clearTimeout(timer);
	};

	await new Promise<void>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`The shop did not start in ${START_TIMEOUT_MS / 1000} s:\n${output.join("")}`)), START_TIMEOUT_MS);
		proc.stdout.on("data", (chunk: Buffer) => {
			output.push(chunk.toString());
			if (/started successfully/.test(chunk.toString())) {
				clearTimeout(timer);
				resolve();
			}
		});
		proc.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString()));
		proc.once("exit", code => {
			clearTimeout(timer);
			reject(new Error(`The shop exited (${code}) before starting:\n${output.join("")}`));
		});
	}).catch(async err => {
		await stop();
		throw err;
	});
	const kill = async () => {
		if (running()) proc.kill("SIGKILL");
		await exited;
	};
	return { url: `http://127.0.0.1:${opts.port}`, output, stop, kill, exited };
}
