/**
 * A restart storm with fresh node ids (a rescheduled pod, a supervisor that
 * names nodes by pid): on a cluster (customers, products, orders, a gateway,
 * each its own process), the products node is killed with SIGKILL every
 * BENCH_STORM_EVERY seconds and started again at once under a new node id on
 * the same data, while workers read products and place orders. The figure is
 * the share of those requests answered 503: before (DEAD_NODE_PROBE_MS=0, a
 * dead node is found by its missed heartbeats only, 8 s) and after (the
 * nodes ask RabbitMQ every 500 ms whether the nodes they know are still
 * connected), interleaved on two clusters.
 */
import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import { deleteNamespaceWithTransport } from "../../bin/lib/namespace-cleanup";
import { request } from "../client";
import { AMQP_URL, REDIS_URL, settings } from "../config";
import { interleave, median, percentile, type Contender } from "../load";
import { freePort, onCleanUp, sleep, stopChild, waitForPort, type Child } from "../procs";
import { below, fmt, rows } from "../report";
import { seed, startShopNode, waitForHealth } from "../systems";

const env = process.env;
/** Seconds of storm per measured run, and seconds between two kills. */
const STORM_SECONDS = Number(env.BENCH_STORM_SECONDS) || 16;
const STORM_EVERY = Number(env.BENCH_STORM_EVERY) || 4;
const WORKERS = 20;
const SERVICES = ["customers", "products", "orders"];

interface StormRun {
	total: number;
	unavailable: number;
	share: number;
	/** Requests of each kind and status. */
	statuses: Record<string, number>;
	restarts: number;
	/** 2xx answers per second, and the slowest answers (ms): a call stuck on a dead node waits for its timeout. */
	okPerSecond: number;
	p99: number;
	max: number;
}

/** A cluster whose products node can be killed and replaced under a new id. */
class StormCluster {
	readonly namespace = `storm${crypto.randomBytes(4).toString("hex")}`;
	private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-storm-"));
	private readonly children: Child[] = [];
	private products?: Child;
	private generation = 0;
	private readonly nodeIds: string[] = [];
	base = "";

	constructor(
		readonly label: string,
		private readonly probeMs: number,
	) {}

	private env(service: string, nodeId: string): Record<string, string> {
		this.nodeIds.push(nodeId);
		return {
			NAMESPACE: this.namespace,
			TRANSPORTER: AMQP_URL,
			CACHER: REDIS_URL,
			SERVICES: service,
			NODE_ID: nodeId,
			DATA_DIR: path.join(this.dir, service),
			DEAD_NODE_PROBE_MS: String(this.probeMs),
		};
	}

	async start(): Promise<void> {
		onCleanUp(`namespace ${this.namespace}`, async () => {
			await deleteNamespaceWithTransport(this.namespace, AMQP_URL, REDIS_URL, this.nodeIds);
			fs.rmSync(this.dir, { recursive: true, force: true });
		});
		onCleanUp(this.label, () => this.stop());
		for (const service of SERVICES) {
			const child = startShopNode(`${this.namespace}-${service}`, this.env(service, `${this.namespace}-${service}`));
			this.children.push(child);
			if (service === "products") this.products = child;
		}
		const port = await freePort();
		const api = startShopNode(`${this.namespace}-api`, { ...this.env("api", `${this.namespace}-api`), PORT: String(port) });
		this.children.push(api);
		await waitForPort(port, 60_000, api);
		this.base = `http://127.0.0.1:${port}/api`;
		await waitForHealth(this.base, SERVICES, this.children);
	}

	/** SIGKILL to the products node, and at once a new one under a new id. */
	restartProducts(): void {
		if (this.products) {
			this.products.stopping = true;
			this.products.proc.kill("SIGKILL");
		}
		const nodeId = `${this.namespace}-products-${++this.generation}`;
		this.products = startShopNode(nodeId, this.env("products", nodeId));
		this.children.push(this.products);
	}

	async stop(): Promise<void> {
		for (const c of this.children) c.stopping = true;
		await Promise.all(this.children.map(c => stopChild(c.proc)));
	}
}

