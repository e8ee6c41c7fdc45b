/**
 * Starting and stopping the systems under test, each in child processes as
 * `npm run serve` would start them, and seeding them over HTTP.
 */
import crypto from "crypto";
import { BACKEND_SERVICES, HEALTH_NAMES } from "../lib/contracts/services";
import fs from "fs";
import os from "os";
import path from "path";
import { deleteNamespaceWithTransport } from "../bin/lib/namespace-cleanup";
import { json, pool, request } from "./client";
import { ADMIN, AMQP_URL, BASELINES, NODE_ENV, REDIS_URL, ROOT, RUNNER, settings } from "./config";
import { freePort, onCleanUp, sleep, spawnNode, stopChild, tail, waitForPort, type Child } from "./procs";

export interface System {
	/** Short name in the table. */
	label: string;
	/** Origin, for Socket.IO: http://127.0.0.1:<port> */
	origin: string;
	/** REST base: <origin>/api */
	base: string;
	children: Child[];
	stop(): Promise<void>;
}

/** The health labels of the services (API.md, Health). */
export const HEALTH_LABEL: Record<string, string> = HEALTH_NAMES;
/** Every service behind the gateway (lib/contracts/services.ts): a new one is started and awaited without a change here. */
export const ALL_SERVICES: string[] = [...BACKEND_SERVICES];

