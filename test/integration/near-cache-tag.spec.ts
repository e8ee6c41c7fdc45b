import { ServiceBroker } from "moleculer";
import { ShopRedisCacher, redisOptions } from "../../lib/redis";
import { waitFor } from "../helpers/broker";
import { REDIS_URL, requireInfrastructure } from "../helpers/cluster";

/** The tag a gateway's near cache compares (middlewares/near-cache.ts), in the real Redis. */
describe("the near cache's tag", () => {
	it("is never absent: after a clean of the namespace deleted it, it reads as a new tag, so no answer kept before matches", async () => {
		await requireInfrastructure();
		const broker = new ServiceBroker({ namespace: `tag-${process.pid}`, logger: false, cacher: new ShopRedisCacher({ prefix: `MOL-tag-${process.pid}`, redis: redisOptions(REDIS_URL) }) });
		await broker.start();
		const cacher = broker.cacher as unknown as ShopRedisCacher & { client: { status: string } };
		try {
			await waitFor(async () => cacher.client.status === "ready", 10_000, "the Redis connection");
			const first = await cacher.readTag("products");
			expect(first).toEqual(expect.any(String));
			expect(await cacher.readTag("products")).toBe(first);
			await cacher.clean();
			const afterClean = await cacher.readTag("products");
			expect(afterClean).not.toBe(first);
			expect(await cacher.readTag("products")).toBe(afterClean);
			await cacher.clean();
		} finally {
			await broker.stop();
		}
	});
});
