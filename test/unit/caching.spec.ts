import fc from "fast-check";
import type { ServiceBroker } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import { ShopMemoryCacher, ShopRedisCacher, namespacePrefix } from "../../lib/infra/redis";
import { parseSettings } from "../../lib/infra/settings";
import { createTestBroker } from "../helpers/broker";

describe("caching is bounded", () => {
	let broker: ServiceBroker;

	beforeAll(async () => {
		broker = createTestBroker();
		for (const name of ["customers", "products", "orders", "alerts", "analytics", "payments", "notifications"])
			broker.createService(((await import(`../../services/${name}.service`)) as { default: never }).default);
		await broker.start();
	});
	afterAll(() => broker.stop());

	it("every cached action names the params its key is made of", () => {
		const cached = (broker.registry.getActionList({ onlyLocal: true, skipInternal: true }) as Array<{ name: string; action: { cache?: unknown } }>).filter(a => a.action.cache);
		expect(cached.length).toBeGreaterThan(5);
		for (const { name, action } of cached) expect([name, Array.isArray((action.cache as { keys?: unknown }).keys)]).toEqual([name, true]);
	});

	it("the memory cacher has a cap and a TTL, the Redis cacher a TTL", () => {
		const memory = brokerOptions(parseSettings({})).cacher;
		expect(memory).toBeInstanceOf(ShopMemoryCacher);
		expect(memory).toMatchObject({ opts: { max: 10_000, ttl: 3600 } });
		expect(brokerOptions(parseSettings({ CACHE_MAX_ENTRIES: "500", CACHE_TTL_S: "60" })).cacher).toMatchObject({ opts: { max: 500, ttl: 60 } });
		const redis = brokerOptions(parseSettings({ CACHER: "redis://127.0.0.1:6379" })).cacher as unknown as { opts: { ttl: number } };
		expect(redis).toBeInstanceOf(ShopRedisCacher);
		expect(redis.opts.ttl).toBe(3600);
	});

	it('keys keep the JSON type of a param: a cached answer of page 2 never answers page "2", which validation refuses', () => {
		const key = (cacher: { getCacheKey(action: string, params: object, meta: object, keys: string[]): string }, params: object) => cacher.getCacheKey("products.list", params, {}, ["page"]);
		for (const cacher of [new ShopMemoryCacher({ max: 100, maxBytes: 1_000_000 }), new ShopRedisCacher({})]) {
			const k = (p: object) => key(cacher, p);
			expect(k({ page: 2 })).not.toBe(k({ page: "2" }));
			expect(k({ page: 2 })).toBe(k({ page: 2 }));
			expect(k({})).not.toBe(k({ page: "undefined" }));
		}
	});

	it("bounds a key in bytes whatever a request holds: a long value is hashed", () => {
		for (const cacher of [brokerOptions(parseSettings({})).cacher, brokerOptions(parseSettings({ CACHER: "redis://127.0.0.1:6379" })).cacher]) {
			const c = cacher as unknown as { getCacheKey(action: string, params: object, meta: object, keys: string[]): string };
			const long = c.getCacheKey("products.list", { search: "x".repeat(90_000), page: 1 }, {}, ["search", "page"]);
			const other = c.getCacheKey("products.list", { search: `${"x".repeat(89_999)}y`, page: 1 }, {}, ["search", "page"]);
			expect(long.length).toBeLessThan(400);
			expect(long).not.toBe(other);
		}
	});

	it("keeps the memory cache within its megabytes as well as its entries", async () => {
		const cacher = new ShopMemoryCacher({ max: 1000, maxBytes: 50_000 });
		cacher.init(broker);
		const answer = { rows: "x".repeat(10_000) };
		for (let i = 0; i < 20; i++) await cacher.set(`big-${i}`, answer);
		const kept = (await Promise.all(Array.from({ length: 20 }, (_, i) => cacher.get(`big-${i}`)))).filter(v => v !== null);
		expect(kept.length).toBeGreaterThan(0);
		expect(kept.length).toBeLessThanOrEqual(5);
		// Small answers: the entry count is the bound.
		for (let i = 0; i < 1500; i++) await cacher.set(`small-${i}`, i);
		const small = (await Promise.all(Array.from({ length: 1500 }, (_, i) => cacher.get(`small-${i}`)))).filter(v => v !== null);
		expect(small.length).toBeLessThanOrEqual(1000);
		expect(await cacher.get("small-1499")).toBe(1499);
	});

	it("no namespace's Redis prefix starts another's, and a namespace called MOL is not the same as none", () => {
		const namespace = fc.stringMatching(/^[A-Za-z0-9_-]{0,12}$/);
		fc.assert(
			fc.property(namespace, namespace, (a, b) => {
				if (a !== b) expect(namespacePrefix(b).startsWith(namespacePrefix(a))).toBe(false);
			}),
		);
		expect(namespacePrefix("MOL")).not.toBe(namespacePrefix(""));
		const cacherPrefix = (ns: string) => (brokerOptions(parseSettings({ CACHER: "redis://127.0.0.1:6379", NAMESPACE: ns })).cacher as unknown as { opts: { prefix: string } }).opts.prefix;
		expect(cacherPrefix("shop")).toBe(namespacePrefix("shop"));
		expect(cacherPrefix("shop-cluster").startsWith(cacherPrefix("shop"))).toBe(false);
		expect(cacherPrefix("MOL")).not.toBe(cacherPrefix(""));
	});
});
