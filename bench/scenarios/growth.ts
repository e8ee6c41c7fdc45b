/**
 * Data growth on the embedded default: the node is filled with orders
 * (concurrent `POST /api/orders` from many customers over a few hundred
 * products) up to each level (0, 10,000, 50,000 by default), and at each
 * level: its memory (RSS from /proc, V8 heap after a GC), memory per order,
 * an admin's order list at page 1, page 50 and the last page (pageSize 100,
 * median of several), and the restart time (SIGTERM, start again on the
 * same DATA_DIR, until /api/health answers 200).
 */
import fs from "fs";
import os from "os";
import path from "path";
import { performance } from "perf_hooks";
import { json, request } from "../client";
import { settings } from "../config";
import { cannon, median } from "../load";
import { freePort, onCleanUp, rssBytes, stopChild, waitForPort, waitUntilQuiet, type Child } from "../procs";
import { atMost, below, fmt, rows } from "../report";
import { ALL_SERVICES, seed, startShopNode, waitForHealth, type Customer } from "../systems";

const TARGET_LEVEL = 50_000;
const MB = 1024 * 1024;

interface Memory {
	rss: number;
	heapUsed: number;
	heapTotal: number;
}

/** The measured node: restartable on its DATA_DIR and port, its memory readable. */
class GrowthNode {
	child!: Child;
	readonly base: string;
	private generation = 0;

	constructor(
		readonly port: number,
		readonly dataDir: string,
	) {
		this.base = `http://127.0.0.1:${port}/api`;
	}

	/** Starts the node; resolves with the ms until /api/health answers 200. */
	async start(): Promise<number> {
		const started = performance.now();
		this.child = startShopNode(
			`growth-${this.port}-${++this.generation}`,
			{ PORT: String(this.port), DATA_DIR: this.dataDir },
			{ nodeArgs: ["--expose-gc", "-r", path.join(__dirname, "..", "heap-report.js")], ipc: true },
		);
		await waitForPort(this.port, 60_000, this.child);
		await waitForHealth(this.base, ALL_SERVICES, [this.child], { pollMs: 20 });
		return performance.now() - started;
	}

	/** SIGTERM; resolves with the ms until the process is gone. */
	async stop(): Promise<number> {
		const started = performance.now();
		this.child.stopping = true;
		await stopChild(this.child.proc);
		return performance.now() - started;
	}

	memory(): Promise<Memory> {
		const proc = this.child.proc;
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error("the node did not report its memory in 20 s")), 20_000);
			const onMessage = (msg: any) => {
				if (msg?.type !== "memory") return;
				clearTimeout(timer);
				proc.off("message", onMessage);
				resolve({ rss: rssBytes(proc.pid!), heapUsed: msg.heapUsed, heapTotal: msg.heapTotal });
			};
			proc.on("message", onMessage);
			proc.send({ type: "memory" });
		});
	}
}

/** Orders from many customers over many products, `amount` of them, 50 connections. */
async function fill(base: string, customers: Customer[], productIds: string[], amount: number) {
	let n = 0;
	return cannon(
		{
			url: `${base}/orders`,
			method: "POST",
			amount,
			requests: [
				{
					setupRequest: (req: any) => {
						n++;
						const a = (n * 7919) % productIds.length;
						const items = [{ productId: productIds[a], quantity: 1 + (n % 3) }];
						if (n % 2) items.push({ productId: productIds[(a + 1) % productIds.length], quantity: 1 });
						return { ...req, headers: { "content-type": "application/json", authorization: `Bearer ${customers[n % customers.length].token}` }, body: JSON.stringify({ items }) };
					},
				},
			],
		},
		0,
	);
}

/** A row of the node's resident size, with its heap after a GC in the notes. */
function rssRow(figure: string, system: string, mem: Memory, before = "", after = ""): (typeof rows)[number] {
	const heap = `heap used ${fmt(mem.heapUsed / MB, 1)} MB after GC (of ${fmt(mem.heapTotal / MB, 1)} MB committed)`;
	return { scenario: "growth", figure, system, values: [mem.rss / MB], value: mem.rss / MB, decimals: 1, notes: `${before}${heap}${after}` };
}

async function totalOrders(base: string, admin: string): Promise<number> {
	return (await json("GET", `${base}/orders?page=1&pageSize=1`, undefined, admin)).total;
}

