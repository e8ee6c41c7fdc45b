/**
 * Load benchmarks, printed as figures and as ratios to a bare node:http
 * server measured in the same run on the same machine.
 *
 *   npm run bench                       # every scenario
 *   npm run bench -- read orders        # some of them: bare, read, orders, cluster
 *   BENCH_DURATION=10 BENCH_CONNECTIONS=50 npm run bench
 *
 * Each figure follows a 2 s warm-up with the same load.
 *
 * The load generator (autocannon) runs in this process; each system under
 * test runs in child processes, as `npm run serve` would start it.
 */
import autocannon from "autocannon";
import { spawn, type ChildProcess } from "child_process";
import crypto from "crypto";
import fs from "fs";
import net from "net";
import os from "os";
import path from "path";
import { deleteNamespace } from "../bin/namespace-cleanup";

const ROOT = path.resolve(__dirname, "../..");
const RUNNER = path.join(ROOT, "dist/bin/runner.js");
const DURATION = Number(process.env.BENCH_DURATION) || 10;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS) || 50;
const AMQP_URL = process.env.BENCH_AMQP_URL || "amqp://guest:guest@127.0.0.1:5672";
const REDIS_URL = process.env.BENCH_REDIS_URL || "redis://127.0.0.1:6379";

interface Figures {
	name: string;
	rps: number;
	p50: number;
	p99: number;
	errors: number;
	non2xx: number;
}

const results: Figures[] = [];

function freePort(): Promise<number> {
	return new Promise(resolve => {
		const srv = net.createServer().listen(0, "127.0.0.1", () => {
			const { port } = srv.address() as net.AddressInfo;
			srv.close(() => resolve(port));
		});
	});
}

const WARMUP_SECONDS = 2;
const BUYERS = 200;

/** One figure: a short warm-up (JIT, caches), then the measured run. */
async function load(name: string, opts: autocannon.Options): Promise<Figures> {
	await autocannon({ connections: CONNECTIONS, duration: WARMUP_SECONDS, ...opts });
	const res = await autocannon({ connections: CONNECTIONS, duration: DURATION, ...opts });
	const figures = { name, rps: Math.round(res.requests.average), p50: res.latency.p50, p99: res.latency.p99, errors: res.errors + res.timeouts, non2xx: res.non2xx };
	results.push(figures);
	console.log(`${name.padEnd(44)} ${String(figures.rps).padStart(7)} req/s   p50 ${figures.p50} ms   p99 ${figures.p99} ms   errors ${figures.errors}   non-2xx ${figures.non2xx}`);
	return figures;
}

/** A bare node:http server answering the JSON of a product read. */
async function bare(): Promise<Figures> {
	const product = JSON.stringify({
		id: "p1",
		sku: "BENCH-1",
		name: "Bench",
		description: "",
		category: "bench",
		priceCents: 100,
		stock: 10,
		lowStockThreshold: 5,
		createdAt: new Date().toISOString(),
		updatedAt: new Date().toISOString(),
	});
	const port = await freePort();
	const child = spawn(process.execPath, [
		"-e",
		`require("http").createServer((q, s) => { s.writeHead(200, { "Content-Type": "application/json" }); s.end(${JSON.stringify(product)}); }).listen(${port}, "127.0.0.1")`,
	]);
	await waitForPort(port);
	try {
		return await load("bare node:http, same JSON", { url: `http://127.0.0.1:${port}/api/products/p1` });
	} finally {
		child.kill();
	}
}

function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	return new Promise((resolve, reject) => {
		const attempt = () => {
			const socket = net.connect(port, "127.0.0.1");
			socket.once("connect", () => (socket.destroy(), resolve()));
			socket.once("error", () => (Date.now() > deadline ? reject(new Error(`port ${port} never opened`)) : setTimeout(attempt, 100)));
		};
		attempt();
	});
}

interface System {
	base: string;
	stop(): Promise<void>;
}

function startNode(env: Record<string, string>): ChildProcess {
	const child = spawn(process.execPath, [RUNNER], { cwd: ROOT, env: { PATH: process.env.PATH, LOG_LEVEL: "warn", ...env }, stdio: ["ignore", "ignore", "inherit"] });
	return child;
}

async function stopAll(children: ChildProcess[]) {
	await Promise.all(
		children.map(
			c =>
				new Promise<void>(resolve => {
					if (c.exitCode !== null) return resolve();
					c.once("exit", () => resolve());
					c.kill("SIGTERM");
				}),
		),
	);
}

const COMMON = { RATE_LIMIT_MAX: "100000000", JWT_SECRET: "bench-secret", ADMIN_EMAIL: "admin@bench.test", ADMIN_PASSWORD: "admin-password", BCRYPT_ROUNDS: "4" };

/** Everything in one process on the embedded default. */
async function embedded(): Promise<System> {
	const port = await freePort();
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-"));
	const child = startNode({ ...COMMON, PORT: String(port), DATA_DIR: dataDir });
	await waitForPort(port);
	return { base: `http://127.0.0.1:${port}/api`, stop: async () => (await stopAll([child]), fs.rmSync(dataDir, { recursive: true, force: true })) };
}

