import type { DbAdapter } from "../../lib/db/adapter";
import type { Order } from "../../lib/contracts/types";
import type { OrderStatus } from "../../lib/contracts/order-status";
import { dashboardOf, topProducts } from "../../services/analytics/dashboard";
import { OrderFacts, type OrderFact } from "../../services/analytics/order-facts";
import { Gate, memoryStore, through } from "../helpers/stepped-store";

/**
 * Analytics' domain driven directly: the order facts on an in-memory store
 * (two "handlers" of one order's messages each reach it through a gate of
 * their own, so their writes interleave one at a time as the test steps
 * them), and the dashboard's figures from the facts.
 */

function order(id: string, statuses: OrderStatus[], lines: Array<[string, number, number]>, createdAt = "2026-11-20T10:00:00.000Z"): Order {
	const items = lines.map(([productId, quantity, unit]) => ({ productId, sku: productId, name: `Name ${productId}`, unitPriceCents: unit, quantity, lineTotalCents: quantity * unit }));
	return {
		id,
		customerId: "c1",
		items,
		totalCents: items.reduce((s, l) => s + l.lineTotalCents, 0),
		status: statuses.at(-1)!,
		statusHistory: statuses.map(status => ({ status, at: createdAt })),
		shippingAddress: null,
		paymentStatus: "unpaid",
		paidCents: 0,
		paymentHistory: [],
		fulfilment: null,
		returns: [],
		createdAt,
		updatedAt: createdAt,
	};
}

let store: DbAdapter<OrderFact>;
beforeEach(async () => {
	store = await memoryStore<OrderFact>("order_facts");
});
afterEach(() => store.disconnect());

const statusOf = async (id: string) => (await store.findById(id))?.status;

describe("order facts", () => {
	const confirmed = order("P", ["pending", "confirmed"], [["p5", 1, 10]]);
	const cancelled = order("P", ["pending", "confirmed", "cancelled"], [["p5", 1, 10]]);

	it("keeps nothing of a pending order, which may still be refused", async () => {
		const facts = new OrderFacts(store);
		expect(await facts.apply(order("Q", ["pending"], [["p1", 1, 1]]))).toBe(false);
		expect(await facts.isEmpty()).toBe(true);
	});

	it("stores nothing from a payment's or a fulfilment's message: a fact is an order's status, and each status has its own message", async () => {
		const facts = new OrderFacts(store);
		expect(await facts.apply(confirmed, "payment")).toBe(false);
		expect(await facts.apply(cancelled, "fulfilment")).toBe(false);
		expect(await facts.isEmpty()).toBe(true);
		expect(await facts.apply(confirmed, "status")).toBe(true);
		expect(await statusOf("P")).toBe("confirmed");
	});

	it("keeps an order's newest state, whatever order its messages come in, and says when one changed something", async () => {
		const facts = new OrderFacts(store);
		expect(await facts.apply(cancelled)).toBe(true);
		expect(await facts.apply(confirmed)).toBe(false);
		expect(await facts.apply(cancelled)).toBe(false);
		expect(await statusOf("P")).toBe("cancelled");
		expect((await facts.all()).map(f => [f._id, f.version])).toEqual([["P", 3]]);
	});

	it("keeps the newer state when an older message's insert wins the race and the newer one's first update found nothing", async () => {
		const older = new Gate().hold();
		const newer = new Gate().hold();
		const first = new OrderFacts(through(store, older, "order_facts")).apply(confirmed);
		const second = new OrderFacts(through(store, newer, "order_facts")).apply(cancelled);
		// The newer message tries its update first: no fact yet.
		expect((await newer.step()).op).toBe("updateMany");
		// The older message inserts the first fact.
		expect((await older.step()).op).toBe("insert");
		expect(await statusOf("P")).toBe("confirmed");
		// The newer one's insert is refused as a duplicate, and its second update applies.
		expect((await newer.step()).op).toBe("insert");
		expect((await newer.step()).op).toBe("updateMany");
		expect(await second).toBe(true);
		expect(await first).toBe(true);
		expect(await statusOf("P")).toBe("cancelled");
	});

	it("lets an older message's late update change nothing once the newer state is stored", async () => {
		const facts = new OrderFacts(store);
		await facts.apply(cancelled);
		const late = new Gate().hold();
		const stale = new OrderFacts(through(store, late, "order_facts")).apply(confirmed);
		expect((await late.step()).op).toBe("insert");
		expect((await late.step()).op).toBe("updateMany");
		expect(await stale).toBe(false);
		expect(await statusOf("P")).toBe("cancelled");
	});

	it("answers sales per day and per month, oldest first, within a range, counting only paid orders", async () => {
		const facts = new OrderFacts(store);
		await facts.apply(order("A", ["pending", "confirmed"], [["p1", 1, 100]], "2026-10-05T09:00:00.000Z"));
		await facts.apply(order("B", ["pending", "confirmed", "shipped"], [["p1", 2, 100]], "2026-11-02T09:00:00.000Z"));
		await facts.apply(order("C", ["pending", "confirmed", "delivered"], [["p2", 1, 50]], "2026-11-02T18:00:00.000Z"));
		await facts.apply(order("D", ["pending", "cancelled"], [["p2", 1, 999]], "2026-11-03T09:00:00.000Z"));
		expect(await facts.sales("day")).toEqual([
			{ period: "2026-10-05", orders: 1, revenueCents: 100 },
			{ period: "2026-11-02", orders: 2, revenueCents: 250 },
		]);
		expect(await facts.sales("month", new Date("2026-11-01T00:00:00.000Z"))).toEqual([{ period: "2026-11", orders: 2, revenueCents: 250 }]);
	});
});