async function storm(cluster: StormCluster, tokens: string[], productIds: string[], seconds: number): Promise<StormRun> {
	const statuses: Record<string, number> = {};
	const count = (key: string) => (statuses[key] = (statuses[key] ?? 0) + 1);
	const latencies: number[] = [];
	let running = true;
	let n = 0;
	const worker = async () => {
		while (running) {
			const i = n++;
			const productId = productIds[i % productIds.length];
			try {
				const res =
					i % 2 === 0
						? await request("GET", `${cluster.base}/products/${productId}`)
						: await request("POST", `${cluster.base}/orders`, { items: [{ productId, quantity: 1 }] }, tokens[i % tokens.length]);
				count(`${i % 2 === 0 ? "read" : "order"} ${res.status}`);
				latencies.push(res.ms);
			} catch {
				count("no answer");
			}
		}
	};
	const workers = Array.from({ length: WORKERS }, worker);
	let restarts = 0;
	const ends = Date.now() + seconds * 1000;
	while (Date.now() < ends) {
		await sleep(Math.min(STORM_EVERY * 1000, ends - Date.now()));
		if (Date.now() >= ends) break;
		cluster.restartProducts();
		restarts++;
	}
	running = false;
	await Promise.all(workers);
	const total = Object.values(statuses).reduce((a, b) => a + b, 0);
	const unavailable = Object.entries(statuses)
		.filter(([k]) => k.endsWith(" 503") || k === "no answer")
		.reduce((a, [, v]) => a + v, 0);
	const ok = Object.entries(statuses)
		.filter(([k]) => / 2\d\d$/.test(k))
		.reduce((a, [, v]) => a + v, 0);
	return {
		total,
		unavailable,
		share: total ? unavailable / total : 0,
		statuses,
		restarts,
		okPerSecond: ok / seconds,
		p99: Math.round(percentile(latencies, 99)),
		max: Math.round(Math.max(0, ...latencies)),
	};
}

export async function stormScenario(): Promise<void> {
	const clusters = [new StormCluster("before: heartbeats only", 0), new StormCluster("after: dead-node probe", 500)];
	try {
		const contenders: Array<Contender<StormRun>> = [];
		for (const cluster of clusters) {
			await cluster.start();
			const seeded = await seed(cluster.base, { products: 4, customers: 20, concurrency: 5 });
			const tokens = seeded.customers.map(c => c.token);
			contenders.push({
				key: cluster.label,
				// No warm-up storm: one quiet second of the same requests.
				warmup: () => storm(cluster, tokens, seeded.productIds, 1),
				measure: () => storm(cluster, tokens, seeded.productIds, STORM_SECONDS),
				// The last products node is up before the next run.
				settle: async () => {
					const t0 = Date.now();
					await waitForHealth(cluster.base, SERVICES, []);
					return Date.now() - t0;
				},
			});
		}
		const results = await interleave(contenders, settings.rounds, (key, round, run) =>
			console.log(
				`  storm round ${round}  ${key.padEnd(24)} ${fmt(run.total).padStart(6)} requests, ${fmt(run.unavailable).padStart(6)} unavailable (${(100 * run.share).toFixed(1)} %), ${run.restarts} restarts   ${JSON.stringify(run.statuses)}`,
			),
		);
		const share = (key: string) => median(results.get(key)!.map(r => r.share));
		for (const cluster of clusters) {
			const runs = results.get(cluster.label)!;
			const after = cluster.label === clusters[1].label;
			rows.push({
				scenario: "fresh-id storm",
				figure: "503 share %",
				system: `cluster, ${cluster.label}`,
				values: runs.map(r => Number((100 * r.share).toFixed(1))),
				value: Number((100 * share(cluster.label)).toFixed(1)),
				decimals: 1,
				...(after
					? {
							ratio: `${(share(cluster.label) / Math.max(share(clusters[0].label), 1e-9)).toFixed(2)} × before`,
							target: below(share(cluster.label), share(clusters[0].label), "below before"),
						}
					: {}),
				notes: `products killed every ${STORM_EVERY} s for ${STORM_SECONDS} s, restarted at once under a new id; ${fmt(median(runs.map(r => r.total)))} requests a run, ${fmt(median(runs.map(r => r.okPerSecond)))} answered 2xx/s, p99 ${fmt(median(runs.map(r => r.p99)))} ms, max ${fmt(median(runs.map(r => r.max)))} ms`,
			});
		}
	} finally {
		for (const cluster of clusters) await cluster.stop();
	}
}