/** One process per service over the local RabbitMQ and Redis. */
async function cluster(): Promise<System> {
	const port = await freePort();
	const namespace = `bench${crypto.randomBytes(3).toString("hex")}`;
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-"));
	const env = { ...COMMON, NAMESPACE: namespace, TRANSPORTER: AMQP_URL, CACHER: REDIS_URL };
	const children = ["customers", "products", "orders", "alerts", "analytics"].map(s => startNode({ ...env, SERVICES: s, NODE_ID: `${namespace}-${s}`, DATA_DIR: path.join(dataDir, s) }));
	children.push(startNode({ ...env, SERVICES: "api", NODE_ID: `${namespace}-api`, PORT: String(port), DATA_DIR: path.join(dataDir, "api") }));
	await waitForPort(port);
	return {
		base: `http://127.0.0.1:${port}/api`,
		stop: async () => {
			await stopAll(children);
			await deleteNamespace(namespace, AMQP_URL, REDIS_URL);
			fs.rmSync(dataDir, { recursive: true, force: true });
		},
	};
}

async function json(method: string, url: string, body?: unknown, token?: string): Promise<any> {
	const res = await fetch(url, {
		method,
		headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
	return JSON.parse(text);
}

async function waitForHealthy(base: string) {
	const deadline = Date.now() + 60_000;
	for (;;) {
		try {
			const res = await fetch(`${base}/health`);
			if (res.status === 200) return;
		} catch {
			// not up yet
		}
		if (Date.now() > deadline) throw new Error("the system did not become healthy");
		await new Promise(r => setTimeout(r, 200));
	}
}

let seedRound = 0;

async function seed(base: string, products: number) {
	const round = ++seedRound;
	const admin = (await json("POST", `${base}/auth/login`, { email: "admin@bench.test", password: "admin-password" })).token;
	const ids: string[] = [];
	for (let i = 0; i < products; i++) {
		ids.push((await json("POST", `${base}/products`, { sku: `BENCH-${round}-${i}`, name: `Bench ${i}`, category: "bench", priceCents: 100 + i, stock: 100_000_000 }, admin)).id);
	}
	const tokens: string[] = [];
	for (let i = 0; i < BUYERS; i++) {
		tokens.push((await json("POST", `${base}/auth/register`, { name: `Buyer ${i}`, email: `buyer${round}-${i}@bench.test`, password: "password-1" })).token);
	}
	return { admin, ids, tokens };
}

async function cachedRead(system: System, label: string) {
	const { ids } = await seed(system.base, 1);
	await json("GET", `${system.base}/products/${ids[0]}`);
	return load(`cached product read, ${label}`, { url: `${system.base}/products/${ids[0]}` });
}

async function orders(system: System, label: string) {
	const { ids, tokens } = await seed(system.base, 20);
	let n = 0;
	return load(`orders placed, ${label}`, {
		url: `${system.base}/orders`,
		method: "POST",
		requests: [
			{
				setupRequest: (req: any) => {
					n++;
					return {
						...req,
						headers: { "content-type": "application/json", authorization: `Bearer ${tokens[n % tokens.length]}` },
						body: JSON.stringify({
							items: [
								{ productId: ids[n % ids.length], quantity: 1 },
								{ productId: ids[(n + 7) % ids.length], quantity: 2 },
							],
						}),
					};
				},
			},
		],
	});
}

async function main() {
	const wanted = new Set(process.argv.slice(2).length ? process.argv.slice(2) : ["bare", "read", "orders", "cluster"]);
	console.log(`autocannon: ${CONNECTIONS} connections, ${DURATION} s per figure, ${os.cpus().length} cores shared with the servers\n`);
	const baseline = wanted.has("bare") || wanted.has("read") ? await bare() : undefined;

	if (wanted.has("read") || wanted.has("orders")) {
		const system = await embedded();
		try {
			await waitForHealthy(system.base);
			if (wanted.has("read")) {
				const read = await cachedRead(system, "embedded default");
				if (baseline) console.log(`  ratio to bare node:http: ${(read.rps / baseline.rps).toFixed(2)} (budget: 0.50 or better)`);
			}
			if (wanted.has("orders")) {
				const placed = await orders(system, "embedded default");
				console.log(`  budget: 2000 orders/s, p99 under 50 ms -> ${placed.rps >= 2000 && placed.p99 < 50 ? "met" : "NOT met"}`);
			}
		} finally {
			await system.stop();
		}
	}

	if (wanted.has("cluster")) {
		const system = await cluster();
		try {
			await waitForHealthy(system.base);
			const placed = await orders(system, "one process per service");
			console.log(`  budget: 1000 orders/s, p99 under 50 ms -> ${placed.rps >= 1000 && placed.p99 < 50 ? "met" : "NOT met"}`);
		} finally {
			await system.stop();
		}
	}
	console.log(`\n${JSON.stringify(results)}`);
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
