/**
 * P2: `POST /api/orders` under autocannon (two-item orders by many
 * customers over a few products), on the embedded default and with every
 * service its own process over RabbitMQ and Redis, interleaved.
 * P3, in the same runs: probe customers with a connected Socket.IO client
 * place orders at a modest rate while the load runs; the time from each
 * answer to the owner's `order.updated` for that order.
 */
import path from "path";
import { settings } from "../config";
import { cannon, interleave, median, percentile, sum, type Contender, type LoadOptions, type Run } from "../load";
import type { ProbeSamples } from "../probe";
import { assertRunning, waitUntilAllQuiet, forkHelper, onCleanUp, stopChild, type Child } from "../procs";
import { atLeast, below, fmt, rows } from "../report";
import { ALL_SERVICES, seed, startCluster, startEmbedded, type Customer, type System } from "../systems";

interface Round {
	run: Run;
	probe?: ProbeSamples;
}

/** The P3 probe process of one system, driven over IPC. */
class Probe {
	private child: Child;
	private waiting: { type: string; resolve: (m: any) => void; reject: (e: Error) => void } | null = null;
	readonly close: () => Promise<void>;

	constructor(label: string) {
		this.child = forkHelper(`probe-${label.replace(/\W+/g, "-")}`, path.join(__dirname, "..", "probe.js"));
		this.child.proc.on("message", (msg: any) => {
			const w = this.waiting;
			if (!w) return;
			this.waiting = null;
			if (msg.type === "failed") w.reject(new Error(`P3 probe: ${msg.message}`));
			else if (msg.type !== w.type) w.reject(new Error(`P3 probe answered ${msg.type}, expected ${w.type}`));
			else w.resolve(msg);
		});
		this.child.proc.once("exit", () => this.waiting?.reject(new Error(`P3 probe exited; see ${this.child.log}`)));
		this.close = onCleanUp(`probe ${label}`, async () => {
			this.child.stopping = true;
			if (this.child.proc.connected) this.child.proc.send({ type: "close" });
			await stopChild(this.child.proc, 3000);
		});
	}

	private ask(msg: object, answer: string, timeoutMs: number): Promise<any> {
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => ((this.waiting = null), reject(new Error(`P3 probe: no ${answer} in ${timeoutMs} ms`))), timeoutMs);
			this.waiting = { type: answer, resolve: m => (clearTimeout(timer), resolve(m)), reject: e => (clearTimeout(timer), reject(e)) };
			this.child.proc.send(msg);
		});
	}

	init(origin: string, customers: Customer[], productIds: string[]): Promise<unknown> {
		return this.ask({ type: "init", origin, customers, productIds, rate: settings.probeRate }, "ready", 60_000);
	}

	start(): Promise<unknown> {
		return this.ask({ type: "start" }, "started", 10_000);
	}

	async stop(): Promise<ProbeSamples> {
		return (await this.ask({ type: "stop", graceMs: settings.probeGraceMs }, "samples", settings.probeGraceMs + 10_000)).samples;
	}
}

/** The load: two-item orders, customers and products in turn. */
export function orderLoad(base: string, tokens: string[], productIds: string[]) {
	let n = 0;
	return {
		url: `${base}/orders`,
		method: "POST" as const,
		requests: [
			{
				setupRequest: (req: any) => {
					n++;
					return {
						...req,
						headers: { "content-type": "application/json", authorization: `Bearer ${tokens[n % tokens.length]}` },
						body: JSON.stringify({
							items: [
								{ productId: productIds[n % productIds.length], quantity: 1 },
								{ productId: productIds[(n + 7) % productIds.length], quantity: 2 },
							],
						}),
					};
				},
			},
		],
	};
}

/** A system seeded with the bench's products and buyers, and P2's load over them. */
export async function seedOrderLoad(base: string) {
	const seeded = await seed(base, { products: settings.products, customers: settings.buyers, concurrency: 10 });
	const tokens = seeded.customers.map(c => c.token);
	return { seeded, load: orderLoad(base, tokens, seeded.productIds) };
}

