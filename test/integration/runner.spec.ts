import { spawn, type ChildProcess } from "child_process";
import fs from "fs";
import net from "net";
import os from "os";
import path from "path";
import { stripVTControlCharacters } from "util";
import { waitFor } from "../helpers/broker";
import { HEALTH_POLL_MS, freePort } from "../helpers/cluster";
import { HttpClient } from "../helpers/http";

const ROOT = path.resolve(__dirname, "../..");
const RUNNER = path.join(ROOT, "dist/bin/runner.js");

/** A node started as `npm start` / `npm run repl` / `npm run dev` start it, its output kept. */
function node(args: string[], env: Record<string, string>, opts: { cwd?: string; tsx?: boolean } = {}) {
	const command = opts.tsx ? ["--import", "tsx", path.join(ROOT, "bin/runner.ts"), ...args] : [RUNNER, ...args];
	const proc = spawn(process.execPath, command, {
		cwd: opts.cwd ?? ROOT,
		env: { PATH: process.env.PATH, JWT_SECRET: "runner-test-secret-0123456789", BCRYPT_ROUNDS: "4", ...env },
		stdio: ["pipe", "pipe", "pipe"],
	});
	const output: string[] = [];
	proc.stdout.on("data", (c: Buffer) => output.push(c.toString()));
	proc.stderr.on("data", (c: Buffer) => output.push(c.toString()));
	const exited = new Promise<number | null>(resolve => proc.once("exit", code => resolve(code)));
	const text = () => stripVTControlCharacters(output.join(""));
	return { proc, text, exited, stop: () => stop(proc, exited) };
}

async function stop(proc: ChildProcess, exited: Promise<number | null>): Promise<number | null> {
	if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
	return exited;
}

