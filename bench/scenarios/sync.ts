/**
 * The cost of "acknowledged means on disk": P2's load (two-item orders,
 * many customers over a few products) on two embedded defaults, one whose
 * writes are answered once synced (STORE_SYNC=on, group commit: one
 * fdatasync per file per event-loop turn) and one that answers before
 * (STORE_SYNC=off), interleaved.
 */
import { settings } from "../config";
import { cannon, interleave, type Contender, type Run } from "../load";
import { assertRunning, waitUntilAllQuiet } from "../procs";
import { fmt } from "../report";
import { seed, startEmbedded, type System } from "../systems";
import { comparedThroughputRows, orderLoad } from "./orders";

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
		const sides = systems.map(s => ({ label: s.label, system: s.label === "sync-on" ? "embedded, STORE_SYNC=on" : "embedded, STORE_SYNC=off" }));
		comparedThroughputRows("P2 sync", results, sides, { subject: "sync-on", baseline: "sync-off", baseName: "off", min: 0.9 });
	} finally {
		for (const s of systems.reverse()) await s.stop();
	}
}
