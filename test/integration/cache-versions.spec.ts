import crypto from "crypto";
import Redis from "ioredis";
import { ServiceBroker } from "moleculer";
import { RedisCacheVersions } from "../../lib/infra/cache-versions";
import { ShopRedisCacher, namespacePrefix, redisOptions } from "../../lib/infra/redis";
import { parseSettings } from "../../lib/infra/settings";
import { brokerOptions } from "../../moleculer.config";
import ProductsService from "../../services/products.service";
import { waitFor } from "../helpers/broker";
import { REDIS_URL, freePort, requireInfrastructure } from "../helpers/cluster";
import { RedisProxy } from "../helpers/redis-proxy";

const unavailable = (err: Error): never => {
	throw err;
};

/** A products node on the real Redis (through `redisUrl`), in its own namespace. */
async function productsNode(namespace: string, redisUrl: string, nodeID: string, transporter?: string): Promise<ServiceBroker> {
	const options = brokerOptions(parseSettings({ CACHER: redisUrl, NAMESPACE: namespace, NODE_ID: nodeID, LOG_LEVEL: "silent", ...(transporter ? { TRANSPORTER: transporter } : {}) }));
	const broker = new ServiceBroker({ ...options, logger: false, metrics: { enabled: false } });
	broker.createService(ProductsService);
	await broker.start();
	const client = (broker.cacher as unknown as { client: Redis }).client;
	await waitFor(async () => client.status === "ready", 10_000, "the Redis connection");
	return broker;
}

async function deleteKeys(namespace: string): Promise<void> {
	const redis = new Redis(REDIS_URL);
	try {
		const keys = await redis.keys(`${namespacePrefix(namespace)}*`);
		if (keys.length) await redis.del(...keys);
	} finally {
		redis.disconnect();
	}
}

const newProduct = (sku: string) => ({ sku, name: sku, category: "versions", priceCents: 100, stock: 50 });

