import type { ServiceBroker } from "moleculer";
import { waitFor } from "../helpers/broker";
import { startInProcessShop } from "../helpers/gateway";
import { HttpClient } from "../helpers/http";
import { snapshot, storesOf, waitQuiet, type Snapshot } from "../helpers/store-snapshot";
import { connectSocket } from "../helpers/socket";

/**
 * Carts and checkout over HTTP, as a client uses them: a guest's cart,
 * sign-in and merge, a checkout that holds stock awaiting payment, the
 * payment that confirms it and the deadline that expires it. The shop's
 * pricing: USD, tax added on top, US at 0 %, DE at 19 %; standard shipping
 * 499 cents, free from 5000; express 1499.
 */

const ADMIN = { email: "admin@checkout.test", password: "admin-password" };
const SHOP = {
	pricing: {
		currency: "USD",
		pricesIncludeTax: false,
		taxRatesBp: { US: 0, DE: 1900 },
		shippingMethods: [
			{ id: "standard", priceCents: 499, freeOverCents: 5000 },
			{ id: "express", priceCents: 1499 },
		],
	},
	paymentDeadlineMs: 60 * 60_000,
	cartTtlMs: 72 * 3_600_000,
};
const US = { line1: "1 Main Street", city: "Springfield", postalCode: "12345", country: "US" };
const DE = { line1: "Hauptstraße 1", city: "Berlin", postalCode: "10115", country: "DE" };

