import { Agent, request as httpRequest } from "http";
import zlib from "zlib";
import type { ServiceBroker } from "moleculer";
import { waitFor } from "../helpers/broker";
import { startInProcessShop } from "../helpers/gateway";
import { HttpClient } from "../helpers/http";

describe("api gateway over HTTP (embedded default)", () => {
	let broker: ServiceBroker;
	let http: HttpClient;
	let adminToken: string;
	let customerToken: string;

	let shop: Awaited<ReturnType<typeof startInProcessShop>>;

	beforeAll(async () => {
		shop = await startInProcessShop(["api", "customers", "products", "orders", "alerts", "analytics", "payments", "carts", "notifications"], {
			admin: { email: "admin@shop.test", password: "admin-password" },
		});
		broker = shop.broker;
		http = new HttpClient(`${shop.url}/api`);
		adminToken = (await http.post("/auth/login", { email: "admin@shop.test", password: "admin-password" })).body.token;
		customerToken = (await http.post("/auth/register", { name: "Cus", email: "cus@shop.test", password: "password-1" })).body.token;
	});
	afterAll(() => shop.stop());
	afterAll(() => {
		// No answer of the whole suite carried a stack trace or a password hash.
		for (const text of http.seen) {
			expect(text).not.toMatch(/"stack"|\bat .+\.(js|ts):\d+|passwordHash|\$2[aby]\$\d\d\$/);
		}
	});

	const json422 = (path: string, body: string, token: string) => http.raw("POST", path, body, { "content-type": "application/json", authorization: `Bearer ${token}` });

	const newProduct = (over: Record<string, unknown> = {}) =>
		http.post("/products", { sku: `SKU-${Math.random().toString(36).slice(2, 10)}`, name: "Lamp", category: "lamps", priceCents: 1999, stock: 10, ...over }, adminToken);

	describe("health", () => {
		it("answers 200 with every service running, in the exact shape", async () => {
			const res = await http.get("/health");
			expect(res.status).toBe(200);
			expect(res.body).toEqual({
				status: "ok",
				services: {
					"order-service": "running",
					"product-service": "running",
					"customer-service": "running",
					"alert-service": "running",
					"analytics-service": "running",
					"payment-service": "running",
					"cart-service": "running",
					"notification-service": "running",
				},
				dependencies: { transporter: "none", cache: "none" },
			});
		});

		it("answers 503 naming the service that is down (once its report of up to a second ago is renewed)", async () => {
			const analytics = broker.getLocalService("analytics");
			await broker.destroyService(analytics);
			try {
				const res = await waitFor(
					async () => {
						const answer = await http.get("/health");
						return answer.status === 200 ? null : answer;
					},
					5000,
					"a degraded health report",
				);
				expect(res.status).toBe(503);
				expect(res.body.status).toBe("degraded");
				expect(res.body.services["analytics-service"]).toBe("down");
				expect(res.body.services["order-service"]).toBe("running");
			} finally {
				broker.createService((await import("../../services/analytics.service")).default);
				await broker.waitForServices(["analytics"]);
			}
		});
	});

	describe("auth and customers", () => {
		it("registers (201), ignoring a role sent by the client", async () => {
			const res = await http.post("/auth/register", { name: "Eve", email: "eve@shop.test", password: "password-1", role: "admin" });
			expect(res.status).toBe(201);
			expect(res.body.customer).toMatchObject({ email: "eve@shop.test", role: "customer" });
			const me = await http.get("/customers/me", res.body.token);
			expect(me.body.role).toBe("customer");
			expect((await http.get("/customers", res.body.token)).status).toBe(403);
		});

		it("answers 409 for a taken email, in any case", async () => {
			const res = await http.post("/auth/register", { name: "Cus", email: "CUS@shop.test", password: "password-1" });
			expect(res.status).toBe(409);
			expect(res.body).toMatchObject({ name: "ConflictError", code: 409, type: "EMAIL_TAKEN" });
		});

		it("answers 422 naming each bad field, and 422 for an operator-shaped value", async () => {
			const res = await http.post("/auth/register", { name: "", email: "nope", password: "short" });
			expect(res.status).toBe(422);
			expect(res.body.type).toBe("VALIDATION_ERROR");
			expect(res.body.data.map((d: any) => d.field).sort()).toEqual(["email", "name", "password"]);
			const op = await http.post("/auth/login", { email: { $gt: "" }, password: { $gt: "" } });
			expect(op.status).toBe(422);
		});

		it("answers 400 for malformed JSON and 413 for a body over 100 kB", async () => {
			const bad = await http.request("POST", "/auth/register", { raw: '{"name": "x",' });
			expect(bad.status).toBe(400);
			expect(bad.body).toMatchObject({ code: 400, type: "INVALID_JSON" });
			const big = await http.post("/auth/register", { name: "x".repeat(101 * 1024), email: "big@shop.test", password: "password-1" });
			expect(big.status).toBe(413);
			expect(big.body.code).toBe(413);
			expect((await http.post("/auth/login", { email: "big@shop.test", password: "password-1" })).status).toBe(401);
		});

		it("logs in (200), 401 with one message for a wrong password or unknown email", async () => {
			const ok = await http.post("/auth/login", { email: "cus@shop.test", password: "password-1" });
			expect(ok.status).toBe(200);
			expect(ok.body.customer.email).toBe("cus@shop.test");
			const wrong = await http.post("/auth/login", { email: "cus@shop.test", password: "password-2" });
			const unknown = await http.post("/auth/login", { email: "who@shop.test", password: "password-1" });
			expect([wrong.status, unknown.status]).toEqual([401, 401]);
			expect(wrong.body.message).toBe(unknown.body.message);
		});

		it("answers 401 without a token, with a forged token, or with a malformed header", async () => {
			expect((await http.get("/customers/me")).status).toBe(401);
			const forged = await http.get("/customers/me", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0.bad");
			expect(forged.status).toBe(401);
			expect((await http.get("/customers/me", undefined, { authorization: "Basic abc" })).status).toBe(401);
		});

		it("judges each request's token on its own, on one kept-alive connection too: a forged or another account's token after a valid one is not taken for it", async () => {
			const agent = new Agent({ keepAlive: true, maxSockets: 1 });
			const ports = new Set<number>();
			const me = (authorization: string) =>
				new Promise<{ status: number; body: { email?: string } }>((resolve, reject) => {
					const req = httpRequest(`${shop.url}/api/customers/me`, { agent, headers: { authorization } }, res => {
						ports.add(res.socket.localPort!);
						let text = "";
						res.on("data", chunk => (text += chunk)).on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
					});
					req.on("error", reject).end();
				});
			try {
				const [head, payload] = customerToken.split(".");
				expect(await me(`Bearer ${customerToken}`)).toMatchObject({ status: 200, body: { email: "cus@shop.test" } });
				expect((await me(`Bearer ${head}.${payload}.${"A".repeat(43)}`)).status).toBe(401);
				expect((await me(`Bearer ${customerToken}x`)).status).toBe(401);
				expect(await me(`Bearer ${adminToken}`)).toMatchObject({ status: 200, body: { email: "admin@shop.test" } });
				expect(await me(`Bearer ${customerToken}`)).toMatchObject({ status: 200, body: { email: "cus@shop.test" } });
				expect((await me(`Basic ${customerToken}`)).status).toBe(401);
				expect(ports.size).toBe(1);
			} finally {
				agent.destroy();
			}
		});

		it("updates the own profile; fields the client may not set are dropped", async () => {
			const res = await http.patch("/customers/me", { name: "Cus Two", role: "admin", blocked: true, email: "x@y.z", tokenVersion: 99 }, customerToken);
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ name: "Cus Two", role: "customer", blocked: false, email: "cus@shop.test" });
		});

		it("lets an admin list, read and block customers; 403 for a customer", async () => {
			const list = await http.get("/customers?page=1&pageSize=2", adminToken);
			expect(list.status).toBe(200);
			expect(list.body).toMatchObject({ page: 1, pageSize: 2, total: expect.any(Number), totalPages: expect.any(Number) });
			expect(list.body.rows).toHaveLength(2);
			expect((await http.get("/customers?pageSize=101", adminToken)).status).toBe(422);
			const target = (await http.post("/auth/register", { name: "Blk", email: "blk@shop.test", password: "password-1" })).body.customer;
			expect((await http.get(`/customers/${target.id}`, adminToken)).body).toEqual(target);
			expect((await http.get(`/customers/${target.id}`, customerToken)).status).toBe(403);
			expect((await http.patch(`/customers/${target.id}`, { blocked: true }, customerToken)).status).toBe(403);
			expect((await http.patch(`/customers/${target.id}`, { blocked: "yes" }, adminToken)).status).toBe(422);
			const blocked = await http.patch(`/customers/${target.id}`, { blocked: true }, adminToken);
			expect(blocked.status).toBe(200);
			expect(blocked.body.blocked).toBe(true);
			expect((await http.post("/auth/login", { email: "blk@shop.test", password: "password-1" })).status).toBe(403);
			expect((await http.get("/customers/nope", adminToken)).status).toBe(404);
		});
	});

	describe("revoked tokens: every earlier token of an account ends", () => {
		let seq = 0;
		const register = async () => {
			const email = `revoked-${++seq}@shop.test`;
			const res = await http.post("/auth/register", { name: "Rev", email, password: "password-1" });
			return { email, id: res.body.customer.id as string, token: res.body.token as string };
		};
		const login = async (email: string, password = "password-1") => (await http.post("/auth/login", { email, password })).body.token as string;
		/** An admin of its own, made through the role route. */
		const newAdmin = async () => {
			const account = await register();
			expect((await http.patch(`/customers/${account.id}`, { blocked: false, role: "admin" }, adminToken)).body.role).toBe("admin");
			return { ...account, token: await login(account.email) };
		};
		const refused = { code: 401, type: "TOKEN_REVOKED" };

		it("ends an admin's token when it blocks its own account: it cannot unblock itself", async () => {
			const rogue = await newAdmin();
			expect((await http.get("/customers", rogue.token)).status).toBe(200);
			expect((await http.patch(`/customers/${rogue.id}`, { blocked: true }, rogue.token)).status).toBe(200);
			expect((await http.patch(`/customers/${rogue.id}`, { blocked: false }, rogue.token)).body).toMatchObject(refused);
			expect((await http.get("/customers", rogue.token)).body).toMatchObject(refused);
			expect((await http.get(`/customers/${rogue.id}`, adminToken)).body.blocked).toBe(true);
		});

		it("ends the tokens of a blocked customer on every route, public ones too, and unblocking does not bring them back", async () => {
			const victim = await register();
			expect((await http.patch(`/customers/${victim.id}`, { blocked: true }, adminToken)).status).toBe(200);
			for (const res of [await http.get("/customers/me", victim.token), await http.get("/orders", victim.token), await http.get("/categories", victim.token)])
				expect(res.body).toMatchObject(refused);
			expect((await http.patch(`/customers/${victim.id}`, { blocked: false }, adminToken)).status).toBe(200);
			expect((await http.get("/customers/me", victim.token)).body).toMatchObject(refused);
			expect((await http.get("/customers/me", await login(victim.email))).status).toBe(200);
		});

		it("ends the tokens of a role change: a demoted admin's token no longer reaches admin routes, nor does a promoted customer's old one", async () => {
			const customer = await register();
			const demoted = await newAdmin();
			expect((await http.get("/customers/me", customer.token)).status).toBe(200);
			expect((await http.patch(`/customers/${customer.id}`, { blocked: false, role: "admin" }, adminToken)).status).toBe(200);
			expect((await http.get("/customers/me", customer.token)).body).toMatchObject(refused);
			expect((await http.patch(`/customers/${demoted.id}`, { blocked: false, role: "customer" }, adminToken)).body.role).toBe("customer");
			expect((await http.get("/customers", demoted.token)).body).toMatchObject(refused);
			expect((await http.get("/customers", await login(demoted.email))).status).toBe(403);
			expect((await http.patch(`/customers/${customer.id}`, { blocked: false, role: "root" }, adminToken)).status).toBe(422);
		});

		it("ends the earlier tokens on a password change, which needs the current password and answers a fresh token", async () => {
			const account = await register();
			const other = await login(account.email);
			expect((await http.patch("/customers/me", { password: "password-2" }, account.token)).status).toBe(422);
			expect((await http.patch("/customers/me", { password: "password-2", currentPassword: "wrong-one" }, account.token)).status).toBe(403);
			expect((await http.get("/customers/me", account.token)).status).toBe(200);
			const changed = await http.patch("/customers/me", { password: "password-2", currentPassword: "password-1" }, account.token);
			expect(changed.status).toBe(200);
			expect(changed.body).toEqual({ customer: expect.objectContaining({ id: account.id }), token: expect.any(String) });
			for (const old of [account.token, other]) expect((await http.get("/customers/me", old)).body).toMatchObject(refused);
			expect((await http.get("/customers/me", changed.body.token)).status).toBe(200);
			expect((await http.post("/auth/login", { email: account.email, password: "password-2" })).status).toBe(200);
		});

		it("ends every earlier token with POST /auth/logout-all (204), and a new sign-in works", async () => {
			const account = await register();
			const second = await login(account.email);
			const out = await http.post("/auth/logout-all", undefined, account.token);
			expect(out.status).toBe(204);
			expect(out.text).toBe("");
			for (const old of [account.token, second]) expect((await http.get("/customers/me", old)).body).toMatchObject(refused);
			expect((await http.post("/auth/logout-all", undefined, account.token)).status).toBe(401);
			expect((await http.post("/auth/logout-all")).status).toBe(401);
			expect((await http.get("/customers/me", await login(account.email))).status).toBe(200);
		});

		it("refuses writes (503, nothing stored) while the customers service cannot say whether a token is current and the gateway does not hold its version; reads go on the token alone", async () => {
			const alone = await startInProcessShop(["api", "customers", "products", "orders"], { admin: { email: "boss@shop.test", password: "boss-password" } });
			try {
				const web = new HttpClient(`${alone.url}/api`);
				const boss = (await web.post("/auth/login", { email: "boss@shop.test", password: "boss-password" })).body.token as string;
				const product = (await web.post("/products", { sku: "UP-1", name: "Lamp", category: "lamps", priceCents: 100, stock: 5 }, boss)).body;
				// Registered, never used: the gateway holds no version for this account.
				const fresh = (await web.post("/auth/register", { name: "New", email: "new@shop.test", password: "password-1" })).body.token as string;
				expect((await web.get("/customers/me", boss)).status).toBe(200);
				await alone.broker.destroyService(alone.broker.getLocalService("customers"));
				const refused = await web.post("/orders", { items: [{ productId: product.id, quantity: 1 }] }, fresh);
				expect(refused.status).toBe(503);
				expect(refused.body.type).toBe("TOKEN_CHECK_UNAVAILABLE");
				expect((await web.get(`/products/${product.id}`, fresh)).body.stock).toBe(5);
				expect((await web.get("/orders", boss)).body.total).toBe(0);
				// The boss's version, read after the last customers write, is still the current one: the gateway goes on it.
				expect((await web.post("/products", { sku: "DOWN-1", name: "Lamp", category: "lamps", priceCents: 100, stock: 1 }, boss)).status).toBe(201);
			} finally {
				await alone.stop();
			}
		});
	});

	describe("products", () => {
		it("creates (201) as admin; 401 anonymous, 403 customer, 409 taken sku, 422 typed fields", async () => {
			const res = await newProduct({ sku: "LAMP-1", stockLevel: 1, deleted: true });
			expect(res.status).toBe(201);
			expect(Object.keys(res.body).sort()).toEqual(["category", "createdAt", "description", "id", "images", "lowStockThreshold", "name", "priceCents", "sku", "stock", "updatedAt"]);
			expect((await http.post("/products", { sku: "LAMP-2", name: "x", category: "c", priceCents: 1, stock: 1 })).status).toBe(401);
			expect((await http.post("/products", { sku: "LAMP-2", name: "x", category: "c", priceCents: 1, stock: 1 }, customerToken)).status).toBe(403);
			expect((await newProduct({ sku: "LAMP-1" })).status).toBe(409);
			const typed = await newProduct({ priceCents: "12", stock: 1.5 });
			expect(typed.status).toBe(422);
			expect(typed.body.data.map((d: any) => d.field).sort()).toEqual(["priceCents", "stock"]);
			expect((await http.get("/products?search=LAMP-2")).body.total).toBe(0);
		});

		it("reads, lists with query-string numbers, and 404s unknown ids", async () => {
			const p = (await newProduct({ category: "desks", priceCents: 5000 })).body;
			expect((await http.get(`/products/${p.id}`)).body).toEqual(p);
			expect((await http.get("/products/unknown-id")).status).toBe(404);
			const list = await http.get("/products?category=desks&page=1&pageSize=5&sort=-priceCents");
			expect(list.status).toBe(200);
			expect(list.body).toMatchObject({ total: 1, page: 1, pageSize: 5, totalPages: 1 });
			expect(list.body.rows[0]).toEqual(p);
			expect((await http.get("/products?pageSize=0")).status).toBe(422);
			expect((await http.get("/products?pageSize=101")).status).toBe(422);
			const cats = await http.get("/categories");
			expect(cats.body).toEqual(expect.arrayContaining([{ name: "desks", productCount: 1 }]));
		});

		it("updates without touching stock, restocks, deletes; a read right after a change is fresh", async () => {
			const p = (await newProduct({ stock: 4 })).body;
			await http.get(`/products/${p.id}`);
			const upd = await http.patch(`/products/${p.id}`, { priceCents: 2500, stock: 100 }, adminToken);
			expect(upd.status).toBe(200);
			expect((await http.get(`/products/${p.id}`)).body).toMatchObject({ priceCents: 2500, stock: 4 });
			expect((await http.patch(`/products/${p.id}`, { priceCents: -5 }, adminToken)).status).toBe(422);
			expect((await http.patch(`/products/${p.id}`, { priceCents: 1 }, customerToken)).status).toBe(403);
			const re = await http.post(`/products/${p.id}/restock`, { quantity: 6 }, adminToken);
			expect(re.status).toBe(200);
			expect(re.body.stock).toBe(10);
			expect((await http.post(`/products/${p.id}/restock`, { quantity: 0 }, adminToken)).status).toBe(422);
			expect((await http.post(`/products/${p.id}/restock`, { quantity: "6" }, adminToken)).status).toBe(422);
			expect((await http.get(`/products/${p.id}`)).body.stock).toBe(10);
			expect((await http.delete(`/products/${p.id}`, customerToken)).status).toBe(403);
			expect((await http.delete(`/products/${p.id}`, adminToken)).status).toBe(200);
			expect((await http.get(`/products/${p.id}`)).status).toBe(404);
			expect((await http.delete(`/products/${p.id}`, adminToken)).status).toBe(404);
		});

		it("treats an id in the path as data, never as a query", async () => {
			expect((await http.get(`/products/${encodeURIComponent('{"$gt":""}')}`)).status).toBe(404);
		});
	});

	describe("orders", () => {
		it("places an order (201), replays it for the same Idempotency-Key (200), 422 for a key over 100 characters", async () => {
			const p = (await newProduct({ stock: 5, priceCents: 300 })).body;
			const body = { items: [{ productId: p.id, quantity: 2 }], totalCents: 1 };
			const first = await http.post("/orders", body, customerToken, { "idempotency-key": "abc-1" });
			expect(first.status).toBe(201);
			expect(first.body).toMatchObject({ status: "confirmed", totalCents: 600 });
			const again = await http.post("/orders", body, customerToken, { "idempotency-key": "abc-1" });
			expect(again.status).toBe(200);
			expect(again.body.id).toBe(first.body.id);
			const long = await http.post("/orders", body, customerToken, { "idempotency-key": "k".repeat(101) });
			expect(long.status).toBe(422);
			expect((await http.get(`/products/${p.id}`)).body.stock).toBe(3);
		});

		it("answers 401 without a token, 409 when short, 422 for an unknown product or a bad body", async () => {
			const p = (await newProduct({ stock: 1 })).body;
			expect((await http.post("/orders", { items: [{ productId: p.id, quantity: 1 }] })).status).toBe(401);
			const short = await http.post("/orders", { items: [{ productId: p.id, quantity: 2 }] }, customerToken);
			expect(short.status).toBe(409);
			expect(short.body).toMatchObject({ type: "INSUFFICIENT_STOCK", data: { items: [{ productId: p.id, requested: 2, available: 1 }] } });
			expect((await http.post("/orders", { items: [{ productId: "nope", quantity: 1 }] }, customerToken)).status).toBe(422);
			expect((await http.post("/orders", { items: [{ productId: p.id, quantity: "1" }] }, customerToken)).status).toBe(422);
			expect((await http.post("/orders", { items: [] }, customerToken)).status).toBe(422);
			expect((await http.get(`/products/${p.id}`)).body.stock).toBe(1);
		});

		it("hides another customer's order (404), lets the owner cancel it and only an admin ship it", async () => {
			const p = (await newProduct({ stock: 5 })).body;
			const order = (await http.post("/orders", { items: [{ productId: p.id, quantity: 1 }] }, customerToken)).body;
			const other = (await http.post("/auth/register", { name: "Oth", email: "oth@shop.test", password: "password-1" })).body.token;
			expect((await http.get(`/orders/${order.id}`, other)).status).toBe(404);
			expect((await http.post(`/orders/${order.id}/cancel`, {}, other)).status).toBe(404);
			expect((await http.get("/orders", other)).body.total).toBe(0);
			expect((await http.patch(`/orders/${order.id}/status`, { status: "shipped" }, customerToken)).status).toBe(403);
			expect((await http.get(`/orders/${order.id}`, customerToken)).body.status).toBe("confirmed");
			const cancelled = await http.post(`/orders/${order.id}/cancel`, {}, customerToken);
			expect(cancelled.status).toBe(200);
			expect(cancelled.body.status).toBe("cancelled");
			expect((await http.patch(`/orders/${order.id}/status`, { status: "shipped" }, adminToken)).status).toBe(409);
			expect((await http.get(`/products/${p.id}`)).body.stock).toBe(5);
		});
	});

	describe("alerts and analytics", () => {
		it("are for admins only: 401 anonymous, 403 customer, 200 admin", async () => {
			for (const path of ["/alerts", "/analytics/dashboard", "/analytics/sales?interval=day"]) {
				expect((await http.get(path)).status).toBe(401);
				expect((await http.get(path, customerToken)).status).toBe(403);
				expect((await http.get(path, adminToken)).status).toBe(200);
			}
			expect((await http.post("/alerts/x/ack", {}, customerToken)).status).toBe(403);
			expect((await http.post("/alerts/x/ack", {}, adminToken)).status).toBe(404);
		});

		it("names the value sent and the values allowed in an enum's 422, each in its place", async () => {
			const res = await http.get("/products?sort=bogus");
			expect(res.status).toBe(422);
			expect(res.body.data).toEqual([expect.objectContaining({ field: "sort", type: "enumValue", actual: "bogus" })]);
			expect(res.body.data[0].message).toMatch(/^The 'sort' field must be one of priceCents, -priceCents, .* \(not 'bogus'\)\.$/);
		});

		it("validates their query strings (422)", async () => {
			expect((await http.get("/alerts?acknowledged=maybe", adminToken)).status).toBe(422);
			expect((await http.get("/alerts?type=other", adminToken)).status).toBe(422);
			expect((await http.get("/analytics/sales?interval=week", adminToken)).status).toBe(422);
			expect((await http.get("/analytics/sales?from=yesterday", adminToken)).status).toBe(422);
		});

		it("shows an answered order on the dashboard", async () => {
			const p = (await newProduct({ stock: 5, priceCents: 1234 })).body;
			const order = (await http.post("/orders", { items: [{ productId: p.id, quantity: 1 }] }, customerToken)).body;
			const dash = await waitFor(
				async () => {
					const d = (await http.get("/analytics/dashboard", adminToken)).body;
					return d.topProducts.some((t: any) => t.productId === p.id) ? d : null;
				},
				5000,
				"the order on the dashboard",
			);
			expect(dash.revenueCents).toBeGreaterThanOrEqual(order.totalCents);
			expect(Object.keys(dash).sort()).toEqual(["averageOrderValueCents", "customers", "lowStockProducts", "ordersByStatus", "revenueCents", "topProducts", "totalOrders", "updatedAt"]);
		});
	});

	describe("bad input leaves everything as it was", () => {
		const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;

		it("answers 422 for null where the contract does not say nullable, and stores nothing", async () => {
			const p = (await newProduct({ stock: 3, description: "kept" })).body;
			for (const field of ["priceCents", "name", "category", "description", "lowStockThreshold"]) {
				const res = await http.patch(`/products/${p.id}`, { [field]: null }, adminToken);
				expect([field, res.status, res.body.data?.[0]?.field]).toEqual([field, 422, field]);
			}
			expect((await http.get(`/products/${p.id}`)).body).toEqual(p);
			expect((await http.get("/categories")).body.map((c: any) => c.name)).not.toContain("null");
			const me = (await http.get("/customers/me", customerToken)).body;
			expect((await http.patch("/customers/me", { name: null }, customerToken)).status).toBe(422);
			expect((await http.patch("/customers/me", { password: null }, customerToken)).status).toBe(422);
			expect((await http.get("/customers/me", customerToken)).body).toEqual(me);
			expect((await http.raw("GET", "/products", JSON.stringify({ ids: null }), { "content-type": "application/json" })).status).toBe(422);
			expect((await http.get("/products?pageSize=2")).status).toBe(200);
		});

		it("takes JSON as typed on every method: a string for a number, a number for a date are 422 in a body, converted only in a query string", async () => {
			const body = (o: object) => http.raw("GET", "/products", JSON.stringify(o), { "content-type": "application/json" });
			expect([(await body({ page: "2" })).status, (await body({ pageSize: "5" })).status, (await body({ page: 2 })).status]).toEqual([422, 422, 200]);
			const refused = await body({ page: "2" });
			expect([refused.status, refused.text]).toEqual([422, expect.stringContaining("jsonType")]);
			expect((await http.get("/products?page=2&pageSize=5")).body).toMatchObject({ page: 2, pageSize: 5 });
			const sales = (o: object) => http.raw("GET", "/analytics/sales", JSON.stringify(o), { "content-type": "application/json", authorization: `Bearer ${adminToken}` });
			expect([(await sales({ from: 0 })).status, (await sales({ from: "2026-01-01" })).status]).toEqual([422, 200]);
			const alerts = (o: object) => http.raw("GET", "/alerts", JSON.stringify(o), { "content-type": "application/json", authorization: `Bearer ${adminToken}` });
			expect([(await alerts({ acknowledged: "true" })).status, (await alerts({ acknowledged: true })).status]).toEqual([422, 200]);
			expect((await http.get("/alerts?acknowledged=true", adminToken)).status).toBe(200);
		});

		it("takes null for phone and shippingAddress, the two nullable fields", async () => {
			const res = await http.post("/auth/register", { name: "Nul", email: "nul@shop.test", password: "password-1", phone: null });
			expect(res.status).toBe(201);
			expect(res.body.customer.phone).toBeNull();
			const p = (await newProduct({ stock: 2 })).body;
			const order = await http.post("/orders", { items: [{ productId: p.id, quantity: 1 }], shippingAddress: null }, res.body.token);
			expect(order.status).toBe(201);
			expect(order.body.shippingAddress).toBeNull();
		});

		it("answers 422 for a body nested deeper than 32 levels, on any route", async () => {
			const deepArrays = (levels: number) => `{"a":${"[".repeat(levels)}${"]".repeat(levels)}}`;
			for (const body of [deep(33), deepArrays(20_000)]) {
				const res = await http.raw("GET", "/categories", body, { "content-type": "application/json" });
				expect([body.length, res.status]).toEqual([body.length, 422]);
				expect(res.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
			}
			expect((await http.raw("POST", "/auth/login", deep(40), { "content-type": "application/json" })).status).toBe(422);
			expect((await http.raw("GET", "/categories", deep(10), { "content-type": "application/json" })).status).toBe(200);
		});

		it("keys cached answers on the params they name, so unknown fields cannot fill the cache", async () => {
			const cacher = broker.cacher as unknown as { getCacheKeys(): Promise<Array<{ key: string }>> };
			// Keys of every version of products' answers, their version left out: one key, however the bodies differ.
			const categoryKeys = async () => new Set((await cacher.getCacheKeys()).map(k => k.key.replace(/^cache:[^:]+:/, "")).filter(k => k.startsWith("products.categories"))).size;
			for (let i = 0; i < 20; i++) {
				const res = await http.raw("GET", "/categories", JSON.stringify({ [`junk${i}`]: "x".repeat(1000) }), { "content-type": "application/json" });
				expect(res.status).toBe(200);
			}
			expect(await categoryKeys()).toBe(1);
		});

		it("answers 415 for an unknown Content-Encoding and 400 for a body that does not decode", async () => {
			const json = JSON.stringify({ email: "cus@shop.test", password: "password-1" });
			const unknown = await http.raw("POST", "/auth/login", json, { "content-type": "application/json", "content-encoding": "x-unknown" });
			expect(unknown.status).toBe(415);
			expect(unknown.body).toMatchObject({ code: 415 });
			const notGzip = await http.raw("POST", "/auth/login", json, { "content-type": "application/json", "content-encoding": "gzip" });
			expect(notGzip.status).toBe(400);
			expect(notGzip.body).toMatchObject({ code: 400 });
			const gzipped = await http.raw("POST", "/auth/login", zlib.gzipSync(json), { "content-type": "application/json", "content-encoding": "gzip" });
			expect(gzipped.status).toBe(200);
			const bomb = await http.raw("POST", "/auth/login", zlib.gzipSync(JSON.stringify({ email: "x@y.z", password: "p".repeat(200 * 1024) })), {
				"content-type": "application/json",
				"content-encoding": "gzip",
			});
			expect(bomb.status).toBe(413);
		});

		it("answers 422 for a password over 72 bytes of UTF-8, which bcrypt would cut", async () => {
			const long = "é".repeat(37); // 37 characters, 74 bytes
			expect((await http.post("/auth/register", { name: "Long", email: "long@shop.test", password: long })).status).toBe(422);
			expect((await http.post("/auth/register", { name: "Long", email: "long@shop.test", password: "p".repeat(73) })).status).toBe(422);
			expect((await http.patch("/customers/me", { password: "p".repeat(73) }, customerToken)).status).toBe(422);
			expect((await http.post("/auth/login", { email: "cus@shop.test", password: "p".repeat(73) })).status).toBe(422);
			expect((await http.post("/auth/register", { name: "Edge", email: "edge@shop.test", password: "é".repeat(36) })).status).toBe(201);
		});

		it("names each bad field in validation errors, never a node id", async () => {
			const res = await http.post("/auth/register", { name: "", email: "nope", password: "short" });
			expect(res.status).toBe(422);
			for (const item of res.body.data) expect(Object.keys(item).sort()).toEqual(expect.arrayContaining(["field", "message", "type"]));
			expect(res.text).not.toContain(broker.nodeID);
			expect(res.text).not.toContain("nodeID");
		});

		describe("keys that would reach a prototype", () => {
			const deepArrays = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;
			const json = (path: string, body: string, method = "GET", token?: string) =>
				http.raw(method, path, body, { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) });
			const trackedContexts = () => [broker, ...broker.services].reduce((n, owner) => n + (owner as unknown as { _trackedContexts: unknown[] })._trackedContexts.length, 0);
			const expectPrototypeRefusal = (res: { status: number; body: any }) => {
				expect(res.status).toBe(422);
				expect(res.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR", data: [expect.objectContaining({ type: "prototypeKey" })] });
			};

			it("answers 422 for __proto__ or constructor.prototype in a JSON body, at any depth and on any method, and releases every request's context", async () => {
				const product = (await newProduct({ stock: 5 })).body;
				const orders = async () => (await http.get("/orders?pageSize=1", adminToken)).body.total;
				const before = { orders: await orders(), customers: (await http.get("/customers?pageSize=1", adminToken)).body.total };
				const item = { productId: product.id, quantity: 1 };
				const bodies: Array<[string, string, string]> = [
					["GET", "/products", `{"__proto__":{"search":${deepArrays(20_000)}}}`],
					["GET", "/products", '{"__proto__":{"category":"NoSuch"}}'],
					["GET", "/products", '{"\\u005f_proto__":{"category":"NoSuch"}}'],
					["POST", "/orders", `{"__proto__":{"search":${deepArrays(20_000)}},"items":[${JSON.stringify(item)}]}`],
					["POST", "/orders", `{"items":[{"productId":"${product.id}","quantity":1,"__proto__":{"quantity":1000}}]}`],
					["POST", "/orders", `{"items":[${JSON.stringify(item)}],"constructor":{"prototype":{"totalCents":0}}}`],
					["POST", "/auth/register", '{"name":"Proto","email":"proto@shop.test","password":"password-1","constructor":{"prototype":{"role":"admin"}}}'],
				];
				for (const [method, path, body] of bodies) expectPrototypeRefusal(await json(path, body, method, customerToken));
				expect(await orders()).toBe(before.orders);
				expect((await http.get(`/products/${product.id}`)).body.stock).toBe(5);
				expect((await http.get("/customers?pageSize=1", adminToken)).body.total).toBe(before.customers);
				await waitFor(() => trackedContexts() === 0, 5000, "every request's context released");
				// A constructor without a prototype in it is a field like any other (unknown here: removed).
				expect((await json("/categories", '{"constructor":{"name":"x"}}')).status).toBe(200);
			});

			it("answers 422 for a prototype key in a query string too, and never lets one through", async () => {
				const all = (await http.get("/products?pageSize=100")).body.total;
				for (const query of ["__proto__[category]=NoSuch", "constructor[prototype][category]=NoSuch", "a[__proto__][b]=1", "%5F%5Fproto%5F%5F[category]=NoSuch"]) {
					const res = await http.get(`/products?pageSize=100&${query}`);
					expectPrototypeRefusal(res);
				}
				for (const query of ["__proto__.category=NoSuch", "constructor=x", "constructor[name]=x"])
					expect([query, (await http.get(`/products?pageSize=100&${query}`)).body.total]).toEqual([query, all]);
				expect((await http.get("/products?pageSize=100&category=NoSuch")).body.total).toBe(0);
			});
		});

		it("refuses an invalid request whether or not a cache holds an answer to a valid one with the same values", async () => {
			expect((await http.get("/products?pageSize=9")).status).toBe(200);
			const typed = await http.raw("GET", "/products", JSON.stringify({ pageSize: "9" }), { "content-type": "application/json" });
			expect(typed.status).toBe(422);
			expect(typed.body.data).toEqual([expect.objectContaining({ field: "pageSize" })]);
			expect((await http.raw("GET", "/products", JSON.stringify({ pageSize: 9 }), { "content-type": "application/json" })).status).toBe(200);
		});

		it("lists at most the first 20 problems of a 422 and says how many there were", async () => {
			const body = `{"items":[${Array(33_000).fill("{}").join(",")}]}`;
			expect(body.length).toBeLessThan(100 * 1024);
			const res = await json422("/orders", body, customerToken);
			expect(res.status).toBe(422);
			expect(res.body.data).toHaveLength(20);
			expect(res.body.message).toMatch(/\b\d{5,} problems; the first 20 are listed/);
			expect(res.text.length).toBeLessThan(10_000);
		});
	});

	describe("routing and errors", () => {
		it("answers 404 in the error shape for an unknown route, and does not expose internal actions", async () => {
			for (const path of ["/nothing", "/products/x/reserve", "/api/broadcast", "/customers/x/canOrder"]) {
				const res = await http.get(path);
				expect(res.status).toBe(404);
				expect(Object.keys(res.body).sort()).toEqual(expect.arrayContaining(["code", "message", "name"]));
			}
			expect((await http.post("/products/reserve", { orderId: "x", items: [] }, adminToken)).status).toBe(404);
		});

		it("sends the rate-limit headers", async () => {
			const res = await http.get("/categories");
			expect(res.headers.get("x-rate-limit-limit")).toBe("300");
			expect(Number(res.headers.get("x-rate-limit-remaining"))).toBeLessThan(300);
			expect(Number(res.headers.get("x-rate-limit-reset"))).toBeGreaterThan(Date.now() - 60_000);
		});
	});
});
