import type { ServiceBroker, ServiceSchema } from "moleculer";
import AnalyticsService from "../../services/analytics.service";
import { CHANNELS } from "../../lib/contracts/channels";
import { createTestBroker, eventRecorder, waitFor } from "../helpers/broker";

function order(id: string, statuses: string[], lines: Array<[string, number, number]>, createdAt = "2026-11-20T10:00:00.000Z") {
	const items = lines.map(([productId, quantity, unit]) => ({ productId, sku: productId, name: `Name ${productId}`, unitPriceCents: unit, quantity, lineTotalCents: quantity * unit }));
	return {
		id,
		customerId: "c1",
		items,
		totalCents: items.reduce((s, l) => s + l.lineTotalCents, 0),
		status: statuses.at(-1),
		statusHistory: statuses.map(status => ({ status, at: createdAt })),
		createdAt,
	};
}

/** Stand-ins for the services the dashboard asks. */
function standIns(orders: unknown[] = []): ServiceSchema[] {
	return [
		{ name: "products", actions: { lowStock: () => [{ productId: "p9", sku: "p9", name: "Low", stock: 1, threshold: 5 }] } },
		{ name: "customers", actions: { count: () => ({ total: 42 }) } },
		{
			name: "orders",
			actions: {
				all: (ctx: any) => ({
					rows: orders.slice((ctx.params.page - 1) * 2, ctx.params.page * 2),
					total: orders.length,
					page: ctx.params.page,
					pageSize: 2,
					totalPages: Math.ceil(orders.length / 2),
				}),
			},
		},
	];
}

describe("analytics service", () => {
	let broker: ServiceBroker;
	const events = eventRecorder("analytics-recorder", ["analytics.updated"]);
	const send = (o: object) => broker.sendToChannel(CHANNELS.orderStatus, { order: o });
	const dashboard = () => broker.call<any, object>("analytics.dashboard", {});

	beforeAll(async () => {
		broker = createTestBroker();
		for (const s of standIns()) broker.createService(s);
		broker.createService(AnalyticsService);
		broker.createService(events.schema);
		await broker.start();
	});
	afterAll(() => broker.stop());

	it("counts revenue from confirmed, shipped and delivered orders, once each, whatever is redelivered or late", async () => {
		const a = order("A", ["pending", "confirmed"], [["p1", 2, 500]]);
		const b = order(
			"B",
			["pending", "confirmed"],
			[
				["p1", 1, 500],
				["p2", 3, 100],
			],
		);
		const bCancelled = order(
			"B",
			["pending", "confirmed", "cancelled"],
			[
				["p1", 1, 500],
				["p2", 3, 100],
			],
		);
		const c = order("C", ["pending", "confirmed", "shipped", "delivered"], [["p2", 1, 100]], "2026-10-05T08:00:00.000Z");
		const d = order("D", ["pending", "cancelled"], []);
		for (const msg of [a, b, a, bCancelled, b, c, d, d, c]) await send(msg);
		await waitFor(async () => (await dashboard()).totalOrders === 4 && (await dashboard()).ordersByStatus.cancelled === 2, 5000, "the dashboard to count every order");
		const dash = await dashboard();
		expect(dash).toEqual({
			totalOrders: 4,
			ordersByStatus: { pending: 0, awaiting_payment: 0, confirmed: 1, shipped: 0, delivered: 1, cancelled: 2 },
			revenueCents: 1000 + 100,
			averageOrderValueCents: 550,
			topProducts: [
				{ productId: "p1", name: "Name p1", quantity: 2, revenueCents: 1000 },
				{ productId: "p2", name: "Name p2", quantity: 1, revenueCents: 100 },
			],
			lowStockProducts: [{ productId: "p9", sku: "p9", name: "Low", stock: 1, threshold: 5 }],
			customers: 42,
			updatedAt: expect.any(String),
		});
		// The same messages again change nothing.
		for (const msg of [a, bCancelled, c, d]) await send(msg);
		await send(order("E", ["pending", "confirmed"], [["p3", 1, 1]]));
		await waitFor(async () => (await dashboard()).totalOrders === 5, 5000, "order E");
		expect((await dashboard()).revenueCents).toBe(1101);
	});

	it("keeps the newest state when messages of one order are handled in parallel, in any order", async () => {
		const svc: any = broker.getLocalService("analytics");
		const versions = [order("P", ["pending", "confirmed"], [["p5", 1, 10]]), order("P", ["pending", "confirmed", "cancelled"], [["p5", 1, 10]])];
		await Promise.all([svc.applyOrder(versions[0]), svc.applyOrder(versions[1]), svc.applyOrder(versions[0])]);
		expect((await svc.adapter.findById("P")).status).toBe("cancelled");
		await svc.adapter.removeById("P");
		await Promise.all([svc.applyOrder(versions[1]), svc.applyOrder(versions[0])]);
		expect((await svc.adapter.findById("P")).status).toBe("cancelled");
		await svc.adapter.removeById("P");
	});

	it("answers sales per day and per month, oldest first, within a range", async () => {
		expect(await broker.call("analytics.sales", { interval: "day" })).toEqual([
			{ period: "2026-10-05", orders: 1, revenueCents: 100 },
			{ period: "2026-11-20", orders: 2, revenueCents: 1001 },
		]);
		expect(await broker.call("analytics.sales", { interval: "month" })).toEqual([
			{ period: "2026-10", orders: 1, revenueCents: 100 },
			{ period: "2026-11", orders: 2, revenueCents: 1001 },
		]);
		expect(await broker.call("analytics.sales", { interval: "day", from: "2026-11-01", to: "2026-11-30" })).toEqual([{ period: "2026-11-20", orders: 2, revenueCents: 1001 }]);
		await expect(broker.call("analytics.sales", { interval: "week" })).rejects.toMatchObject({ code: 422 });
		await expect(broker.call("analytics.sales", { from: "not a date" })).rejects.toMatchObject({ code: 422 });
	});

	it("announces analytics.updated, coalescing a burst of changes", async () => {
		const before = events.received.length;
		for (let i = 0; i < 10; i++) await send(order(`burst-${i}`, ["pending", "confirmed"], [["p4", 1, 10]]));
		await waitFor(() => events.received.length > before && events.received.at(-1)!.payload.dashboard.totalOrders === 15, 5000, "analytics.updated");
		expect(events.received.length - before).toBeLessThan(10);
	});

	it("a new node with an empty store rebuilds from the orders service before its first answer", async () => {
		const history = [order("R1", ["pending", "confirmed"], [["p1", 1, 700]]), order("R2", ["pending", "cancelled"], []), order("R3", ["pending", "confirmed", "shipped"], [["p2", 2, 50]])];
		const fresh = createTestBroker();
		for (const s of standIns(history)) fresh.createService(s);
		fresh.createService(AnalyticsService);
		await fresh.start();
		try {
			const dash = await fresh.call<any, object>("analytics.dashboard", {});
			expect(dash).toMatchObject({ totalOrders: 3, revenueCents: 800, ordersByStatus: { confirmed: 1, shipped: 1, cancelled: 1 } });
		} finally {
			await fresh.stop();
		}
	});
});
