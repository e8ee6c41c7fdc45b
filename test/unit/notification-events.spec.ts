import { eventId, orderEvents, stockEvent, MalformedMessageError } from "../../services/notifications/events";
import { mismatchMails } from "../../services/notifications/operator-mails";
import type { OrderStatusMessage, PaymentMismatchMessage } from "../../lib/contracts/channels";

/** The mapping from the durable channels' messages to notification events, driven directly. */

const at = (n: number) => `2026-12-07T10:0${n}:00.000Z`;
function order(statuses: string[], extra: Record<string, unknown> = {}): OrderStatusMessage {
	return {
		order: {
			id: "ord-1",
			customerId: "cust-1",
			items: [{ productId: "p1", sku: "S1", name: "Lamp", unitPriceCents: 500, quantity: 2, lineTotalCents: 1000 }],
			totalCents: 1000,
			status: statuses[statuses.length - 1],
			statusHistory: statuses.map((status, i) => ({ status, at: at(i) })),
			shippingAddress: null,
			createdAt: at(0),
			updatedAt: at(statuses.length - 1),
			...extra,
		},
	} as unknown as OrderStatusMessage;
}
const types = (msg: OrderStatusMessage) => orderEvents(msg).map(e => e.type);

describe("notification events from order messages", () => {
	it("announces a placed order once, at its first confirmed or awaiting_payment step", () => {
		expect(types(order(["pending"]))).toEqual([]);
		expect(types(order(["pending", "confirmed"]))).toEqual(["order.placed"]);
		expect(types(order(["pending", "awaiting_payment", "confirmed"]))).toEqual(["order.placed"]);
		const [placed] = orderEvents(order(["pending", "awaiting_payment", "confirmed"]));
		expect(placed).toMatchObject({ key: "order.placed:ord-1:1", occurredAt: at(1), customerId: "cust-1" });
	});

	it("maps shipped, delivered and cancelled, each with its own history index", () => {
		const events = orderEvents(order(["pending", "confirmed", "shipped", "delivered"]));
		expect(events.map(e => e.key)).toEqual(["order.placed:ord-1:1", "order.shipped:ord-1:2", "order.delivered:ord-1:3"]);
		const cancelled = orderEvents({ ...order(["pending", "confirmed", "cancelled"]), cancelReason: "CANCELLED_BY_CUSTOMER" });
		expect(cancelled.map(e => e.type)).toEqual(["order.placed", "order.cancelled"]);
		expect(cancelled[1].data).toMatchObject({ reason: "CANCELLED_BY_CUSTOMER", order: { id: "ord-1", status: "cancelled" } });
	});

	it("gives the same ids however often, and whichever later message, carries a step", () => {
		const first = orderEvents(order(["pending", "confirmed"]));
		const again = orderEvents(order(["pending", "confirmed"]));
		const later = orderEvents(order(["pending", "confirmed", "shipped"]));
		expect(again.map(e => e.id)).toEqual(first.map(e => e.id));
		expect(later[0].id).toBe(first[0].id);
		expect(first[0].id).toBe(eventId("order.placed:ord-1:1"));
		expect(first[0].id).toMatch(/^evt_[0-9a-f]{32}$/);
	});

	it("maps payment changes: paid, refunded (partly or fully) and failed, by payment history index", () => {
		const payment = order(["pending", "confirmed"], {
			paymentStatus: "partially_refunded",
			paymentHistory: [
				{ status: "failed", at: at(2), amountCents: 1000 },
				{ status: "authorised", at: at(3), amountCents: 1000 },
				{ status: "paid", at: at(4), amountCents: 1000 },
				{ status: "partially_refunded", at: at(5), amountCents: 300 },
			],
		});
		const events = orderEvents({ ...payment, change: "payment" });
		expect(events.map(e => e.key)).toEqual(["order.placed:ord-1:1", "payment.failed:ord-1:0", "order.paid:ord-1:2", "order.refunded:ord-1:3"]);
		expect(events[3].data).toMatchObject({ payment: { status: "partially_refunded", amountCents: 300 }, order: { paymentStatus: "partially_refunded" } });
	});

	it("makes no event of a step whose status names an object's own property (constructor, toString)", () => {
		const odd = order(["pending", "confirmed", "constructor", "toString"], {
			paymentHistory: [
				{ status: "constructor", at: at(4), amountCents: 1 },
				{ status: "__proto__", at: at(5), amountCents: 1 },
			],
		});
		expect(types(odd)).toEqual(["order.placed"]);
	});

	it("carries the fulfilment on a shipped order once it is recorded, and does without it before", () => {
		const fulfilment = { carrier: "DHL", trackingNumber: "JD0146", shippedAt: at(2), deliveredAt: null };
		const withIt = orderEvents({ ...order(["pending", "confirmed", "shipped"], { fulfilment }), change: "fulfilment" });
		expect(withIt[1].data).toMatchObject({ order: { fulfilment } });
		expect(orderEvents(order(["pending", "confirmed", "shipped"]))[1].data.order).not.toHaveProperty("fulfilment");
	});

	it("keeps only the order's known fields, and refuses a malformed message", () => {
		const [placed] = orderEvents(order(["confirmed"], { internalNote: "x", outbox: true }));
		expect(Object.keys(placed.data.order as object)).not.toEqual(expect.arrayContaining(["internalNote"]));
		for (const bad of [null, {}, { order: null }, { order: { id: "x" } }, { order: { id: 3, statusHistory: [] } }]) expect(() => orderEvents(bad as never)).toThrow(MalformedMessageError);
		expect(types(order(["pending", "confirmed"], { paymentHistory: "not-a-list" }))).toEqual(["order.placed"]);
	});
});

