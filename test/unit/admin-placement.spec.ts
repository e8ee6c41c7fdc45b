import { waitFor } from "../helpers/broker";
import { startInProcessShop } from "../helpers/gateway";
import { HttpClient } from "../helpers/http";

/** An admin may place an order for a customer (X-On-Behalf-Of) and date it in the past (X-Placed-At); nobody else may. */
describe("orders an admin places for a customer (X-On-Behalf-Of, X-Placed-At)", () => {
	let shop: Awaited<ReturnType<typeof startInProcessShop>>;
	let http: HttpClient;
	let adminToken: string;
	let customer: { id: string; token: string };
	let productId: string;

	beforeAll(async () => {
		shop = await startInProcessShop(["api", "customers", "products", "orders", "alerts", "analytics", "payments", "notifications"], {
			admin: { email: "admin@shop.test", password: "admin-password" },
		});
		http = new HttpClient(`${shop.url}/api`);
		adminToken = (await http.post("/auth/login", { email: "admin@shop.test", password: "admin-password" })).body.token;
		const reg = (await http.post("/auth/register", { name: "Cus", email: "cus@shop.test", password: "password-1" })).body;
		customer = { id: reg.customer.id, token: reg.token };
		productId = (await http.post("/products", { sku: "AP-1", name: "Kettle", category: "kitchen", priceCents: 2500, stock: 50 }, adminToken)).body.id;
	});
	afterAll(() => shop.stop());

	const body = (quantity = 1) => ({ items: [{ productId, quantity }] });
	const stock = async () => (await http.get(`/products/${productId}`)).body.stock;

	it("places the order as the customer's, dated when the admin says; the sales series counts it on that day", async () => {
		const placedAt = "2024-03-05T10:30:00.000Z";
		const res = await http.post("/orders", body(2), adminToken, { "x-on-behalf-of": customer.id, "x-placed-at": "2024-03-05T11:30:00+01:00" });
		expect(res.status).toBe(201);
		expect(res.body).toMatchObject({ customerId: customer.id, status: "confirmed", totalCents: 5000, createdAt: placedAt });
		expect(res.body.statusHistory[0]).toEqual({ status: "pending", at: placedAt });
		expect((await http.get("/orders", customer.token)).body.rows.map((o: any) => o.id)).toContain(res.body.id);
		const sales = await waitFor(
			async () => {
				const rows = (await http.get("/analytics/sales?from=2024-03-01T00:00:00Z&to=2024-03-31T00:00:00Z", adminToken)).body;
				return rows.length ? rows : null;
			},
			5000,
			"the dated order in the sales series",
		);
		expect(sales).toEqual([{ period: "2024-03-05", orders: 1, revenueCents: 5000 }]);
	});

	it("refuses both headers from a customer (403), whatever they name, and reserves nothing", async () => {
		const before = await stock();
		expect((await http.post("/orders", body(), customer.token, { "x-on-behalf-of": customer.id })).status).toBe(403);
		expect((await http.post("/orders", body(), customer.token, { "x-placed-at": "2024-01-01T00:00:00Z" })).status).toBe(403);
		expect(await stock()).toBe(before);
	});

	it("answers 422 for a malformed or future date and for an unknown customer, reserving nothing", async () => {
		const before = await stock();
		const future = new Date(Date.now() + 3_600_000).toISOString();
		for (const [headers, field] of [
			[{ "x-placed-at": "yesterday" }, "X-Placed-At"],
			[{ "x-placed-at": "2024-02-30" }, "X-Placed-At"],
			[{ "x-placed-at": future }, "X-Placed-At"],
			[{ "x-on-behalf-of": "x".repeat(65) }, "X-On-Behalf-Of"],
			[{ "x-on-behalf-of": "no-such-customer" }, "X-On-Behalf-Of"],
		] as const) {
			const res = await http.post("/orders", body(), adminToken, headers);
			expect(res.status).toBe(422);
			expect(res.body.data[0].field).toBe(field);
		}
		expect(await stock()).toBe(before);
	});

	it("refuses a date that is not a real calendar time or is outside 2000-01-01 to now (422), reserving nothing", async () => {
		const before = await stock();
		for (const placedAt of [
			"0000-01-01T00:00:00Z", // year 0000: the sales series showed period -000001-12
			"1999-12-31T23:59:59Z", // before the documented range
			"2000-01-01T00:30:00+01:00", // 1999-12-31T23:30Z
			"2024-02-31T10:00:00Z", // rolled into March
			"2023-02-29T10:00:00Z", // not a leap year
			"2024-04-31T10:00:00Z",
			"2024-13-01T10:00:00Z",
			"2024-00-10T10:00:00Z",
			"2024-03-00T10:00:00Z",
			"2024-03-05T24:00:00Z", // rolled into the next day
			"2024-03-05T10:60:00Z",
			"2024-03-05T10:00:60Z",
			"2024-03-05T10:00:00+24:00",
			"2024-03-05T10:00:00+05:60",
			"+002024-03-05T10:00:00Z",
		]) {
			const res = await http.post("/orders", body(), adminToken, { "x-placed-at": placedAt });
			expect([placedAt, res.status, res.body.data?.[0]?.field]).toEqual([placedAt, 422, "X-Placed-At"]);
		}
		expect(await stock()).toBe(before);
	});

	it("accepts the edges of the range and a leap day", async () => {
		for (const [placedAt, createdAt] of [
			["2000-01-01T00:00:00Z", "2000-01-01T00:00:00.000Z"],
			["2024-02-29T23:59:59.5-01:00", "2024-03-01T00:59:59.500Z"],
		]) {
			const res = await http.post("/orders", body(), adminToken, { "x-on-behalf-of": customer.id, "x-placed-at": placedAt });
			expect([res.status, res.body.createdAt]).toEqual([201, createdAt]);
		}
	});

	it("counts X-Placed-At in the Idempotency-Key's request: the key again with another date is refused (422), the same instant replays", async () => {
		const headers = { "x-on-behalf-of": customer.id, "idempotency-key": "import-7" };
		const first = await http.post("/orders", body(), adminToken, { ...headers, "x-placed-at": "2024-03-05T10:00:00Z" });
		expect(first.status).toBe(201);
		const other = await http.post("/orders", body(), adminToken, { ...headers, "x-placed-at": "2024-03-06T10:00:00Z" });
		expect([other.status, other.body.type]).toEqual([422, "IDEMPOTENCY_KEY_REUSED"]);
		const undated = await http.post("/orders", body(), adminToken, headers);
		expect([undated.status, undated.body.type]).toEqual([422, "IDEMPOTENCY_KEY_REUSED"]);
		const same = await http.post("/orders", body(), adminToken, { ...headers, "x-placed-at": "2024-03-05T11:00:00+01:00" });
		expect([same.status, same.body.id]).toEqual([200, first.body.id]);
	});

	it("keeps idempotency keys per customer: the admin's key for a customer replays that customer's order", async () => {
		const headers = { "x-on-behalf-of": customer.id, "idempotency-key": "phone-1" };
		const first = await http.post("/orders", body(), adminToken, headers);
		const again = await http.post("/orders", body(), adminToken, headers);
		expect([first.status, again.status]).toEqual([201, 200]);
		expect(again.body.id).toBe(first.body.id);
		// The customer's own request with that key is the same customer's order.
		expect((await http.post("/orders", body(), customer.token, { "idempotency-key": "phone-1" })).body.id).toBe(first.body.id);
	});

	it("ignores the headers on other routes", async () => {
		expect((await http.get("/orders", customer.token, { "x-on-behalf-of": "someone" })).status).toBe(200);
	});
});