/**
 * A system under P2's load as a contender: a run is autocannon for the
 * seconds asked, with `beside` running along until told the load is over
 * (a probe of its own), and the system's processes checked alive after;
 * settled when they are quiet.
 */
export function orderContender(s: System, load: LoadOptions, beside?: (loading: () => boolean) => Promise<void>): Contender<Run> {
	const once = async (seconds: number) => {
		let loading = true;
		const besides = beside?.(() => loading);
		const run = await cannon(load, seconds);
		loading = false;
		await besides;
		assertRunning(s.children);
		return run;
	};
	return { key: s.label, warmup: () => once(settings.warmup), measure: () => once(settings.duration), settle: () => waitUntilAllQuiet(s.children) };
}

/** A run of P2's load as a round's line shows it: orders/s, p50, p99, and the errors if any. */
export function orderRunLine(run: Run): string {
	return `${fmt(run.rps).padStart(6)} orders/s   p50 ${run.p50} ms   p99 ${run.p99} ms${run.errors || run.non2xx ? `   errors ${run.errors}, non-2xx ${run.non2xx}` : ""}`;
}

/** An A/B scenario's throughput rows: each side's median orders/s, and the subject's as a share of the baseline's (at least `min`). */
export function comparedThroughputRows(
	scenario: string,
	results: Map<string, Run[]>,
	sides: ReadonlyArray<{ label: string; system: string }>,
	compared: { subject: string; baseline: string; baseName: string; min: number },
): void {
	const ops = (label: string) => median(results.get(label)!.map(r => r.rps));
	const base = ops(compared.baseline);
	for (const side of sides) {
		const runs = results.get(side.label)!;
		const value = ops(side.label);
		const subject = side.label === compared.subject;
		const bad = sum(runs.map(r => r.errors)) + sum(runs.map(r => r.non2xx));
		rows.push({
			scenario,
			figure: "orders/s (201)",
			system: side.system,
			values: runs.map(r => r.rps),
			value,
			ratio: subject ? `${(value / base).toFixed(2)} × ${compared.baseName}` : "",
			target: subject ? atLeast(value / base, compared.min, `≥ ${compared.min} × ${compared.baseName}`) : undefined,
			notes: `p50 ${fmt(median(runs.map(r => r.p50)))} ms, p99 ${fmt(median(runs.map(r => r.p99)))} ms${bad ? `; errors ${sum(runs.map(r => r.errors))}, non-2xx ${sum(runs.map(r => r.non2xx))}` : ""}`,
		});
	}
}

