/**
 * Writes whose cost does not depend on Redis: `POST /api/orders` on a
 * cluster (every service its own process) with Redis holding only the
 * shop's keys, and with 500,000 keys of someone else in the same database
 * (a namespace sharing the Redis, or another application), interleaved on
 * the same cluster: the foreign keys are written before each run that
 * wants them and deleted before each that does not. A write changes its
 * service's version key, so the p50 must stay within 1.2 × (a clean by
 * SCAN over the keyspace once made it 118 ×).
 */
import Redis from "ioredis";
import { REDIS_URL, settings } from "../config";
import { cannon, interleave, median, type Contender, type Run } from "../load";
import { waitUntilAllQuiet } from "../procs";
import { atMost, fmt, rows } from "../report";
import { ALL_SERVICES, startCluster, type System } from "../systems";
import { orderRunLine, seedOrderLoad } from "./orders";

const FOREIGN_KEYS = 500_000;
const BATCH = 10_000;

/** Someone else's keys in the shop's Redis database, by names of the benchmark's own (they expire in an hour if a run dies). */
class ForeignKeys {
	private present = false;
	private readonly prefix = `bench-foreign-${process.pid}-${Date.now()}:`;

	constructor(private readonly redis: Redis) {}

	async set(present: boolean): Promise<void> {
		if (present === this.present) return;
		for (let start = 0; start < FOREIGN_KEYS; start += BATCH) {
			const pipeline = this.redis.pipeline();
			for (let i = start; i < Math.min(start + BATCH, FOREIGN_KEYS); i++) {
				if (present) pipeline.set(`${this.prefix}${i}`, "x", "EX", 3600);
				else pipeline.unlink(`${this.prefix}${i}`);
			}
			await pipeline.exec();
		}
		this.present = present;
	}
}

export async function foreignKeysScenario(): Promise<void> {
	let cluster: System | undefined;
	const redis = new Redis(REDIS_URL);
	const foreign = new ForeignKeys(redis);
	try {
		cluster = await startCluster("cluster", ALL_SERVICES);
		const { load } = await seedOrderLoad(cluster.base);
		const children = cluster.children;
		const contender = (key: string, present: boolean): Contender<Run> => ({
			key,
			warmup: async () => (await foreign.set(present), cannon(load, settings.warmup)),
			measure: async () => (await foreign.set(present), cannon(load, settings.duration)),
			settle: () => waitUntilAllQuiet(children),
		});
		const without = "no foreign keys";
		const withKeys = `${fmt(FOREIGN_KEYS)} foreign keys`;
		const results = await interleave([contender(without, false), contender(withKeys, true)], settings.rounds, (key, round, run) =>
			console.log(`  round ${round}  ${key.padEnd(22)} ${orderRunLine(run)}`),
		);
		const p50 = (key: string) => median(results.get(key)!.map(r => r.p50));
		for (const key of [without, withKeys]) {
			const runs = results.get(key)!;
			const ratio = p50(key) / p50(without);
			rows.push({
				scenario: "foreign keys",
				figure: "order p50 ms",
				system: `cluster, ${key}`,
				values: runs.map(r => r.p50),
				value: p50(key),
				...(key === withKeys ? { ratio: `${ratio.toFixed(2)} × without`, target: atMost(ratio, 1.2, "≤ 1.2 × without") } : {}),
				notes: `${fmt(median(runs.map(r => r.rps)))} orders/s, p99 ${median(runs.map(r => r.p99))} ms`,
			});
		}
	} finally {
		await foreign.set(false).catch(() => undefined);
		redis.disconnect();
		await cluster?.stop();
	}
}
