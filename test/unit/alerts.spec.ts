import type { ServiceBroker } from "moleculer";
import AlertsService from "../../services/alerts.service";
import ProductsService from "../../services/products.service";
import { CHANNELS } from "../../lib/contracts/channels";
import { createTestBroker, eventRecorder, waitFor } from "../helpers/broker";

describe("alerts service", () => {
	let broker: ServiceBroker;
	const events = eventRecorder("alert-recorder", ["alert.sent"]);
	let seq = 0;

	beforeAll(async () => {
		broker = createTestBroker();
		broker.createService(ProductsService);
		broker.createService(AlertsService);
		broker.createService(events.schema);
		await broker.start();
	});
	afterAll(() => broker.stop());

	const product = (stock: number, lowStockThreshold: number) =>
		broker.call<any, object>("products.create", { sku: `AL-${++seq}`, name: `Alerted ${seq}`, category: "c", priceCents: 100, stock, lowStockThreshold });
	const reserve = (productId: string, quantity: number) => broker.call("products.reserve", { orderId: `al-order-${++seq}`, items: [{ productId, quantity }] });
	const alertsFor = async (productId: string, type?: string) =>
		(await broker.call<any, object>("alerts.list", { pageSize: 100, ...(type ? { type } : {}) })).rows.filter((a: any) => a.data.productId === productId);

	it("raises stock_low once per crossing: 6 -> 3 one alert, 3 -> 1 none, restock to 10 then down to 2 a second", async () => {
		const p = await product(6, 3);
		await reserve(p.id, 3);
		await waitFor(async () => (await alertsFor(p.id, "stock_low")).length === 1, 5000, "the first stock_low alert");
		const [first] = await alertsFor(p.id, "stock_low");
		expect(first).toEqual({
			id: expect.any(String),
			type: "stock_low",
			severity: "warning",
			message: expect.stringContaining(p.sku),
			acknowledged: false,
			createdAt: expect.any(String),
			data: { productId: p.id, sku: p.sku, name: p.name, stock: 3, threshold: 3 },
		});
		await reserve(p.id, 2);
		await broker.call("products.restock", { id: p.id, quantity: 9 });
		await reserve(p.id, 8);
		await waitFor(async () => (await alertsFor(p.id, "stock_low")).length === 2, 5000, "the second stock_low alert");
		expect((await alertsFor(p.id, "stock_low")).map((a: any) => a.data.stock).sort()).toEqual([2, 3]);
		expect(await alertsFor(p.id, "out_of_stock")).toEqual([]);
	});

	it("raises out_of_stock (critical) when stock reaches zero", async () => {
		const p = await product(4, 1);
		await reserve(p.id, 4);
		await waitFor(async () => (await alertsFor(p.id, "out_of_stock")).length === 1, 5000, "out_of_stock");
		const [out] = await alertsFor(p.id, "out_of_stock");
		expect(out).toMatchObject({ severity: "critical", data: { productId: p.id, stock: 0, threshold: 1 } });
		expect(await alertsFor(p.id, "stock_low")).toHaveLength(1);
	});

	it("keeps a stock alert whose publish failed in the product, and the settler sends it", async () => {
		const p = await product(5, 2);
		const svc: any = broker.getLocalService("products");
		const send = jest.spyOn(broker, "sendToChannel").mockRejectedValueOnce(new Error("broker unreachable"));
		await reserve(p.id, 3);
		await waitFor(() => send.mock.calls.length > 0, 5000, "the failed publish");
		send.mockRestore();
		expect(Object.keys((await svc.adapter.findById(p.id)).alertOutbox)).toEqual(["stock_low_1"]);
		expect(await alertsFor(p.id, "stock_low")).toEqual([]);
		await svc.recover();
		await waitFor(async () => (await alertsFor(p.id, "stock_low")).length === 1, 5000, "the alert sent by the settler");
		expect((await svc.adapter.findById(p.id)).alertOutbox).toEqual({});
	});

	it("settles without failing while alerts cannot be published (as at a node's start), keeping them for later", async () => {
		const p = await product(5, 2);
		const svc: any = broker.getLocalService("products");
		const send = jest.spyOn(broker, "sendToChannel").mockRejectedValue(new Error("Adapter not yet connected"));
		try {
			await reserve(p.id, 3);
			await waitFor(() => send.mock.calls.length > 0, 5000, "the failed publish");
			await expect(svc.recover()).resolves.toBeUndefined();
			expect(Object.keys((await svc.adapter.findById(p.id)).alertOutbox)).toEqual(["stock_low_1"]);
		} finally {
			send.mockRestore();
		}
		await svc.recover();
		await waitFor(async () => (await alertsFor(p.id, "stock_low")).length === 1, 5000, "the alert once publishing works");
	});

	it("raises order_cancelled once however often the message is delivered, with the order's data", async () => {
		const order = { id: "ord-cx-1", customerId: "cust-9", status: "cancelled", statusHistory: [{}, {}, {}] };
		for (let i = 0; i < 3; i++) await broker.sendToChannel(CHANNELS.orderStatus, { order, cancelReason: "CANCELLED_BY_CUSTOMER" });
		const cancelled = () => broker.call<any, object>("alerts.list", { type: "order_cancelled", pageSize: 100 }).then(r => r.rows.filter((a: any) => a.data.orderId === order.id));
		await waitFor(async () => (await cancelled()).length === 1, 5000, "order_cancelled");
		expect((await cancelled())[0]).toMatchObject({ type: "order_cancelled", data: { orderId: "ord-cx-1", customerId: "cust-9", reason: "CANCELLED_BY_CUSTOMER" } });
		await waitFor(() => events.received.filter(e => e.payload.alert.data.orderId === order.id).length === 1);
		// Only cancellations raise one.
		await broker.sendToChannel(CHANNELS.orderStatus, { order: { ...order, id: "ord-cx-3", status: "confirmed" } });
		await broker.sendToChannel(CHANNELS.orderStatus, { order: { ...order, id: "ord-cx-4" }, cancelReason: "CANCELLED_BY_ADMIN" });
		await waitFor(async () => (await broker.call<any, object>("alerts.list", { type: "order_cancelled", pageSize: 100 })).rows.some((a: any) => a.data.orderId === "ord-cx-4"));
		const ids = (await broker.call<any, object>("alerts.list", { type: "order_cancelled", pageSize: 100 })).rows.map((a: any) => a.data.orderId);
		expect(ids).not.toContain("ord-cx-3");
	});

	it("filters by acknowledged and type, acknowledges, and 404s an unknown alert", async () => {
		const all = await broker.call<any, object>("alerts.list", { pageSize: 100 });
		expect(all.total).toBeGreaterThan(0);
		const target = all.rows[0];
		const acked = await broker.call<any, object>("alerts.ack", { id: target.id });
		expect(acked).toMatchObject({ id: target.id, acknowledged: true });
		const ackedList = await broker.call<any, object>("alerts.list", { acknowledged: true, pageSize: 100 });
		expect(ackedList.rows.map((a: any) => a.id)).toEqual([target.id]);
		const open = await broker.call<any, object>("alerts.list", { acknowledged: false, pageSize: 100 });
		expect(open.total).toBe(all.total - 1);
		await expect(broker.call("alerts.ack", { id: "missing" })).rejects.toMatchObject({ code: 404 });
		await expect(broker.call("alerts.list", { type: "bogus" })).rejects.toMatchObject({ code: 422 });
		await expect(broker.call("alerts.list", { pageSize: 101 })).rejects.toMatchObject({ code: 422 });
	});

	it("raises a payment mismatch once per provider event, and refuses any other type or a data shape that is not a mismatch's, storing nothing", async () => {
		const data = { eventId: "evt_1", orderId: "o1", paymentId: "p1", expectedCents: 1000, expectedCurrency: "USD", receivedCents: 900, currency: "usd" };
		const raise = (params: object) => broker.call("alerts.raise", { key: "evt_1", type: "payment_mismatch", severity: "critical", message: "Paid 9.00 of 10.00", data, ...params });
		const before = (await broker.call<any, object>("alerts.list", { pageSize: 100 })).total;
		await raise({});
		await raise({});
		const mismatches = (await broker.call<any, object>("alerts.list", { type: "payment_mismatch", pageSize: 100 })).rows;
		expect(mismatches).toEqual([expect.objectContaining({ type: "payment_mismatch", severity: "critical", data })]);

		// The stock and order alerts come from their own messages only: a call cannot fake one.
		await expect(raise({ key: "k2", type: "stock_low" })).rejects.toMatchObject({ code: 422 });
		await expect(raise({ key: "k3", data: { ...data, extra: "x".repeat(10) } })).rejects.toMatchObject({ code: 422 });
		await expect(raise({ key: "k4", data: { ...data, orderId: "o".repeat(100_000) } })).rejects.toMatchObject({ code: 422 });
		await expect(raise({ key: "k5", data: { eventId: "evt_5" } })).rejects.toMatchObject({ code: 422 });
		expect((await broker.call<any, object>("alerts.list", { pageSize: 100 })).total).toBe(before + 1);
	});
});