describe("carts and checkout over HTTP", () => {
	let shop: Awaited<ReturnType<typeof startInProcessShop>>;
	let broker: ServiceBroker;
	let http: HttpClient;
	let admin: string;
	let seq = 0;

	beforeAll(async () => {
		shop = await startInProcessShop(["api", "customers", "products", "orders", "carts"], {
			admin: ADMIN,
			gateway: { rateLimit: { max: 1_000_000 } },
			// Markers of settled reservations are cleared a pending timeout after their outcome: soon here, so a quiet store is soon reached.
			settlement: { recoveryIntervalMs: 100, pendingTimeoutMs: 1000 },
			shop: SHOP,
		} as object);
		broker = shop.broker;
		http = new HttpClient(`${shop.url}/api`);
		admin = (await http.post("/auth/login", ADMIN)).body.token;
	});
	afterAll(() => shop.stop());
	afterAll(() => {
		for (const text of http.seen) expect(text).not.toMatch(/"stack"|\bat .+\.(js|ts):\d+|tokenHash/);
	});

	const product = async (priceCents = 1000, stock = 10) => (await http.post("/products", { sku: `CO-${++seq}`, name: `Item ${seq}`, category: "co", priceCents, stock }, admin)).body;
	const customer = async () => {
		const res = await http.post("/auth/register", { name: "Buyer", email: `buyer-${++seq}@checkout.test`, password: "password-1" });
		return { token: res.body.token as string, id: res.body.customer.id as string };
	};
	const stockOf = async (id: string) => (await http.get(`/products/${id}`)).body.stock;
	const guest = (token: string) => ({ "x-cart-token": token });
	const checkout = (token: string, body: object, headers: Record<string, string> = {}) =>
		http.post("/checkout", { shippingAddress: US, shippingMethod: "standard", currency: "USD", ...body }, token, headers);
	const stores = () => snapshot(storesOf(broker));
	/** The stores once the settlers have nothing left to do (earlier orders' markers cleared): what a refused request must leave as it is. */
	const quiet = () => waitQuiet(storesOf(broker), 1500);
	const expectUnchanged = async (before: Snapshot) => expect(await stores()).toEqual(before);

	describe("carts", () => {
		it("gives a guest a cart through an opaque token, priced now", async () => {
			const p = await product(1250);
			const created = await http.post("/cart");
			expect(created.status).toBe(201);
			expect(created.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
			expect(created.headers.get("x-cart-token")).toBe(created.body.token);
			const added = await http.post("/cart/items", { productId: p.id, quantity: 2 }, undefined, guest(created.body.token));
			expect(added.status).toBe(200);
			expect(added.body).toMatchObject({
				id: created.body.cart.id,
				itemsCents: 2500,
				currency: "USD",
				lines: [{ productId: p.id, sku: p.sku, quantity: 2, unitPriceCents: 1250, lineTotalCents: 2500, available: true }],
			});
			const again = await http.post("/cart/items", { productId: p.id, quantity: 3 }, undefined, guest(created.body.token));
			expect(again.body.lines[0].quantity).toBe(5);
			expect((await http.patch(`/cart/items/${p.id}`, { quantity: 1 }, undefined)).status).toBe(404);
			const emptied = await http.request("DELETE", "/cart/items", { headers: guest(created.body.token) });
			expect(emptied).toMatchObject({ status: 200, body: { id: created.body.cart.id, lines: [], itemsCents: 0 } });
		});

		it("refuses a cart token that is not a cart's, a malformed one, and no token at all, changing nothing", async () => {
			const p = await product();
			const { body } = await http.post("/cart");
			await http.post("/cart/items", { productId: p.id, quantity: 1 }, undefined, guest(body.token));
			const someone = await customer();
			const before = await quiet();
			const forged = body.token.slice(0, -2) + (body.token.endsWith("AA") ? "BB" : "AA");
			for (const headers of [guest(forged), guest("x".repeat(43)), {}]) {
				for (const res of [await http.get("/cart", undefined, headers), await http.post("/cart/items", { productId: p.id, quantity: 1 }, undefined, headers)]) {
					expect(res.status).toBe(404);
					expect(res.body).toMatchObject({ name: "NotFoundError", code: 404, type: "NOT_FOUND" });
				}
			}
			for (const bad of ["a b", "ä".repeat(10), "x".repeat(101)]) {
				const res = await http.get("/cart", undefined, { "x-cart-token": bad });
				expect(res.status).toBe(422);
				expect(res.body).toMatchObject({ name: "ValidationError", type: "VALIDATION_ERROR", data: [expect.objectContaining({ field: "X-Cart-Token" })] });
			}
			const merge = await http.post("/cart/merge", {}, someone.token, guest(forged));
			expect(merge.status).toBe(404);
			await expectUnchanged(before);
		});

		it("refuses negative, zero, fractional, absurd and string quantities, and unknown products (4xx), changing nothing", async () => {
			const p = await product();
			const { token } = await customer();
			await http.post("/cart/items", { productId: p.id, quantity: 1 }, token);
			const before = await quiet();
			for (const quantity of [-1, 0, 1.5, 1001, 1e308, "2", null]) {
				const res = await http.post("/cart/items", { productId: p.id, quantity }, token);
				expect({ quantity, status: res.status, type: res.body.type }).toEqual({ quantity, status: 422, type: "VALIDATION_ERROR" });
				expect((await http.patch(`/cart/items/${p.id}`, { quantity }, token)).status).toBe(422);
			}
			const over = await http.post("/cart/items", { productId: p.id, quantity: 1000 }, token);
			expect(over).toMatchObject({ status: 422, body: { type: "CART_LIMIT" } });
			const unknown = await http.post("/cart/items", { productId: "no-such-product", quantity: 1 }, token);
			expect(unknown).toMatchObject({ status: 422, body: { type: "UNKNOWN_PRODUCT" } });
			await expectUnchanged(before);
		});

		it("merges a guest cart into the customer's once signed in; the guest token then reaches nothing", async () => {
			const [a, b] = [await product(300), await product(700)];
			const alice = await customer();
			await http.post("/cart/items", { productId: a.id, quantity: 1 }, alice.token);
			const { body } = await http.post("/cart");
			await http.post("/cart/items", { productId: a.id, quantity: 2 }, undefined, guest(body.token));
			await http.post("/cart/items", { productId: b.id, quantity: 1 }, undefined, guest(body.token));
			const merged = await http.post("/cart/merge", {}, alice.token, guest(body.token));
			expect(merged.status).toBe(200);
			expect(merged.body.lines.map((l: any) => [l.productId, l.quantity])).toEqual([
				[a.id, 3],
				[b.id, 1],
			]);
			expect((await http.get("/cart", undefined, guest(body.token))).status).toBe(404);
			expect((await http.post("/cart/merge", {}, alice.token, guest(body.token))).status).toBe(404);
			expect((await http.post("/cart/merge", {}, undefined, guest(body.token))).status).toBe(401);
			expect((await http.post("/cart/merge", {}, alice.token)).body.lines).toHaveLength(2);
		});
	});

	describe("checkout", () => {
		it("asks a guest to sign in (401)", async () => {
			const res = await http.post("/checkout", { shippingAddress: US, shippingMethod: "standard", currency: "USD", expectedTotalCents: 0 });
			expect(res.status).toBe(401);
		});

		it("quotes and then turns the cart into an order awaiting payment, its stock held, the cart emptied", async () => {
			const [a, b] = [await product(1999), await product(333)];
			const buyer = await customer();
			await http.post("/cart/items", { productId: a.id, quantity: 3 }, buyer.token);
			await http.post("/cart/items", { productId: b.id, quantity: 1 }, buyer.token);
			const quote = await http.post("/checkout/quote", { shippingAddress: DE, shippingMethod: "standard" }, buyer.token);
			// 5997 + 333 = 6330 ≥ 5000: free shipping; tax 1139 + 63 (rounded per line).
			expect(quote.body).toEqual({
				currency: "USD",
				itemsCents: 6330,
				shippingCents: 0,
				taxCents: 1202,
				totalCents: 7532,
				pricesIncludeTax: false,
				shippingMethod: "standard",
				lines: [
					{ productId: a.id, quantity: 3, unitPriceCents: 1999, lineTotalCents: 5997, taxCents: 1139 },
					{ productId: b.id, quantity: 1, unitPriceCents: 333, lineTotalCents: 333, taxCents: 63 },
				],
			});
			const before = Date.now();
			const res = await checkout(buyer.token, { shippingAddress: DE, expectedTotalCents: 7532 });
			expect(res.status).toBe(201);
			expect(res.body).toMatchObject({
				customerId: buyer.id,
				status: "awaiting_payment",
				totalCents: 7532,
				itemsCents: 6330,
				shippingCents: 0,
				taxCents: 1202,
				currency: "USD",
				pricesIncludeTax: false,
				shippingMethod: "standard",
				shippingAddress: DE,
				items: [
					{ productId: a.id, sku: a.sku, quantity: 3, unitPriceCents: 1999, lineTotalCents: 5997, taxCents: 1139 },
					{ productId: b.id, sku: b.sku, quantity: 1, unitPriceCents: 333, lineTotalCents: 333, taxCents: 63 },
				],
			});
			expect(res.body.statusHistory.map((s: any) => s.status)).toEqual(["pending", "awaiting_payment"]);
			expect(Date.parse(res.body.paymentDeadline)).toBeGreaterThanOrEqual(before + SHOP.paymentDeadlineMs);
			expect(await stockOf(a.id)).toBe(7);
			expect(await stockOf(b.id)).toBe(9);
			expect((await http.get("/cart", buyer.token)).body.lines).toEqual([]);
			expect((await http.get(`/orders/${res.body.id}`, buyer.token)).body).toEqual(res.body);
		});

		it("charges flat-rate shipping under the threshold", async () => {
			const p = await product(1000);
			const buyer = await customer();
			await http.post("/cart/items", { productId: p.id, quantity: 2 }, buyer.token);
			const res = await checkout(buyer.token, { expectedTotalCents: 2499 });
			expect(res.body).toMatchObject({ status: "awaiting_payment", itemsCents: 2000, shippingCents: 499, taxCents: 0, totalCents: 2499 });
		});

		it("refuses a changed price (409 saying what changed), then accepts the new total once the cart was read again", async () => {
			const p = await product(1000);
			const buyer = await customer();
			await http.post("/cart/items", { productId: p.id, quantity: 1 }, buyer.token);
			await http.patch(`/products/${p.id}`, { priceCents: 1200 }, admin);
			const res = await checkout(buyer.token, { expectedTotalCents: 1499 });
			expect(res.status).toBe(409);
			expect(res.body).toMatchObject({ type: "CART_CHANGED", data: { changes: [{ productId: p.id, change: "price", wasCents: 1000, nowCents: 1200 }] } });
			expect(await stockOf(p.id)).toBe(10);
			const cart = (await http.get("/cart", buyer.token)).body;
			expect(cart.itemsCents).toBe(1200);
			expect((await checkout(buyer.token, { expectedTotalCents: 1699 })).status).toBe(201);
		});

		it("refuses a product that left the catalog or lacks stock (409 saying which)", async () => {
			const [gone, short] = [await product(), await product(500, 1)];
			const buyer = await customer();
			await http.post("/cart/items", { productId: gone.id, quantity: 1 }, buyer.token);
			await http.post("/cart/items", { productId: short.id, quantity: 2 }, buyer.token);
			await http.delete(`/products/${gone.id}`, admin);
			const before = await quiet();
			const res = await checkout(buyer.token, { expectedTotalCents: 1 });
			expect(res.status).toBe(409);
			expect(res.body.data.changes).toEqual([
				{ productId: gone.id, change: "unavailable" },
				{ productId: short.id, change: "stock", requested: 2, available: 1 },
			]);
			await expectUnchanged(before);
		});

		it("refuses a tampered total (409), another currency (422), an unknown country or method and a bad address (422), an empty cart (409): nothing changes", async () => {
			const p = await product(1000);
			const buyer = await customer();
			await http.post("/cart/items", { productId: p.id, quantity: 1 }, buyer.token);
			const before = await quiet();
			const tampered = await checkout(buyer.token, { expectedTotalCents: 1 });
			expect(tampered).toMatchObject({ status: 409, body: { type: "TOTAL_MISMATCH", data: { expectedTotalCents: 1, totalCents: 1499, itemsCents: 1000, shippingCents: 499, taxCents: 0 } } });
			expect(await checkout(buyer.token, { expectedTotalCents: 1499, currency: "EUR" })).toMatchObject({ status: 422, body: { type: "CURRENCY_NOT_ACCEPTED" } });
			expect(await checkout(buyer.token, { expectedTotalCents: 1499, currency: "usd" })).toMatchObject({ status: 422, body: { type: "VALIDATION_ERROR" } });
			expect(await checkout(buyer.token, { expectedTotalCents: 1499, shippingAddress: { ...US, country: "ZZ" } })).toMatchObject({ status: 422, body: { type: "UNKNOWN_COUNTRY" } });
			expect(await checkout(buyer.token, { expectedTotalCents: 1499, shippingMethod: "teleport" })).toMatchObject({ status: 422, body: { type: "UNKNOWN_SHIPPING_METHOD" } });
			for (const shippingAddress of [null, undefined, { ...US, line1: "" }, { ...US, country: "United States" }, { line1: "x", city: "y", postalCode: "z" }]) {
				expect((await checkout(buyer.token, { expectedTotalCents: 1499, shippingAddress })).status).toBe(422);
			}
			for (const expectedTotalCents of [-1, 1.5, "1499", null, 1e15, 1e300]) expect((await checkout(buyer.token, { expectedTotalCents })).status).toBe(422);
			await expectUnchanged(before);
			const empty = await customer();
			expect(await checkout(empty.token, { expectedTotalCents: 0 })).toMatchObject({ status: 409, body: { type: "CART_EMPTY" } });
		});

		it("shares the Idempotency-Key space with POST /api/orders: a replay answers the first order and holds nothing again", async () => {
			const p = await product(1000);
			const buyer = await customer();
			await http.post("/cart/items", { productId: p.id, quantity: 1 }, buyer.token);
			const key = { "idempotency-key": "checkout-key-1" };
			const first = await checkout(buyer.token, { expectedTotalCents: 1499 }, key);
			expect(first.status).toBe(201);
			const replay = await checkout(buyer.token, { expectedTotalCents: 1499 }, key);
			expect(replay.status).toBe(200);
			expect(replay.body.id).toBe(first.body.id);
			expect(await stockOf(p.id)).toBe(9);
			expect(await checkout(buyer.token, { expectedTotalCents: 1500 }, key)).toMatchObject({ status: 422, body: { type: "IDEMPOTENCY_KEY_REUSED" } });
			expect(await http.post("/orders", { items: [{ productId: p.id, quantity: 1 }] }, buyer.token, key)).toMatchObject({ status: 422, body: { type: "IDEMPOTENCY_KEY_REUSED" } });
			const placed = await http.post("/orders", { items: [{ productId: p.id, quantity: 1 }] }, buyer.token, { "idempotency-key": "order-key-1" });
			expect(placed.status).toBe(201);
			await http.post("/cart/items", { productId: p.id, quantity: 1 }, buyer.token);
			expect(await checkout(buyer.token, { expectedTotalCents: 1499 }, { "idempotency-key": "order-key-1" })).toMatchObject({ status: 422, body: { type: "IDEMPOTENCY_KEY_REUSED" } });
		});

		it("confirms a paid order (orders.confirmPaid, idempotent), and an admin cannot confirm it unpaid", async () => {
			const p = await product(1000);
			const buyer = await customer();
			await http.post("/cart/items", { productId: p.id, quantity: 1 }, buyer.token);
			const order = (await checkout(buyer.token, { expectedTotalCents: 1499 })).body;
			const unpaid = await http.patch(`/orders/${order.id}/status`, { status: "confirmed" }, admin);
			expect(unpaid).toMatchObject({ status: 409, body: { type: "PAYMENT_REQUIRED" } });
			const paid = await broker.call<any, object>("orders.confirmPaid", { id: order.id });
			expect(paid).toMatchObject({ id: order.id, status: "confirmed", totalCents: 1499, paymentDeadline: order.paymentDeadline });
			expect(await broker.call<any, object>("orders.confirmPaid", { id: order.id })).toEqual(paid);
			expect(await stockOf(p.id)).toBe(9);
			expect((await http.post(`/orders/${order.id}/cancel`, {}, buyer.token)).body.status).toBe("cancelled");
			await expect(broker.call("orders.confirmPaid", { id: order.id })).rejects.toMatchObject({ code: 409, type: "ORDER_EXPIRED" });
			expect(await stockOf(p.id)).toBe(10);
		});

		it("lets a customer cancel an order awaiting payment: its stock comes back once", async () => {
			const p = await product(1000);
			const buyer = await customer();
			await http.post("/cart/items", { productId: p.id, quantity: 4 }, buyer.token);
			const order = (await checkout(buyer.token, { expectedTotalCents: 4499 })).body;
			expect(await stockOf(p.id)).toBe(6);
			expect((await http.post(`/orders/${order.id}/cancel`, {}, buyer.token)).body).toMatchObject({ status: "cancelled" });
			expect((await http.post(`/orders/${order.id}/cancel`, {}, buyer.token)).status).toBe(409);
			expect(await stockOf(p.id)).toBe(10);
		});

		it("pushes order.updated to the owner's socket for a checkout order", async () => {
			const p = await product(1000);
			const buyer = await customer();
			const socket = await connectSocket(shop.url, buyer.token);
			try {
				const seen: any[] = [];
				socket.on("order.updated", (msg: any) => seen.push(msg.order));
				await http.post("/cart/items", { productId: p.id, quantity: 1 }, buyer.token);
				const order = (await checkout(buyer.token, { expectedTotalCents: 1499 })).body;
				await waitFor(() => seen.some(o => o.id === order.id && o.status === "awaiting_payment"), 5000, "the awaiting_payment push");
				await broker.call("orders.confirmPaid", { id: order.id });
				await waitFor(() => seen.some(o => o.id === order.id && o.status === "confirmed"), 5000, "the confirmed push");
			} finally {
				socket.disconnect();
			}
		});
	});

	describe("expiry", () => {
		it("cancels an order unpaid at its deadline (PAYMENT_EXPIRED) and gives its stock back exactly once; a late payment is refused", async () => {
			const p = await product(1000);
			const buyer = await customer();
			await http.post("/cart/items", { productId: p.id, quantity: 3 }, buyer.token);
			const order = (await checkout(buyer.token, { expectedTotalCents: 3499 })).body;
			expect(await stockOf(p.id)).toBe(7);
			// The deadline passes: moved, as the stored order says, into the past.
			const orders = (broker.getLocalService("orders") as any).adapter;
			await orders.updateMany({ _id: order.id }, { $set: { paymentDeadline: new Date(Date.now() - 1000).toISOString() } });
			await waitFor(async () => (await http.get(`/orders/${order.id}`, buyer.token)).body.status === "cancelled", 10_000, "the expiry");
			const doc = await orders.findById(order.id);
			expect(doc).toMatchObject({ status: "cancelled", cancelReason: "PAYMENT_EXPIRED" });
			expect(doc.awaitingPayment).toBeUndefined();
			expect(await stockOf(p.id)).toBe(10);
			await expect(broker.call("orders.confirmPaid", { id: order.id })).rejects.toMatchObject({ code: 409, type: "ORDER_EXPIRED" });
			await new Promise(r => setTimeout(r, 300));
			expect(await stockOf(p.id)).toBe(10);
		});
	});
});
