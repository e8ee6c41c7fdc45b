import fs from "fs";
import path from "path";
import Redis from "ioredis";
import { namespacePrefix } from "../../lib/infra/redis";
import { waitFor } from "../helpers/broker";
import { HEALTH_POLL_MS, REDIS_URL, TestCluster, loginAdmin, requireInfrastructure, waitForRunning, type ShopNode } from "../helpers/cluster";
import { HttpClient } from "../helpers/http";
import { connectSocket } from "../helpers/socket";

/**
 * The gateway, customers and products in separate processes over the real
 * RabbitMQ (AMQP transporter) and Redis (cacher, rate-limit counters).
 */
describe("cluster over RabbitMQ and Redis", () => {
	const RATE_LIMIT = 40;
	const cluster = new TestCluster({ RATE_LIMIT_MAX: String(RATE_LIMIT), TRUST_PROXY: "1" });
	let gatewayA: ShopNode;
	let gatewayB: ShopNode;
	let products: ShopNode;
	let clientSeq = 0;
	/** Each test speaks as its own client (TRUST_PROXY is on), so rate-limit counters do not mix. */
	const client = (gw: ShopNode, clientId = `198.51.100.${++clientSeq}`) => new HttpClient(`http://127.0.0.1:${gw.port}/api`, { "x-forwarded-for": clientId });
	let adminToken: string;

	beforeAll(async () => {
		await requireInfrastructure();
		[gatewayA, gatewayB] = await Promise.all([cluster.start("gateway-a", "api"), cluster.start("gateway-b", "api"), cluster.startCustomers()]);
		[products] = await Promise.all([cluster.start("products", "products"), cluster.start("orders", "orders")]);
		const http = client(gatewayA);
		// A client per poll: health counts against the limit of 40.
		await waitForRunning(() => client(gatewayA), ["product-service", "customer-service", "order-service"]);
		await waitForRunning(() => client(gatewayB), ["product-service", "customer-service", "order-service"]);
		// Health is each gateway's view; orders must also know products and customers.
		await cluster.waitForMeshAlone();
		adminToken = await loginAdmin(http);
	}, 120_000);

	afterAll(() => cluster.stopAll(), 30_000);

	it("serves a request through the gateway from the process that owns the data", async () => {
		const http = client(gatewayA);
		const created = await http.post("/products", { sku: "REMOTE-1", name: "Remote lamp", category: "lamps", priceCents: 1234, stock: 3 }, adminToken);
		expect(created.status).toBe(201);
		const read = await http.get(`/products/${created.body.id}`);
		expect(read.body).toEqual(created.body);
		// The gateway process runs no products service: the document lives in the products node's store.
		expect(fs.readFileSync(path.join(products.dataDir, "products.db"), "utf8")).toContain("REMOTE-1");
		expect(fs.existsSync(path.join(gatewayA.dataDir, "products.db"))).toBe(false);
	});

	it("registers and signs in through one gateway, and the token works on the other", async () => {
		const reg = await client(gatewayA).post("/auth/register", { name: "Net", email: "net@shop.test", password: "password-1" });
		expect(reg.status).toBe(201);
		const me = await client(gatewayB).get("/customers/me", reg.body.token);
		expect(me.status).toBe(200);
		expect(me.body.email).toBe("net@shop.test");
	});

	it("reads a product fresh through gateway B right after gateway A answered its change", async () => {
		const a = client(gatewayA);
		const b = client(gatewayB);
		const p = (await a.post("/products", { sku: "FRESH-1", name: "Fresh", category: "c", priceCents: 100, stock: 5 }, adminToken)).body;
		for (let round = 1; round <= 5; round++) {
			// Both gateways hold the answer in their near cache before the write (middlewares/near-cache.ts).
			for (const gw of [a, b, a, b]) {
				expect((await gw.get(`/products/${p.id}`)).body.priceCents).toBe(100 * round);
				expect((await gw.get(`/products?ids=${p.id}`)).body.rows[0].priceCents).toBe(100 * round);
			}
			const patched = await a.patch(`/products/${p.id}`, { priceCents: 100 * (round + 1) }, adminToken);
			expect(patched.status).toBe(200);
			for (const gw of [b, a]) {
				expect((await gw.get(`/products/${p.id}`)).body.priceCents).toBe(100 * (round + 1));
				expect((await gw.get(`/products?ids=${p.id}`)).body.rows[0].priceCents).toBe(100 * (round + 1));
			}
		}
	});

	it("keeps a gateway's near cache clean of hostile bodies: a hidden category is refused, and the real filter still filters for every client", async () => {
		const a = client(gatewayA);
		const b = client(gatewayB);
		await a.post("/products", { sku: "POISON-1", name: "Poison", category: "c", priceCents: 100, stock: 5 }, adminToken);
		const hostile = await a.raw("GET", "/products", '{"__proto__":{"category":"NoSuchCategory"}}', { "content-type": "application/json" });
		expect(hostile.status).toBe(422);
		expect(hostile.body).toMatchObject({ type: "VALIDATION_ERROR", data: [expect.objectContaining({ type: "prototypeKey" })] });
		const typed = await a.raw("GET", "/products", '{"pageSize":"3"}', { "content-type": "application/json" });
		expect(typed.status).toBe(422);
		for (const gw of [a, b, client(gatewayA)]) {
			const filtered = await gw.get("/products?category=NoSuchCategory");
			expect([filtered.status, filtered.body.total, filtered.body.rows]).toEqual([200, 0, []]);
		}
		expect((await a.get("/products?pageSize=3")).body.rows.length).toBeGreaterThan(0);
	});

	it("answers a cached read from the gateway's near cache while the products version in Redis is unchanged, and asks again once it changes", async () => {
		const a = client(gatewayA);
		const p = (await a.post("/products", { sku: "NEAR-1", name: "Near", category: "c", priceCents: 700, stock: 5 }, adminToken)).body;
		const redis = new Redis(REDIS_URL);
		try {
			// The products node's cached answer (stored once the create's write lease has ended: lib/infra/cache-versions.ts).
			const [key] = await waitFor(async () => {
				expect((await a.get(`/products/${p.id}`)).body.priceCents).toBe(700);
				const keys = await redis.keys(`${namespacePrefix(cluster.namespace)}cache:*:products.get:*${p.id}*`);
				return keys.length ? keys : null;
			});
			expect((await a.get(`/products/${p.id}`)).body.priceCents).toBe(700);
			// Rewritten behind everyone's back: only a read that reaches the products node sees it.
			await redis.set(key, JSON.stringify({ ...p, priceCents: 701 }));
			expect((await a.get(`/products/${p.id}`)).body.priceCents).toBe(700);
			// Another version, with an answer of its own stored under it: the gateway asks the products node, which answers it.
			const version = key.split(":")[3];
			await redis.set(key.replace(`:cache:${version}:`, ":cache:a-version-no-write-set:"), JSON.stringify({ ...p, priceCents: 701 }), "EX", 60);
			await redis.set(`${namespacePrefix(cluster.namespace)}version:products`, "a-version-no-write-set");
			expect((await a.get(`/products/${p.id}`)).body.priceCents).toBe(701);
		} finally {
			redis.disconnect();
		}
	});

	it("refuses the orders of a customer blocked through gateway A at once through gateway B, and takes them again from a new sign-in once unblocked", async () => {
		const a = client(gatewayA);
		const b = client(gatewayB);
		const p = (await a.post("/products", { sku: "BLOCK-1", name: "Blocked lamp", category: "c", priceCents: 100, stock: 50 }, adminToken)).body;
		const customer = (await a.post("/auth/register", { name: "Soon blocked", email: "soon-blocked@shop.test", password: "password-1" })).body;
		let token = customer.token as string;
		const order = (gw: HttpClient) => gw.post("/orders", { items: [{ productId: p.id, quantity: 1 }] }, token);
		for (let round = 0; round < 3; round++) {
			// Allowed, twice through each gateway: each holds the token's version in its near cache.
			for (const gw of [a, b, a, b]) expect((await order(gw)).status).toBe(201);
			expect((await a.patch(`/customers/${customer.customer.id}`, { blocked: true }, adminToken)).status).toBe(200);
			for (const gw of [b, a]) expect((await order(gw)).body).toMatchObject({ code: 401, type: "TOKEN_REVOKED" });
			expect((await b.patch(`/customers/${customer.customer.id}`, { blocked: false }, adminToken)).status).toBe(200);
			expect((await order(a)).body).toMatchObject({ code: 401, type: "TOKEN_REVOKED" });
			token = (await b.post("/auth/login", { email: "soon-blocked@shop.test", password: "password-1" })).body.token;
		}
		expect((await a.get(`/products/${p.id}`)).body.stock).toBe(50 - 12);
	});

	it("ends tokens revoked through one gateway at once through the other, and closes their open sockets there (sign-out everywhere, a password change, a role change)", async () => {
		const a = client(gatewayA);
		const b = client(gatewayB);
		const revoked = { code: 401, type: "TOKEN_REVOKED" };
		const reg = (await a.post("/auth/register", { name: "Revoked", email: "revoked@shop.test", password: "password-1" })).body;
		const meWith = (gw: HttpClient, token: string) => gw.get("/customers/me", token);
		// Each gateway holds the token's version in its near cache.
		for (const gw of [a, b, a, b]) expect((await meWith(gw, reg.token)).status).toBe(200);
		const socket = await connectSocket(`http://127.0.0.1:${gatewayB.port}`, reg.token);
		try {
			const closed = new Promise<string>(resolve => socket.once("disconnect", reason => resolve(reason)));
			expect((await a.post("/auth/logout-all", undefined, reg.token)).status).toBe(204);
			for (const gw of [b, a]) expect((await meWith(gw, reg.token)).body).toMatchObject(revoked);
			expect(await closed).toBe("io server disconnect");
		} finally {
			socket.close();
		}

		const token = (await a.post("/auth/login", { email: "revoked@shop.test", password: "password-1" })).body.token as string;
		for (const gw of [a, b, a, b]) expect((await meWith(gw, token)).status).toBe(200);
		const changed = await b.patch("/customers/me", { password: "password-2", currentPassword: "password-1" }, token);
		expect(changed.status).toBe(200);
		for (const gw of [a, b]) expect((await meWith(gw, token)).body).toMatchObject(revoked);
		for (const gw of [a, b]) expect((await meWith(gw, changed.body.token)).status).toBe(200);

		expect((await b.patch(`/customers/${reg.customer.id}`, { blocked: false, role: "admin" }, adminToken)).status).toBe(200);
		for (const gw of [a, b]) expect((await meWith(gw, changed.body.token)).body).toMatchObject(revoked);
		const admin = (await b.post("/auth/login", { email: "revoked@shop.test", password: "password-2" })).body.token as string;
		for (const gw of [a, b]) expect((await gw.get("/customers", admin)).status).toBe(200);
	});

	it("holds the rate limit across two gateway nodes sharing Redis", async () => {
		const clientId = "203.0.113.77";
		const a = client(gatewayA, clientId);
		const b = client(gatewayB, clientId);
		for (let i = 0; i < RATE_LIMIT; i++) {
			const res = await (i % 2 ? b : a).get("/categories");
			expect(res.status).toBe(200);
		}
		const over = await b.get("/categories");
		expect(over.status).toBe(429);
		expect(over.headers.get("x-rate-limit-remaining")).toBe("0");
		// Another client is not affected.
		expect((await client(gatewayB).get("/categories")).status).toBe(200);
		// One counter for both gateways, which Redis forgets on its own (two windows after its first count).
		const redis = new Redis(REDIS_URL);
		try {
			const keys = await redis.keys(`${namespacePrefix(cluster.namespace)}ratelimit:*:${clientId}`);
			expect(keys.length).toBeGreaterThanOrEqual(1);
			for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(0);
		} finally {
			redis.disconnect();
		}
	});

	it("reports product-service down (503) once the products process is killed", async () => {
		await products.kill();
		// The gateway's report may be up to a second old.
		const health = await waitFor(
			async () => {
				const answer = await client(gatewayA).get("/health");
				return answer.status === 200 ? null : answer;
			},
			10_000,
			"a degraded report",
			HEALTH_POLL_MS,
		);
		expect(health.status).toBe(503);
		expect(health.body.status).toBe("degraded");
		expect(health.body.services["product-service"]).toBe("down");
		expect(health.body.services["customer-service"]).toBe("running");
	});
});
