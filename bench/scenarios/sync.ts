/**
 * The cost of "acknowledged means on disk": P2's load (two-item orders,
 * many customers over a few products) on two embedded defaults, one whose
 * writes are answered once synced (STORE_SYNC=on, group commit: one
 * fdatasync per file per event-loop turn) and one that answers before
 * (STORE_SYNC=off), interleaved.
 */
import { settings } from "../config";
import { cannon, interleave, median, sum, type Contender, type Run } from "../load";
import { assertRunning, waitUntilAllQuiet } from "../procs";
import { atLeast, fmt, rows } from "../report";
import { seed, startEmbedded, type System } from "../systems";
import { orderLoad } from "./orders";

export async function syncScenario(): Promise<void> {
	const systems: System[] = [];
	try {
		systems.push(await startEmbedded("sync-on", { STORE_SYNC: "on" }), await startEmbedded("sync-off", { STORE_SYNC: "off" }));
		const contenders: Contender<Run>[] = [];
		for (const s of systems) {
			const seeded = await seed(s.base, { products: settings.products, customers: settings.buyers, concurrency: 10 });
			const load = orderLoad(
				s.base,
				seeded.customers.map(c => c.token),
				seeded.productIds,
			);
			const once = async (seconds: number) => {
				const run = await cannon(load, seconds);
				assertRunning(s.children);
				return run;
			};
			contenders.push({ key: s.label, warmup: () => once(settings.warmup), measure: () => once(settings.duration), settle: () => waitUntilAllQuiet(s.children) });
		}
		const results = await interleave(contenders, settings.rounds, (key, round, run) =>
			console.log(
				`  sync round ${round}  ${key.padEnd(9)} ${fmt(run.rps).padStart(6)} orders/s   p50 ${run.p50} ms   p99 ${run.p99} ms${run.errors || run.non2xx ? `   errors ${run.errors}, non-2xx ${run.non2xx}` : ""}`,
			),
		);
		const ops = (label: string) => median(results.get(label)!.map(r => r.rps));
		const off = ops("sync-off");
		for (const s of systems) {
			const runs = results.get(s.label)!;
			const value = ops(s.label);
			const bad = sum(runs.map(r => r.errors)) + sum(runs.map(r => r.non2xx));
			rows.push({
				scenario: "P2 sync",
				figure: "orders/s (201)",
				system: s.label === "sync-on" ? "embedded, STORE_SYNC=on" : "embedded, STORE_SYNC=off",
				values: runs.map(r => r.rps),
				value,
				ratio: s.label === "sync-on" ? `${(value / off).toFixed(2)} × off` : "",
				target: s.label === "sync-on" ? atLeast(value / off, 0.9, "≥ 0.9 × off") : undefined,
				notes: `p50 ${fmt(median(runs.map(r => r.p50)))} ms, p99 ${fmt(median(runs.map(r => r.p99)))} ms${bad ? `; errors ${sum(runs.map(r => r.errors))}, non-2xx ${sum(runs.map(r => r.non2xx))}` : ""}`,
			});
		}
	} finally {
		for (const s of systems.reverse()) await s.stop();
	}
}