/** ms of an admin's GET /api/orders page (pageSize 100): one unmeasured request, then `pageSamples`. */
async function pageLatency(base: string, admin: string, page: number): Promise<number[]> {
	const url = `${base}/orders?page=${page}&pageSize=100`;
	const first = await request("GET", url, undefined, admin);
	if (first.status !== 200) throw new Error(`GET ${url}: ${first.status} ${JSON.stringify(first.body)}`);
	const out: number[] = [];
	const started = performance.now();
	// A slow page (seconds) is slow enough with three samples: keeps the scenario inside its time budget.
	for (let i = 0; i < settings.pageSamples && !(i >= 3 && performance.now() - started > 3000); i++) {
		const res = await request("GET", url, undefined, admin);
		if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
		out.push(res.ms);
	}
	return out;
}

export async function growthScenario(): Promise<void> {
	const levels = [...new Set(settings.growthLevels)].sort((a, b) => a - b);
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-growth-"));
	const removeData = onCleanUp("growth data", () => fs.rmSync(dataDir, { recursive: true, force: true }));
	const node = new GrowthNode(await freePort(), dataDir);
	const stopNode = onCleanUp("growth node", async () => void (await node.stop()));
	try {
		await node.start();
		const seeded = await seed(node.base, { products: settings.growthProducts, customers: settings.growthCustomers, concurrency: 10 });
		let afterFillBaseline: Memory | undefined;
		let heldBaseline: Memory | undefined;
		for (const level of levels) {
			const system = `embedded, ${fmt(level)} orders`;
			let count = await totalOrders(node.base, seeded.admin);
			let fillNote = "";
			if (count < level) {
				const started = performance.now();
				const before = count;
				let non2xx = 0;
				for (let attempt = 0; attempt < 3 && count < level; attempt++) {
					const run = await fill(node.base, seeded.customers, seeded.productIds, level - count);
					non2xx += run.non2xx + run.errors;
					count = await totalOrders(node.base, seeded.admin);
				}
				const seconds = (performance.now() - started) / 1000;
				fillNote = `filled at ${fmt((count - before) / seconds)} orders/s${non2xx ? ` (${non2xx} non-2xx or errors)` : ""}; `;
				console.log(`  growth: ${fmt(count)} orders stored (${fillNote.replace(/; $/, "")})`);
			}
			const quietMs = await waitUntilQuiet(node.child.proc.pid!);
			const mem = await node.memory();
			afterFillBaseline ??= mem;
			const judged = level >= TARGET_LEVEL;
			rows.push(rssRow("RSS MB after the fill", system, mem, fillNote, `; quiet after ${fmt(quietMs)} ms`));
			const totalPages = Math.max(1, Math.ceil(count / 100));
			for (const page of [...new Set([1, 50, totalPages])]) {
				const samples = await pageLatency(node.base, seeded.admin, page);
				const ms = median(samples);
				rows.push({
					scenario: "growth",
					figure: `GET /api/orders page ${fmt(page)} (of ${fmt(totalPages)}), ms`,
					system,
					values: samples,
					value: ms,
					decimals: 1,
					target: judged ? below(ms, 20, "< 20 ms") : undefined,
				});
			}
			const stopMs = await node.stop();
			const startMs = await node.start();
			const restart = (stopMs + startMs) / 1000;
			rows.push({
				scenario: "growth",
				figure: "restart, s",
				system,
				values: [restart],
				value: restart,
				decimals: 2,
				target: judged ? below(restart, 3, "< 3 s") : undefined,
				notes: `SIGTERM to exit ${fmt(stopMs)} ms + start to health 200 ${fmt(startMs)} ms`,
			});
			// What holding the orders costs: the node restarted on them, at rest. Right after the fill, V8 still holds the slack of the fill's garbage (it gives most of it back within seconds at rest).
			await waitUntilQuiet(node.child.proc.pid!);
			const held = await node.memory();
			heldBaseline ??= held;
			rows.push(rssRow("RSS MB holding them", system, held, "after the restart, at rest; "));
			if (count > 0 && level > 0) {
				const perOrder = (held.rss - heldBaseline.rss) / count;
				const afterFill = (mem.rss - afterFillBaseline.rss) / count;
				rows.push({
					scenario: "growth",
					figure: "memory per order, B",
					system,
					values: [perOrder],
					value: perOrder,
					target: judged ? atMost(perOrder, 4096, "≤ 4 kB (RSS)") : undefined,
					notes: `RSS holding them − RSS holding none, ÷ ${fmt(count)}; heap: ${fmt((held.heapUsed - heldBaseline.heapUsed) / count)} B per order; right after the fill: RSS ${fmt(afterFill)} B per order (heap ${fmt((mem.heapUsed - afterFillBaseline.heapUsed) / count)})`,
				});
			}
			console.log(`  growth: ${fmt(level)} orders measured (RSS ${fmt(mem.rss / MB, 1)} MB, restart ${restart.toFixed(2)} s)`);
		}
	} finally {
		await stopNode();
		await removeData();
	}
}