describe("the dashboard's figures", () => {
	it("counts every order by status, and revenue, average and best sellers from the paid ones only", async () => {
		const facts = new OrderFacts(store);
		await facts.apply(order("A", ["pending", "confirmed"], [["p1", 2, 500]]));
		await facts.apply(
			order(
				"B",
				["pending", "confirmed", "delivered"],
				[
					["p2", 2, 300],
					["p1", 1, 500],
				],
			),
		);
		await facts.apply(order("C", ["pending", "cancelled"], [["p3", 50, 1]]));
		const now = new Date("2026-12-07T08:00:00.000Z");
		const dashboard = dashboardOf(await facts.all(), { lowStockProducts: null, customers: 7 }, now);
		expect(dashboard).toEqual({
			totalOrders: 3,
			ordersByStatus: { pending: 0, awaiting_payment: 0, confirmed: 1, shipped: 0, delivered: 1, cancelled: 1 },
			revenueCents: 2100,
			averageOrderValueCents: 1050,
			topProducts: [
				{ productId: "p1", name: "Name p1", quantity: 3, revenueCents: 1500 },
				{ productId: "p2", name: "Name p2", quantity: 2, revenueCents: 600 },
			],
			lowStockProducts: null,
			customers: 7,
			updatedAt: now.toISOString(),
		});
	});

	it("ranks best sellers by units, then revenue, and lists ten", () => {
		const paid: OrderFact[] = Array.from({ length: 12 }, (_, i) => ({
			_id: `O${i}`,
			customerId: "c1",
			status: "confirmed",
			totalCents: 0,
			items: [{ productId: `p${i}`, name: `P${i}`, quantity: i % 3, lineTotalCents: i }],
			createdAt: "2026-11-20T10:00:00.000Z",
			version: 2,
		}));
		const top = topProducts(paid);
		expect(top).toHaveLength(10);
		expect(top.slice(0, 4).map(t => t.productId)).toEqual(["p11", "p8", "p5", "p2"]);
	});

	it("answers zeros for a shop with no orders", () => {
		const dashboard = dashboardOf([], { lowStockProducts: [], customers: 0 });
		expect([dashboard.totalOrders, dashboard.revenueCents, dashboard.averageOrderValueCents, dashboard.topProducts]).toEqual([0, 0, 0, []]);
	});
});
