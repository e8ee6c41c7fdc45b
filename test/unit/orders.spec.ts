import type { ServiceBroker } from "moleculer";
import OrdersService from "../../services/orders.service";
import ProductsService from "../../services/products.service";
import { CHANNELS } from "../../lib/contracts/channels";
import { createTestBroker, eventRecorder, waitFor } from "../helpers/broker";

describe("orders service", () => {
	let broker: ServiceBroker;
	const blocked = new Set<string>();
	const events = eventRecorder("order-recorder", ["order.created", "order.updated"]);
	/** A consumer of the durable status channel that can be made to fail. */
	const statusProbe = {
		failing: false,
		handled: [] as string[],
		schema: {
			name: "status-probe",
			channels: {
				[CHANNELS.orderStatus]: {
					group: "status-probe",
					handler: async (msg: any) => {
						if (statusProbe.failing) throw new Error("the consumer's store is away");
						statusProbe.handled.push(`${msg.order.id}:${msg.order.status}`);
					},
				},
			},
		},
	};
	const alice = { id: "cust-alice", email: "alice@shop.test", role: "customer" };
	const bob = { id: "cust-bob", email: "bob@shop.test", role: "customer" };
	const admin = { id: "cust-admin", email: "admin@shop.test", role: "admin" };
	let seq = 0;

	beforeAll(async () => {
		broker = createTestBroker();
		broker.createService(ProductsService);
		broker.createService({ name: "orders", mixins: [OrdersService], settings: { settlement: { recoveryIntervalMs: 3_600_000 } } });
		// Stand-in for the customers service.
		broker.createService({
			name: "customers",
			actions: { canOrder: (ctx: any) => (blocked.has(ctx.params.id) ? { allowed: false, reason: "ACCOUNT_BLOCKED" } : { allowed: true }) },
		});
		broker.createService(events.schema);
		broker.createService(statusProbe.schema);
		await broker.start();
	});
	afterAll(() => broker.stop());

	const product = async (stock = 10, priceCents = 1000) => broker.call<any, object>("products.create", { sku: `O-${++seq}`, name: `Item ${seq}`, category: "c", priceCents, stock });
	const stockOf = async (id: string) => (await broker.call<any, object>("products.get", { id })).stock;
	const place = (user: object, params: object, idempotencyKey?: string, meta: Record<string, unknown> = {}) =>
		broker.call<any, object>("orders.create", params, { meta: Object.assign(meta, { user, idempotencyKey }) });
	const as = (user: object) => ({ meta: { user } });
	const orderCount = async () => (await broker.call<any, object>("orders.list", { pageSize: 100 }, as(admin))).total;

	describe("placement", () => {
		it("confirms an order with server prices and integer totals (201)", async () => {
			const a = await product(10, 1999);
			const b = await product(10, 250);
			const meta: Record<string, unknown> = {};
			const order = await place(
				alice,
				{
					items: [
						{ productId: a.id, quantity: 2, unitPriceCents: 1 },
						{ productId: b.id, quantity: 3 },
					],
					totalCents: 5,
					status: "delivered",
					customerId: "cust-bob",
					shippingAddress: { line1: "1 Main St", city: "Springfield", postalCode: "12345", country: "US" },
				},
				undefined,
				meta,
			);
			expect(meta.$statusCode).toBe(201);
			expect(order).toMatchObject({
				customerId: alice.id,
				status: "confirmed",
				totalCents: 2 * 1999 + 3 * 250,
				items: [
					{ productId: a.id, sku: a.sku, name: a.name, unitPriceCents: 1999, quantity: 2, lineTotalCents: 3998 },
					{ productId: b.id, sku: b.sku, name: b.name, unitPriceCents: 250, quantity: 3, lineTotalCents: 750 },
				],
				shippingAddress: { line1: "1 Main St", city: "Springfield", postalCode: "12345", country: "US" },
			});
			expect(order.statusHistory.map((h: any) => h.status)).toEqual(["pending", "confirmed"]);
			expect(Object.keys(order).sort()).toEqual([
				"createdAt",
				"customerId",
				"fulfilment",
				"id",
				"items",
				"paidCents",
				"paymentHistory",
				"paymentStatus",
				"returns",
				"shippingAddress",
				"status",
				"statusHistory",
				"totalCents",
				"updatedAt",
			]);
			expect(await stockOf(a.id)).toBe(8);
			expect(await stockOf(b.id)).toBe(7);
			await waitFor(() => events.received.some(e => e.event === "order.created" && e.payload.order.id === order.id));
		});

		it("keeps the price snapshot when the product's price changes later", async () => {
			const p = await product(5, 700);
			const order = await place(alice, { items: [{ productId: p.id, quantity: 1 }] });
			await broker.call("products.update", { id: p.id, priceCents: 900 });
			const read = await broker.call<any, object>("orders.get", { id: order.id }, as(alice));
			expect(read.items[0].unitPriceCents).toBe(700);
			expect(read.totalCents).toBe(700);
		});

		it("answers 409 INSUFFICIENT_STOCK naming each short product; nothing is reserved", async () => {
			const a = await product(5);
			const b = await product(1);
			const c = await product(0);
			const err = await place(alice, {
				items: [
					{ productId: a.id, quantity: 2 },
					{ productId: b.id, quantity: 2 },
					{ productId: c.id, quantity: 1 },
				],
			}).catch((e: any) => e);
			expect(err).toMatchObject({ code: 409, type: "INSUFFICIENT_STOCK" });
			expect(err.data.items.map((i: any) => i.productId).sort()).toEqual([b.id, c.id].sort());
			expect([await stockOf(a.id), await stockOf(b.id), await stockOf(c.id)]).toEqual([5, 1, 0]);
		});

		it.each([
			["no items", { items: [] }],
			["quantity 0", { items: [{ productId: "P", quantity: 0 }] }],
			["a negative quantity", { items: [{ productId: "P", quantity: -1 }] }],
			["a fractional quantity", { items: [{ productId: "P", quantity: 1.5 }] }],
			["a quantity as a string", { items: [{ productId: "P", quantity: "1" }] }],
			[
				"a product twice",
				{
					items: [
						{ productId: "P", quantity: 1 },
						{ productId: "P", quantity: 2 },
					],
				},
			],
			["an operator-shaped id", { items: [{ productId: { $gt: "" }, quantity: 1 }] }],
			[
				"an unknown product",
				{
					items: [
						{ productId: "P", quantity: 1 },
						{ productId: "no-such-product", quantity: 1 },
					],
				},
			],
			["51 items", { items: Array.from({ length: 51 }, (_, i) => ({ productId: `x${i}`, quantity: 1 })) }],
			["a shipping address without a city", { items: [{ productId: "P", quantity: 1 }], shippingAddress: { line1: "x", postalCode: "1", country: "US" } }],
		])("refuses %s with 422, changing no stock and storing no order", async (_label, body: any) => {
			const p = await product(10);
			const params = JSON.parse(JSON.stringify(body).replace(/"P"/g, JSON.stringify(p.id)));
			const before = await orderCount();
			const err = await place(alice, params).catch((e: any) => e);
			expect(err.code).toBe(422);
			expect(await stockOf(p.id)).toBe(10);
			expect(await orderCount()).toBe(before);
		});

		it("refuses a blocked customer (403), whatever their token says", async () => {
			const p = await product(10);
			blocked.add(bob.id);
			await expect(place(bob, { items: [{ productId: p.id, quantity: 1 }] })).rejects.toMatchObject({ code: 403, type: "ACCOUNT_BLOCKED" });
			blocked.delete(bob.id);
			expect(await stockOf(p.id)).toBe(10);
		});
	});

	describe("idempotency keys", () => {
		it("returns the first order for the same key and customer (200), taking stock once", async () => {
			const p = await product(10);
			const first = await place(alice, { items: [{ productId: p.id, quantity: 3 }] }, "key-1");
			const meta: Record<string, unknown> = {};
			const again = await place(alice, { items: [{ productId: p.id, quantity: 3 }] }, "key-1", meta);
			expect(meta.$statusCode).toBe(200);
			expect(again).toEqual(first);
			expect(await stockOf(p.id)).toBe(7);
		});

		it("makes one order out of concurrent requests with the same key", async () => {
			const p = await product(10);
			const results = await Promise.all(Array.from({ length: 8 }, () => place(alice, { items: [{ productId: p.id, quantity: 2 }] }, "key-race")));
			expect(new Set(results.map(r => r.id)).size).toBe(1);
			expect(await stockOf(p.id)).toBe(8);
		});

		it("makes a new order for the same key from another customer", async () => {
			const p = await product(10);
			const a = await place(alice, { items: [{ productId: p.id, quantity: 1 }] }, "shared-key");
			const b = await place(bob, { items: [{ productId: p.id, quantity: 1 }] }, "shared-key");
			expect(b.id).not.toBe(a.id);
			expect(b.customerId).toBe(bob.id);
			expect(await stockOf(p.id)).toBe(8);
		});

		it("lets a key whose request was refused be sent again: the refusal stored nothing", async () => {
			const p = await product(1);
			await expect(place(alice, { items: [{ productId: p.id, quantity: 2 }] }, "key-short")).rejects.toMatchObject({ code: 409 });
			await broker.call("products.restock", { id: p.id, quantity: 5 });
			const meta: Record<string, unknown> = {};
			const placed = await place(alice, { items: [{ productId: p.id, quantity: 2 }] }, "key-short", meta);
			expect(meta.$statusCode).toBe(201);
			expect(placed.status).toBe("confirmed");
			expect(await stockOf(p.id)).toBe(4);
		});

		it("answers 422 IDEMPOTENCY_KEY_REUSED for the same key with another body, reserving nothing", async () => {
			const p = await product(10);
			const first = await place(alice, { items: [{ productId: p.id, quantity: 1 }] }, "key-body");
			await expect(place(alice, { items: [{ productId: p.id, quantity: 2 }] }, "key-body")).rejects.toMatchObject({ code: 422, type: "IDEMPOTENCY_KEY_REUSED" });
			await expect(
				place(alice, { items: [{ productId: p.id, quantity: 1 }], shippingAddress: { line1: "1 Main St", city: "X", postalCode: "1", country: "US" } }, "key-body"),
			).rejects.toMatchObject({ code: 422 });
			expect((await place(alice, { items: [{ productId: p.id, quantity: 1 }] }, "key-body")).id).toBe(first.id);
			expect(await stockOf(p.id)).toBe(9);
		});
	});

	describe("a refused order is not an order", () => {
		it("stores, lists and announces nothing of an order refused for stock", async () => {
			const p = await product(1);
			const before = await orderCount();
			const seen = events.received.length;
			const err = await place(alice, { items: [{ productId: p.id, quantity: 3 }] }).catch((e: any) => e);
			expect(err).toMatchObject({ code: 409, type: "INSUFFICIENT_STOCK" });
			expect(await orderCount()).toBe(before);
			const all = await broker.call<any, object>("orders.all", { pageSize: 1000 });
			expect(all.rows.filter((o: any) => o.items.length === 0 || o.status === "pending")).toEqual([]);
			await new Promise(r => setTimeout(r, 50));
			expect(events.received.slice(seen).filter(e => e.payload.order.customerId === alice.id && e.payload.order.items.length === 0)).toEqual([]);
		});
	});

	describe("reading", () => {
		it("lists own orders only; an admin sees all and filters by customer and status", async () => {
			const p = await product(20);
			const mine = await place(bob, { items: [{ productId: p.id, quantity: 1 }] });
			const bobs = await broker.call<any, object>("orders.list", { customerId: alice.id }, as(bob));
			expect(bobs.rows.every((o: any) => o.customerId === bob.id)).toBe(true);
			expect(bobs.rows.map((o: any) => o.id)).toContain(mine.id);
			const adminView = await broker.call<any, object>("orders.list", { customerId: bob.id, status: "confirmed", pageSize: 100 }, as(admin));
			expect(adminView.rows.length).toBeGreaterThan(0);
			expect(adminView.rows.every((o: any) => o.customerId === bob.id && o.status === "confirmed")).toBe(true);
			await expect(broker.call("orders.list", { status: "lost" }, as(admin))).rejects.toMatchObject({ code: 422 });
		});

		it("shows an order to its owner and admins, 404 to another customer", async () => {
			const p = await product(5);
			const order = await place(alice, { items: [{ productId: p.id, quantity: 1 }] });
			expect((await broker.call<any, object>("orders.get", { id: order.id }, as(alice))).id).toBe(order.id);
			expect((await broker.call<any, object>("orders.get", { id: order.id }, as(admin))).id).toBe(order.id);
			await expect(broker.call("orders.get", { id: order.id }, as(bob))).rejects.toMatchObject({ code: 404 });
			await expect(broker.call("orders.cancel", { id: order.id }, as(bob))).rejects.toMatchObject({ code: 404 });
			await expect(broker.call("orders.get", { id: "nope" }, as(admin))).rejects.toMatchObject({ code: 404 });
		});
	});

	describe("cancellation and the state machine", () => {
		const confirmedOrder = async (quantity = 2) => {
			const p = await product(10);
			const order = await place(alice, { items: [{ productId: p.id, quantity }] });
			return { p, order };
		};
		/** A pending order, as left by a placement that has not reached products yet. */
		const pendingOrder = async () => {
			const p = await product(10);
			const svc: any = broker.getLocalService("orders");
			const { order } = await svc.placement.open(alice.id, undefined, [{ productId: p.id, quantity: 2 }], null);
			return { p, order: { id: order._id, status: "pending" } };
		};
		const setStatus = (id: string, status: string) => broker.call<any, object>("orders.setStatus", { id, status }, as(admin));

		it("cancels for the owner and gives the stock back exactly once", async () => {
			const { p, order } = await confirmedOrder(4);
			expect(await stockOf(p.id)).toBe(6);
			const cancelled = await broker.call<any, object>("orders.cancel", { id: order.id }, as(alice));
			expect(cancelled.status).toBe("cancelled");
			expect(cancelled.statusHistory.map((h: any) => h.status)).toEqual(["pending", "confirmed", "cancelled"]);
			expect(await stockOf(p.id)).toBe(10);
			await expect(broker.call("orders.cancel", { id: order.id }, as(alice))).rejects.toMatchObject({ code: 409 });
			await expect(broker.call("orders.cancel", { id: order.id }, as(admin))).rejects.toMatchObject({ code: 409 });
			expect(await stockOf(p.id)).toBe(10);
			await waitFor(() => events.received.some(e => e.event === "order.updated" && e.payload.order.id === order.id && e.payload.order.status === "cancelled"));
		});

		it("gives stock back once when cancels race", async () => {
			const { p, order } = await confirmedOrder(3);
			await Promise.allSettled([
				broker.call("orders.cancel", { id: order.id }, as(alice)),
				broker.call("orders.cancel", { id: order.id }, as(admin)),
				broker.call("orders.setStatus", { id: order.id, status: "cancelled" }, as(admin)),
			]);
			expect(await stockOf(p.id)).toBe(10);
		});

		it.each([
			["confirmed", "shipped"],
			["confirmed", "cancelled"],
			["shipped", "delivered"],
		])("allows %s -> %s", async (from, to) => {
			const { p, order } = await confirmedOrder(2);
			if (from === "shipped") await setStatus(order.id, "shipped");
			const moved = await setStatus(order.id, to);
			expect(moved.status).toBe(to);
			expect(moved.statusHistory.at(-1)).toEqual({ status: to, at: expect.any(String) });
			expect(await stockOf(p.id)).toBe(to === "cancelled" ? 10 : 8);
		});

		it("allows pending -> cancelled, releasing whatever was reserved", async () => {
			const { p, order } = await pendingOrder();
			expect((await setStatus(order.id, "cancelled")).status).toBe("cancelled");
			await expect(broker.call("products.reserve", { orderId: order.id, items: [{ productId: p.id, quantity: 2 }] })).rejects.toMatchObject({ code: 409 });
			expect(await stockOf(p.id)).toBe(10);
		});

		it("allows pending -> confirmed only when products holds the stock", async () => {
			const { p, order } = await pendingOrder();
			await expect(setStatus(order.id, "confirmed")).rejects.toMatchObject({ code: 409, type: "RESERVATION_NOT_HELD" });
			await broker.call("products.reserve", { orderId: order.id, items: [{ productId: p.id, quantity: 2 }] });
			const confirmed = await setStatus(order.id, "confirmed");
			expect(confirmed).toMatchObject({ status: "confirmed", totalCents: 2000 });
			expect(await stockOf(p.id)).toBe(8);
		});

		it.each([
			["pending", "shipped"],
			["pending", "delivered"],
			["confirmed", "pending"],
			["confirmed", "delivered"],
			["confirmed", "confirmed"],
			["shipped", "pending"],
			["shipped", "confirmed"],
			["shipped", "cancelled"],
			["delivered", "pending"],
			["delivered", "confirmed"],
			["delivered", "shipped"],
			["delivered", "cancelled"],
			["cancelled", "pending"],
			["cancelled", "confirmed"],
			["cancelled", "shipped"],
			["cancelled", "delivered"],
		])("forbids %s -> %s with 409, changing nothing", async (from, to) => {
			const { p, order } = from === "pending" ? await pendingOrder() : await confirmedOrder(2);
			if (from === "shipped" || from === "delivered") await setStatus(order.id, "shipped");
			if (from === "delivered") await setStatus(order.id, "delivered");
			if (from === "cancelled") await setStatus(order.id, "cancelled");
			const stock = await stockOf(p.id);
			await expect(setStatus(order.id, to)).rejects.toMatchObject({ code: 409, type: "INVALID_STATUS_TRANSITION" });
			const after = await broker.call<any, object>("orders.get", { id: order.id }, as(admin));
			expect(after.status).toBe(from);
			expect(await stockOf(p.id)).toBe(stock);
		});

		it("refuses a customer's cancel of a shipped order with 409", async () => {
			const { order } = await confirmedOrder(1);
			await setStatus(order.id, "shipped");
			await expect(broker.call("orders.cancel", { id: order.id }, as(alice))).rejects.toMatchObject({ code: 409 });
		});

		it("answers 422 for an unknown status", async () => {
			const { order } = await confirmedOrder(1);
			await expect(setStatus(order.id, "lost")).rejects.toMatchObject({ code: 422 });
		});
	});

	describe("the durable status message", () => {
		it("stays in the order's outbox until every consumer has handled it, and the settler sends it again", async () => {
			const svc: any = broker.getLocalService("orders");
			const p = await product(5);
			statusProbe.failing = true;
			const order = await place(alice, { items: [{ productId: p.id, quantity: 1 }] });
			await new Promise(r => setTimeout(r, 100));
			expect((await svc.adapter.findById(order.id)).outbox).toBe(true);
			expect(statusProbe.handled).not.toContain(`${order.id}:confirmed`);
			statusProbe.failing = false;
			const timeout = svc.settings.settlement.pendingTimeoutMs;
			svc.settings.settlement.pendingTimeoutMs = 0;
			try {
				await svc.recover();
			} finally {
				svc.settings.settlement.pendingTimeoutMs = timeout;
			}
			expect(statusProbe.handled).toContain(`${order.id}:confirmed`);
			expect((await svc.adapter.findById(order.id)).outbox).toBeUndefined();
		});
	});

	describe("settling after a crash", () => {
		it("confirms a stale pending order whose stock products holds, and removes one it does not (never announced, so never an order)", async () => {
			const svc: any = broker.getLocalService("orders");
			const held = await product(10, 300);
			const lost = await product(10);
			const { order: a } = await svc.placement.open(alice.id, undefined, [{ productId: held.id, quantity: 2 }], null);
			const { order: b } = await svc.placement.open(alice.id, undefined, [{ productId: lost.id, quantity: 2 }], null);
			await broker.call("products.reserve", { orderId: a._id, items: a.requested });
			const timeout = svc.settings.settlement.pendingTimeoutMs;
			svc.settings.settlement.pendingTimeoutMs = 0;
			try {
				await svc.recover();
			} finally {
				svc.settings.settlement.pendingTimeoutMs = timeout;
			}
			expect(await broker.call("orders.get", { id: a._id }, as(admin))).toMatchObject({ status: "confirmed", totalCents: 600 });
			await expect(broker.call("orders.get", { id: b._id }, as(admin))).rejects.toMatchObject({ code: 404 });
			// Its reservation is closed: a request still in flight takes nothing.
			await expect(broker.call("products.reserve", { orderId: b._id, items: b.requested })).rejects.toMatchObject({ code: 409 });
			expect(await stockOf(held.id)).toBe(8);
			expect(await stockOf(lost.id)).toBe(10);
		});
	});
});