describe("notification events from stock alerts", () => {
	const alert = { type: "stock_low", productId: "p1", sku: "S1", name: "Lamp", stock: 2, threshold: 3, crossing: 1 } as const;

	it("maps each crossing to one event, its id from product, type and crossing", () => {
		const low = stockEvent(alert);
		expect(low).toMatchObject({ type: "product.stock_low", key: "product.stock_low:p1:1", data: { product: { productId: "p1", sku: "S1", name: "Lamp", stock: 2, threshold: 3 } } });
		expect(stockEvent(alert).id).toBe(low.id);
		expect(stockEvent({ ...alert, crossing: 2 }).id).not.toBe(low.id);
		expect(stockEvent({ ...alert, type: "out_of_stock", stock: 0 })).toMatchObject({ type: "product.out_of_stock", key: "product.out_of_stock:p1:1" });
	});

	it("refuses a malformed alert", () => {
		for (const bad of [null, { ...alert, type: "other" }, { ...alert, productId: "" }, { ...alert, crossing: "1" }]) expect(() => stockEvent(bad as never)).toThrow(MalformedMessageError);
	});
});

describe("operators' mail about a mismatched payment", () => {
	const mismatch: PaymentMismatchMessage = {
		eventId: "evt_1",
		orderId: "ord-1",
		paymentId: "pay-1",
		expectedCents: 2500,
		expectedCurrency: "EUR",
		receivedCents: 2500,
		currency: "usd",
		message: "Stripe reported 2500 usd for order ord-1, which expects 2500 EUR",
	};
	const settings = { alertEmails: ["ops@shop.test", "cfo@shop.test"], publicUrl: "https://shop.example.com" };

	it("makes one mail per ALERT_EMAILS address, with the same ids when the message comes again, and each amount in its own currency", () => {
		const mails = mismatchMails(mismatch, settings);
		expect(mails.map(m => m.target.to)).toEqual(settings.alertEmails);
		expect(mismatchMails({ ...mismatch, message: "sent again" }, settings).map(m => m.id)).toEqual(mails.map(m => m.id));
		expect(mismatchMails({ ...mismatch, eventId: "evt_2" }, settings)[0].id).not.toBe(mails[0].id);
		expect(mails[0].target).toMatchObject({ template: "operator.payment_mismatch", data: { orderId: "ord-1", expected: "25.00 EUR", received: "25.00 USD", providerEventId: "evt_1" } });
		expect(mismatchMails(mismatch, { ...settings, alertEmails: [] })).toEqual([]);
	});

	it("refuses a malformed message", () => {
		for (const bad of [null, { ...mismatch, eventId: "" }, { ...mismatch, receivedCents: "1" }, { ...mismatch, expectedCurrency: undefined }])
			expect(() => mismatchMails(bad as never, settings)).toThrow(MalformedMessageError);
	});
});