describe("the runner: settings, .env, MOL_* overrides, the REPL, dev mode", () => {
	const dirs: string[] = [];
	const tempDir = () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-"));
		dirs.push(dir);
		return dir;
	};
	afterAll(() => dirs.forEach(d => fs.rmSync(d, { recursive: true, force: true })));

	it("stops a node with a bad setting, naming the variable", async () => {
		const n = node([], { PORT: "not-a-port", DATA_DIR: ":memory:" });
		expect(await n.exited).toBe(1);
		expect(n.text()).toMatch(/Invalid environment: PORT="not-a-port"/);
		expect(n.text()).not.toMatch(/\n\s+at /);
	});

	it("stops a node whose port is taken, with a message naming the port", async () => {
		const port = await freePort();
		const taken = net.createServer().listen(port, "127.0.0.1");
		await new Promise(resolve => taken.once("listening", resolve));
		try {
			const n = node([], { PORT: String(port), HOST: "127.0.0.1", DATA_DIR: ":memory:" });
			const code = await Promise.race([n.exited, new Promise(resolve => setTimeout(() => resolve("still running"), 30_000))]);
			if (code === "still running") await n.stop();
			expect(code).toBe(1);
			expect(n.text()).toMatch(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use`));
		} finally {
			taken.close();
		}
	});

	it("keeps a generated JWT secret in DATA_DIR (0600) outside production, so a restart signs nobody out", async () => {
		const dataDir = path.join(tempDir(), "data");
		const port = await freePort();
		const http = new HttpClient(`http://127.0.0.1:${port}/api`);
		const healthy = () => waitFor(async () => (await http.get("/health").catch(() => null))?.status === 200, 30_000, "the node's health");
		const first = node([], { PORT: String(port), DATA_DIR: dataDir, JWT_SECRET: "" });
		let token: string;
		try {
			await healthy();
			token = (await http.post("/auth/register", { name: "Kept", email: "kept@runner.test", password: "password-1" })).body.token as string;
			expect((await http.get("/customers/me", token)).status).toBe(200);
		} finally {
			await first.stop();
		}
		expect(first.text()).toMatch(/JWT_SECRET is not set: .*kept in .*jwt-secret/);
		expect(fs.statSync(path.join(dataDir, "jwt-secret")).mode & 0o777).toBe(0o600);
		const second = node([], { PORT: String(port), DATA_DIR: dataDir, JWT_SECRET: "" });
		try {
			await healthy();
			expect((await http.get("/customers/me", token)).status).toBe(200);
		} finally {
			await second.stop();
		}
		const production = node([], { PORT: String(port), DATA_DIR: dataDir, JWT_SECRET: "", NODE_ENV: "production" });
		expect(await production.exited).toBe(1);
		expect(production.text()).toMatch(/JWT_SECRET must be set when NODE_ENV=production/);
	});

	it("loads .env from the working directory, the environment winning over it, and MOL_* overrides but never the transporter", async () => {
		const cwd = tempDir();
		const [filePort, envPort] = [await freePort(), await freePort()];
		fs.writeFileSync(path.join(cwd, ".env"), `PORT=${filePort}\nRATE_LIMIT_MAX=70\nDATA_DIR=${path.join(cwd, "data")}\n`);
		const n = node([], { PORT: String(envPort), MOL_LOG_LEVEL: "debug", MOL_TRANSPORTER: "nats://127.0.0.1:1" }, { cwd });
		try {
			const http = new HttpClient(`http://127.0.0.1:${envPort}/api`);
			const res = await waitFor(
				async () => {
					const r = await http.get("/health");
					return r.status === 200 ? r : null;
				},
				30_000,
				"the node on the environment's port",
				HEALTH_POLL_MS,
			);
			expect(res.status).toBe(200);
			expect((await http.get("/categories")).headers.get("x-rate-limit-limit")).toBe("70");
			expect(n.text()).toMatch(/DEBUG/);
			expect(n.text()).not.toMatch(/Transporter: NatsTransporter/);
		} finally {
			expect(await n.stop()).toBe(0);
		}
	}, 60_000);

	it("gives `npm run repl` a prompt next to a running node, on its own store and without a gateway, and quits cleanly", async () => {
		const dataDir = tempDir();
		const port = await freePort();
		const running = node([], { PORT: String(port), DATA_DIR: dataDir, ADMIN_EMAIL: "admin@runner.test", ADMIN_PASSWORD: "admin-password" });
		try {
			await waitFor(() => /started successfully/.test(running.text()), 30_000, "the running node");
			const repl = node(["--repl"], { PORT: String(port), DATA_DIR: dataDir, NO_COLOR: "1" });
			await waitFor(() => repl.text().includes("mol $"), 30_000, "the REPL prompt");
			expect(repl.text()).toMatch(/is running on .*: this REPL starts its own services on an empty in-memory store/);
			expect(repl.text()).not.toMatch(/EADDRINUSE/);
			repl.proc.stdin.write("call products.list --pageSize 2\n");
			await waitFor(() => /pageSize: 2/.test(repl.text()), 20_000, "the products.list answer");
			repl.proc.stdin.write("quit\n");
			expect(await repl.exited).toBe(0);
			expect(repl.text()).not.toMatch(/Channel ended|\n\s+at .+:\d+/);
			// A second node on the same data directory is refused, saying why.
			const second = node([], { PORT: String(await freePort()), DATA_DIR: dataDir });
			expect(await second.exited).toBe(1);
			expect(second.text()).toMatch(/is in use by another node \(pid \d+\)/);
			// The running node kept its own data and port.
			expect((await new HttpClient(`http://127.0.0.1:${port}/api`).get("/health")).status).toBe(200);
		} finally {
			await running.stop();
		}
	}, 90_000);

	it("runs `npm run dev` from the TypeScript sources, with the gateway and the REPL (reloading: dev-reload.spec.ts, on a copy of the project)", async () => {
		const port = await freePort();
		const dev = node(["--hot", "--repl"], { PORT: String(port), DATA_DIR: tempDir(), NO_COLOR: "1" }, { tsx: true });
		try {
			await waitFor(
				async () => (await new HttpClient(`http://127.0.0.1:${port}/api`).get("/health").catch(() => ({ status: 0 }))).status === 200,
				60_000,
				"the dev node's gateway",
				HEALTH_POLL_MS,
			);
			await waitFor(() => dev.text().includes("mol $"), 10_000, "the REPL prompt");
			dev.proc.stdin.write("quit\n");
			expect(await dev.exited).toBe(0);
		} finally {
			await dev.stop();
		}
	}, 120_000);
});
