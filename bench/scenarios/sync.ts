/**
 * The cost of "acknowledged means on disk": P2's load (two-item orders,
 * many customers over a few products) on two embedded defaults, one whose
 * writes are answered once synced (STORE_SYNC=on, group commit: one
 * fdatasync per file per event-loop turn) and one that answers before
 * (STORE_SYNC=off), interleaved.
 */
import { settings } from "../config";
import { interleave, type Contender, type Run } from "../load";
import { startEmbedded, type System } from "../systems";
import { comparedThroughputRows, orderContender, orderRunLine, seedOrderLoad } from "./orders";

export async function syncScenario(): Promise<void> {
	const systems: System[] = [];
	try {
		systems.push(await startEmbedded("sync-on", { STORE_SYNC: "on" }), await startEmbedded("sync-off", { STORE_SYNC: "off" }));
		const contenders: Contender<Run>[] = [];
		for (const s of systems) contenders.push(orderContender(s, (await seedOrderLoad(s.base)).load));
		const results = await interleave(contenders, settings.rounds, (key, round, run) => console.log(`  sync round ${round}  ${key.padEnd(9)} ${orderRunLine(run)}`));
		const sides = systems.map(s => ({ label: s.label, system: s.label === "sync-on" ? "embedded, STORE_SYNC=on" : "embedded, STORE_SYNC=off" }));
		comparedThroughputRows("P2 sync", results, sides, { subject: "sync-on", baseline: "sync-off", baseName: "off", min: 0.9 });
	} finally {
		for (const s of systems.reverse()) await s.stop();
	}
}
