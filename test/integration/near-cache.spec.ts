import Redis from "ioredis";
import { ServiceBroker } from "moleculer";
import { ShopRedisCacher, namespacePrefix, redisOptions } from "../../lib/infra/redis";
import { NearCacheMiddleware } from "../../middlewares/near-cache";
import { REDIS_URL, requireInfrastructure } from "../helpers/cluster";

/** A near cache holds answers of another node in the caller's memory: bounded in entries and in bytes. */
describe("the near cache's bounds", () => {
	it("keeps at most its megabytes of answers, however many fit its entry count", async () => {
		await requireInfrastructure();
		const namespace = `near-bounds-${process.pid}`;
		const calls: number[] = [];
		const owner = new ServiceBroker({ namespace, nodeID: `${namespace}-owner`, logger: false, transporter: "Fake" });
		owner.createService({
			name: "big",
			actions: {
				read: {
					params: { n: "number" },
					cache: { keys: ["n"], near: true } as { keys: string[] },
					handler: (ctx: { params: { n: number } }) => {
						calls.push(ctx.params.n);
						return { n: ctx.params.n, text: "x".repeat(10_000) };
					},
				},
			},
		});
		const caller = new ServiceBroker({
			namespace,
			nodeID: `${namespace}-caller`,
			logger: false,
			transporter: "Fake",
			cacher: new ShopRedisCacher({ redis: redisOptions(REDIS_URL) }),
			middlewares: [NearCacheMiddleware({ maxEntries: 1000, maxBytes: 50_000 })],
		});
		await Promise.all([owner.start(), caller.start()]);
		try {
			await caller.waitForServices("big");
			const readAll = async () => {
				for (let n = 0; n < 20; n++) expect((await caller.call<{ n: number }, { n: number }>("big.read", { n })).n).toBe(n);
			};
			await readAll();
			expect(calls).toHaveLength(20);
			await readAll();
			// Twenty answers of 10 kB do not fit in 50 kB: most are asked of the owner again.
			expect(calls.length).toBeGreaterThanOrEqual(35);
			const before = calls.length;
			expect(await caller.call("big.read", { n: 19 })).toMatchObject({ n: 19 });
			expect(calls).toHaveLength(before);
		} finally {
			await Promise.all([caller.stop(), owner.stop()]);
			const redis = new Redis(REDIS_URL);
			const keys = await redis.keys(`${namespacePrefix(namespace)}*`);
			if (keys.length) await redis.del(...keys);
			redis.disconnect();
		}
	});
});