export async function ordersScenario(): Promise<void> {
	const systems: System[] = [];
	const probes: Probe[] = [];
	try {
		const [embedded, cluster] = await Promise.all([startEmbedded("embedded"), startCluster("cluster", ALL_SERVICES)]);
		systems.push(embedded, cluster);
		const contenders: Contender<Round>[] = [];
		for (const s of systems) {
			const seeded = await seed(s.base, { products: settings.products, customers: settings.buyers + settings.probeCustomers, concurrency: 10 });
			const buyers = seeded.customers.slice(0, settings.buyers).map(c => c.token);
			const probeCustomers = seeded.customers.slice(settings.buyers);
			const load = orderLoad(s.base, buyers, seeded.productIds);
			const probe = settings.probeRate > 0 ? new Probe(s.label) : undefined;
			if (probe) {
				probes.push(probe);
				await probe.init(s.origin, probeCustomers, seeded.productIds);
			}
			const once = async (seconds: number): Promise<Round> => {
				await probe?.start();
				const run = await cannon(load, seconds);
				const samples = await probe?.stop();
				assertRunning(s.children);
				return { run, probe: samples };
			};
			contenders.push({ key: s.label, warmup: () => once(settings.warmup), measure: () => once(settings.duration), settle: () => waitUntilAllQuiet(s.children) });
		}

		const results = await interleave(contenders, settings.rounds, (key, round, { run, probe }) => {
			const p3 = probe
				? `   P3 p50 ${fmt(percentile(probe.latencies, 50), 1)} p99 ${fmt(percentile(probe.latencies, 99), 1)} ms (${probe.latencies.length} orders${probe.lost ? `, ${probe.lost} lost` : ""})`
				: "";
			console.log(`  P2 round ${round}  ${key.padEnd(12)} ${orderRunLine(run)}${p3}`);
		});

		const p2 = (s: System) => results.get(s.label)!.map(r => r.run);
		const ordersPerSecond = (s: System) => median(p2(s).map(r => r.rps));
		const minimum = { [embedded.label]: 2000, [cluster.label]: 1000 };
		const systemName = { [embedded.label]: "embedded", [cluster.label]: `cluster: ${ALL_SERVICES.length + 1} processes` };
		for (const s of systems) {
			const runs = p2(s);
			const bad = sum(runs.map(r => r.errors)) + sum(runs.map(r => r.non2xx));
			const ops = ordersPerSecond(s);
			const p99 = median(runs.map(r => r.p99));
			rows.push({
				scenario: "P2 orders",
				figure: "orders/s (201)",
				system: systemName[s.label],
				values: runs.map(r => r.rps),
				value: ops,
				ratio: s === embedded ? "" : `${(ops / ordersPerSecond(embedded)).toFixed(2)} × embedded`,
				target: atLeast(ops, minimum[s.label], `≥ ${fmt(minimum[s.label])}/s`),
				notes: `${fmt(sum(runs.map(r => r.requests)))} requests${settings.probeRate > 0 ? `, with P3's ${settings.probeCustomers} sockets connected` : ""}${bad ? `; errors ${sum(runs.map(r => r.errors))}, non-2xx ${sum(runs.map(r => r.non2xx))}` : ""}`,
			});
			rows.push({ scenario: "P2 orders", figure: "p50 ms", system: systemName[s.label], values: runs.map(r => r.p50), value: median(runs.map(r => r.p50)) });
			rows.push({ scenario: "P2 orders", figure: "p99 ms", system: systemName[s.label], values: runs.map(r => r.p99), value: p99, target: below(p99, 50, "< 50 ms") });
		}
		if (settings.probeRate > 0) {
			for (const s of systems) {
				const probeRuns = results.get(s.label)!.map(r => r.probe!);
				const all = probeRuns.flatMap(p => p.latencies);
				const lost = sum(probeRuns.map(p => p.lost));
				const failed = sum(probeRuns.map(p => p.failed));
				const disconnects = sum(probeRuns.map(p => p.disconnects));
				const p99 = median(probeRuns.map(p => percentile(p.latencies, 99)));
				const why = new Map<string, number>();
				for (const p of probeRuns) for (const [k, n] of Object.entries(p.failures)) why.set(k, (why.get(k) ?? 0) + n);
				const failedText = failed && `${failed} probe orders failed (${[...why].map(([k, n]) => `${n} × ${k}`).join(", ")})`;
				const issues = [lost && `${lost} events lost (no order.updated in ${settings.probeGraceMs} ms)`, failedText, disconnects && `${disconnects} socket drops`].filter(Boolean).join("; ");
				rows.push({
					scenario: "P3 real time",
					figure: "p50 ms",
					system: systemName[s.label],
					values: probeRuns.map(p => percentile(p.latencies, 50)),
					value: median(probeRuns.map(p => percentile(p.latencies, 50))),
					decimals: 1,
					notes: `${all.length} orders by ${settings.probeCustomers} socket customers at ${settings.probeRate}/s under P2; ${sum(probeRuns.map(p => p.early))} events before their answer (0 ms)`,
				});
				rows.push({
					scenario: "P3 real time",
					figure: "p99 ms",
					system: systemName[s.label],
					values: probeRuns.map(p => percentile(p.latencies, 99)),
					value: p99,
					decimals: 1,
					target: lost ? { text: "< 100 ms", met: false } : below(p99, 100, "< 100 ms"),
					notes: `all runs pooled: p99 ${fmt(percentile(all, 99), 1)} ms, max ${fmt(Math.max(...all), 1)} ms${issues ? `; ${issues}` : ""}`,
				});
			}
		}
	} finally {
		for (const p of probes) await p.close();
		for (const s of systems.reverse()) await s.stop();
	}
}