describe("cache versions in Redis", () => {
	const namespace = `cv${process.pid}${crypto.randomBytes(3).toString("hex")}`;

	// A lease left behind by one test (Redis cut) holds for the next one in the same namespace: one each.
	const namespaces: string[] = [];
	const ownNamespace = () => {
		namespaces.push(`${namespace}n${namespaces.length}`);
		return namespaces[namespaces.length - 1];
	};

	beforeAll(() => requireInfrastructure());
	afterAll(async () => {
		for (const ns of [namespace, ...namespaces]) await deleteKeys(ns);
	});

	it("a write makes the cached answers unreachable without scanning Redis", async () => {
		const broker = await productsNode(namespace, REDIS_URL, `${namespace}-scan`);
		// monitor() answers a second connection in monitor mode; both are closed below.
		const monitored = new Redis(REDIS_URL);
		const monitor = await monitored.monitor();
		const scans: string[] = [];
		let seenEnd = false;
		monitor.on("monitor", (_time: string, args: string[]) => {
			if (/scan/i.test(args[0]) && args.join(" ").includes(namespace)) scans.push(args.join(" "));
			if (args[0]?.toLowerCase() === "echo" && args[1] === `${namespace}-end`) seenEnd = true;
		});
		const marker = new Redis(REDIS_URL);
		try {
			const product = await broker.call<{ id: string }, object>("products.create", newProduct("SCAN-1"));
			expect(await broker.call("products.get", { id: product.id })).toMatchObject({ stock: 50 });
			await broker.call("products.restock", { id: product.id, quantity: 5 });
			expect(await broker.call("products.get", { id: product.id })).toMatchObject({ stock: 55 });
			// The monitor has seen every command of the write once it sees one sent after it.
			await marker.echo(`${namespace}-end`);
			await waitFor(() => seenEnd, 10_000, "the monitor to see the end");
			expect(scans).toEqual([]);
		} finally {
			marker.disconnect();
			monitor.disconnect();
			monitored.disconnect();
			await broker.stop();
		}
	});

	describe("with the products node's Redis connection cut", () => {
		let proxy: RedisProxy;
		let broker: ServiceBroker;
		let cutNamespace: string;

		beforeEach(async () => {
			proxy = new RedisProxy(await freePort());
			await proxy.start();
			cutNamespace = ownNamespace();
			broker = await productsNode(cutNamespace, proxy.url, `${cutNamespace}-cut`);
		});
		afterEach(async () => {
			await broker.stop();
			await proxy.stop();
		});

		const stockOf = async (id: string) => (await broker.call<{ stock: number }, object>("products.get", { id }, { meta: { $cache: false } })).stock;

		it("a write answers 503 and changes nothing when Redis cannot be reached before it commits", async () => {
			const product = await broker.call<{ id: string }, object>("products.create", newProduct("CUT-BEFORE"));
			await proxy.stop();
			await expect(broker.call("products.restock", { id: product.id, quantity: 5 })).rejects.toMatchObject({ code: 503 });
			expect(await stockOf(product.id)).toBe(50);
		});

		it("a write committed before Redis went away answers its result, and no reader serves the answer from before it", async () => {
			const product = await broker.call<{ id: string }, object>("products.create", newProduct("CUT-AFTER"));
			// Another node reading the same Redis directly, the answer cached there before the write.
			const redis = new Redis(REDIS_URL);
			const reader = new RedisCacheVersions(redis, namespacePrefix(cutNamespace), unavailable);
			try {
				await waitFor(async () => !(await reader.read("products")).writing, 10_000, "the create's lease to end");
				const before = await reader.read("products");
				expect(await broker.call("products.get", { id: product.id })).toMatchObject({ stock: 50 });
				// Redis goes away right after the restock's commit.
				const service = broker.getLocalService("products") as unknown as { catalog: { restock(id: string, q: number): Promise<unknown> } };
				const restock = service.catalog.restock.bind(service.catalog);
				service.catalog.restock = async (id, q) => {
					const done = await restock(id, q);
					await proxy.stop();
					return done;
				};
				expect(await broker.call("products.restock", { id: product.id, quantity: 5 })).toMatchObject({ stock: 55 });
				expect(await stockOf(product.id)).toBe(55);
				const after = await reader.read("products");
				expect(after.version).not.toBe(before.version);
				expect(after.writing).toBe(true);
			} finally {
				redis.disconnect();
			}
		});
	});

	it("a lease left behind runs out: readers then store again, under a version other than the one before the write", async () => {
		const redis = new Redis(REDIS_URL);
		const versions = new RedisCacheVersions(redis, namespacePrefix(namespace), unavailable);
		try {
			const before = await versions.read("lease");
			expect(before.writing).toBe(false);
			await versions.begin("lease", "a-writer-that-lost-redis", 300);
			const during = await versions.read("lease");
			expect(during).toEqual({ version: expect.any(String), writing: true });
			expect(during.version).not.toBe(before.version);
			const after = await waitFor(async () => {
				const read = await versions.read("lease");
				return read.writing ? null : read;
			});
			expect(after.version).toBe(during.version);
			// Its end, late: a reader may have stored an answer from before its commit, so the version changes.
			await versions.end("lease", "a-writer-that-lost-redis");
			expect((await versions.read("lease")).version).not.toBe(after.version);
		} finally {
			redis.disconnect();
		}
	});

	it("reads several services' versions in one call, each as a read of its own says, a lease included", async () => {
		const redis = new Redis(REDIS_URL);
		const versions = new RedisCacheVersions(redis, namespacePrefix(ownNamespace()), unavailable);
		try {
			await versions.begin("many-b", "a-writer", 30_000);
			const many = await versions.readMany(["many-a", "many-b", "many-c"]);
			expect([...many.keys()]).toEqual(["many-a", "many-b", "many-c"]);
			for (const service of ["many-a", "many-b", "many-c"]) expect(many.get(service)).toEqual(await versions.read(service));
			expect(many.get("many-b")!.writing).toBe(true);
			expect(many.get("many-a")!.writing).toBe(false);
			await versions.end("many-b", "a-writer");
			expect((await versions.readMany(["many-b"])).get("many-b")).toEqual({ version: many.get("many-b")!.version, writing: false });
		} finally {
			redis.disconnect();
		}
	});

	it("a version never reads as absent: deleted, it reads as a new one", async () => {
		const redis = new Redis(REDIS_URL);
		const versions = new RedisCacheVersions(redis, namespacePrefix(namespace), unavailable);
		try {
			const first = await versions.read("absent");
			expect((await versions.read("absent")).version).toBe(first.version);
			await redis.del(`${namespacePrefix(namespace)}version:absent`);
			const next = await versions.read("absent");
			expect(next.version).not.toBe(first.version);
			expect((await versions.read("absent")).version).toBe(next.version);
		} finally {
			redis.disconnect();
		}
	});

	it("a Redis reconnect deletes no key, of this namespace or another", async () => {
		// No namespace: the one whose clean once matched every other namespace's keys.
		const broker = new ServiceBroker({ logger: false, cacher: new ShopRedisCacher({ redis: redisOptions(REDIS_URL) }) });
		const decoys = [`MOL-${namespace}-products.get:x`, `${namespacePrefix(namespace)}cache:v:products.get:x`, `${namespacePrefix("")}cache:v:products.get:${namespace}`];
		const redis = new Redis(REDIS_URL);
		try {
			await broker.start();
			const cacher = broker.cacher as unknown as { client: Redis };
			await waitFor(async () => cacher.client.status === "ready", 10_000, "the Redis connection");
			for (const key of decoys) await redis.set(key, "decoy", "EX", 60);
			const back = new Promise(resolve => cacher.client.once("ready", resolve));
			cacher.client.disconnect(true);
			await back;
			// Whatever the reconnect started has gone through before these round trips come back.
			for (let i = 0; i < 5; i++) await cacher.client.ping();
			await new Promise(resolve => setTimeout(resolve, 300));
			expect(await redis.exists(...decoys)).toBe(decoys.length);
		} finally {
			await redis.del(...decoys);
			redis.disconnect();
			await broker.stop();
		}
	});
});