function tempDir(prefix: string): { dir: string; remove: () => void } {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
	return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Stops the children (all at once), marking their exit as expected. */
async function stopAll(children: Child[]): Promise<void> {
	for (const c of children) c.stopping = true;
	await Promise.all(children.map(c => stopChild(c.proc)));
}

/** One node of the shop: dist/bin/runner.js with the bench environment. */
export function startShopNode(name: string, env: Record<string, string>, { nodeArgs = [] as string[], ipc = false } = {}): Child {
	const prof = settings.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${path.join(settings.cpuProfDir, name.replace(/[^A-Za-z0-9._-]/g, "_"))}`] : [];
	return spawnNode(name, [...prof, ...nodeArgs, RUNNER], { ...NODE_ENV, ...env }, ROOT, { ipc });
}

/**
 * Resolves once the gateway answers /api/health with each of `services`
 * running and every dependency it names up (a partial cluster answers 503
 * for the services it lacks, so the status code alone cannot tell).
 */
export async function waitForHealth(base: string, services: string[], children: Child[], { timeoutMs = 60_000, pollMs = 100 } = {}): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	let last = "no answer";
	for (;;) {
		for (const c of children) {
			if (c.exited) throw new Error(`${c.name} exited (${c.exited}) while starting; its log ends:\n${tail(c.log)}`);
		}
		try {
			const res = await request("GET", `${base}/health`);
			last = `${res.status} ${JSON.stringify(res.body)}`;
			const states = res.body?.services ?? {};
			const deps = Object.values(res.body?.dependencies ?? {});
			// A partial cluster answers 503 for the services it lacks; a whole system must answer 200.
			const whole = ALL_SERVICES.every(s => services.includes(s));
			if ((!whole || res.status === 200) && services.every(s => states[HEALTH_LABEL[s]] === "running") && deps.every(d => d === "up" || d === "none")) return;
		} catch (err) {
			last = (err as Error).message;
		}
		if (Date.now() > deadline) throw new Error(`${base}: not healthy after ${timeoutMs / 1000} s (last answer: ${last})`);
		await sleep(pollMs);
	}
}

/** Everything in one process, NeDB files in a temporary DATA_DIR: the embedded default. */
export async function startEmbedded(label = "embedded", env: Record<string, string> = {}, services = ALL_SERVICES): Promise<System> {
	const port = await freePort();
	const data = tempDir("bench-embedded-");
	const removeData = onCleanUp(`data of ${label}`, data.remove);
	const node = startShopNode(`${label}-${port}`, { PORT: String(port), DATA_DIR: data.dir, ...env });
	const stopNode = onCleanUp(label, () => stopAll([node]));
	const origin = `http://127.0.0.1:${port}`;
	await waitForPort(port, 60_000, node);
	await waitForHealth(`${origin}/api`, services, [node]);
	return { label, origin, base: `${origin}/api`, children: [node], stop: async () => (await stopNode(), await removeData()) };
}

/**
 * A cluster over the local RabbitMQ (AMQP transporter) and Redis (cacher,
 * hence the Redis rate-limit store and Socket.IO adapter): a gateway node
 * and one node per service in `services`, in a namespace of its own that is
 * deleted afterwards.
 */
export async function startCluster(label: string, services: string[]): Promise<System> {
	const port = await freePort();
	const namespace = `bench${crypto.randomBytes(4).toString("hex")}`;
	const data = tempDir("bench-cluster-");
	const env = { NAMESPACE: namespace, TRANSPORTER: AMQP_URL, CACHER: REDIS_URL };
	const nodeIds = [...services, "api"].map(s => `${namespace}-${s}`);
	// Registered first, so it runs last: after the nodes are gone.
	const removeNamespace = onCleanUp(`namespace ${namespace}`, async () => {
		await deleteNamespaceWithTransport(namespace, AMQP_URL, REDIS_URL, nodeIds);
		data.remove();
	});
	const children: Child[] = [];
	const stopNodes = onCleanUp(label, () => stopAll(children));
	for (const service of services) {
		children.push(startShopNode(`${namespace}-${service}`, { ...env, SERVICES: service, NODE_ID: `${namespace}-${service}`, DATA_DIR: path.join(data.dir, service) }));
	}
	children.push(startShopNode(`${namespace}-api`, { ...env, SERVICES: "api", NODE_ID: `${namespace}-api`, PORT: String(port), DATA_DIR: path.join(data.dir, "api") }));
	const origin = `http://127.0.0.1:${port}`;
	await waitForPort(port, 60_000, children[children.length - 1]);
	await waitForHealth(`${origin}/api`, services, children);
	return {
		label,
		origin,
		base: `${origin}/api`,
		children,
		stop: async () => {
			await stopNodes();
			await removeNamespace();
		},
	};
}

/** A one-process baseline from bench/baselines/ answering `productJson` on GET /api/products/:id. */
async function startBaseline(label: string, script: string, productJson: string): Promise<System> {
	const port = await freePort();
	const child = spawnNode(`${script.replace(/\.js$/, "")}-${port}`, [path.join(BASELINES, script)], { PORT: String(port), PRODUCT_JSON: productJson }, ROOT);
	const stop = onCleanUp(label, () => stopAll([child]));
	await waitForPort(port, 30_000, child);
	const origin = `http://127.0.0.1:${port}`;
	return { label, origin, base: `${origin}/api`, children: [child], stop };
}

/** A bare node:http server answering `productJson` to every request. */
export function startBare(productJson: string): Promise<System> {
	return startBaseline("bare node:http", "bare.js", productJson);
}

/** Moleculer-web's floor: one local action answering the same JSON, with none of the shop's guards. */
export function startFloor(productJson: string): Promise<System> {
	return startBaseline("moleculer-web floor", "moleculer-web-floor.js", productJson);
}

/** The seed's shape: an Express gateway proxying with axios to an Express products service. */
export async function startPeer(productJson: string): Promise<System> {
	const [gatewayPort, productsPort] = [await freePort(), await freePort()];
	const products = spawnNode(`peer-products-${productsPort}`, [path.join(BASELINES, "peer-products.js")], { PORT: String(productsPort), PRODUCT_JSON: productJson }, ROOT);
	const gateway = spawnNode(`peer-gateway-${gatewayPort}`, [path.join(BASELINES, "peer-gateway.js")], { PORT: String(gatewayPort), UPSTREAM: `http://127.0.0.1:${productsPort}` }, ROOT);
	const stop = onCleanUp("peer (express + axios)", () => stopAll([gateway, products]));
	await Promise.all([waitForPort(productsPort, 30_000, products), waitForPort(gatewayPort, 30_000, gateway)]);
	const origin = `http://127.0.0.1:${gatewayPort}`;
	return { label: "peer: express + axios", origin, base: `${origin}/api`, children: [gateway, products], stop };
}

export interface Customer {
	id: string;
	token: string;
}

export interface Seeded {
	admin: string;
	productIds: string[];
	customers: Customer[];
}

let seedRound = 0;

/** Logs the admin in, creates products (ample stock) and registers customers, a few requests at a time. */
export async function seed(base: string, { products, customers, concurrency = 8 }: { products: number; customers: number; concurrency?: number }): Promise<Seeded> {
	const round = `${process.pid}-${++seedRound}`;
	const admin = (await json("POST", `${base}/auth/login`, ADMIN)).token as string;
	const productIds = await pool(range(products), concurrency, async i => {
		const p = await json("POST", `${base}/products`, { sku: `BENCH-${round}-${i}`, name: `Bench product ${i}`, category: `bench-${i % 10}`, priceCents: 100 + i, stock: 1_000_000_000 }, admin);
		return p.id as string;
	});
	const registered = await pool(range(customers), concurrency, async i => {
		const r = await json("POST", `${base}/auth/register`, { name: `Buyer ${i}`, email: `buyer-${round}-${i}@bench.test`, password: "password-1" });
		return { id: r.customer.id as string, token: r.token as string };
	});
	return { admin, productIds, customers: registered };
}

export function range(n: number): number[] {
	return Array.from({ length: n }, (_, i) => i);
}
