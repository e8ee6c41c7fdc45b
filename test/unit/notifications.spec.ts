import type { ServiceBroker } from "moleculer";
import CustomersService from "../../services/customers.service";
import OrdersService from "../../services/orders.service";
import ProductsService from "../../services/products.service";
import { CHANNELS, type OrderStatusMessage, type PaymentMismatchMessage } from "../../lib/contracts/channels";
import { createTestBroker, waitFor } from "../helpers/broker";
import { notificationsWith } from "../helpers/notifications";
import { SmtpSink } from "../helpers/smtp-sink";
import { WebhookReceiver } from "../helpers/webhook-receiver";

/**
 * The notifications service on an in-process broker with the real
 * customers, products and orders services: order and stock changes reach
 * real HTTP receivers (signed, verified with `standardwebhooks`) and a real
 * SMTP server (`smtp-server`).
 */

describe("notifications service", () => {
	let broker: ServiceBroker;
	const receiver = new WebhookReceiver();
	const other = new WebhookReceiver();
	const smtp = new SmtpSink();
	const admin = { id: "admin-1", email: "admin@shop.test", role: "admin" };
	let customer: { id: string; email: string; role: string };
	let hook: { id: string };
	let seq = 0;

	beforeAll(async () => {
		await Promise.all([receiver.start(), other.start()]);
		const smtpUrl = await smtp.start();
		broker = createTestBroker();
		broker.createService(ProductsService);
		broker.createService(CustomersService);
		broker.createService({ name: "orders", mixins: [OrdersService], settings: { settlement: { recoveryIntervalMs: 3_600_000 } } });
		broker.createService(notificationsWith({ smtpUrl, alertEmails: ["ops@shop.test"], timeoutMs: 60_000 }));
		await broker.start();
		const session = await broker.call<any, object>("customers.register", { name: "Ada", email: "ada@shop.test", password: "password-1" });
		customer = { id: session.customer.id, email: "ada@shop.test", role: "customer" };
		const created = await call("notifications.createEndpoint", {
			url: receiver.url,
			eventTypes: ["order.placed", "order.shipped", "order.delivered", "order.cancelled", "order.paid", "order.refunded", "payment.failed", "product.stock_low"],
			description: "ERP",
		});
		hook = created.endpoint;
		receiver.secret = created.secret;
		const second = await call("notifications.createEndpoint", { url: other.url, eventTypes: ["product.out_of_stock"] });
		other.secret = second.secret;
	});
	afterAll(async () => {
		await broker.stop();
		await Promise.all([receiver.stop(), other.stop(), smtp.stop()]);
	});

	const call = (action: string, params: object, user: object = admin) => broker.call<any, object>(action, params, { meta: { user } });
	const product = (stock: number, lowStockThreshold = 2) => call("products.create", { sku: `N-${++seq}`, name: `Thing ${seq}`, category: "c", priceCents: 1250, stock, lowStockThreshold });
	const place = async (productId: string, quantity = 1) => call("orders.create", { items: [{ productId, quantity }] }, customer);
	const hooksOf = (orderId: string) => receiver.received.filter(r => r.payload?.data?.order?.id === orderId);

	it("announces an order's life to a subscribed endpoint, signed and verified, with one webhook-id per event", async () => {
		const p = await product(50);
		const order = await place(p.id);
		await waitFor(() => hooksOf(order.id).length === 1, 10_000, "order.placed");
		await call("orders.setStatus", { id: order.id, status: "shipped" });
		await call("orders.setStatus", { id: order.id, status: "delivered" });
		await waitFor(() => hooksOf(order.id).length === 3, 10_000, "shipped and delivered");
		const got = hooksOf(order.id);
		expect(got.map(r => r.payload!.type)).toEqual(["order.placed", "order.shipped", "order.delivered"]);
		expect(got.every(r => r.verified)).toBe(true);
		expect(new Set(got.map(r => r.id)).size).toBe(3);
		expect(got[2].payload!.data.order).toMatchObject({ id: order.id, status: "delivered", customerId: customer.id, totalCents: 1250 });
		// The receiver sees a delivery before the dispatcher records its answer.
		const attemptsOfOrder = async () => {
			const log = await call("notifications.attempts", { id: hook.id, page: 1, pageSize: 100 });
			return log.rows.filter((a: any) => got.some(r => r.id === a.eventId)).map((a: any) => a.status);
		};
		await waitFor(async () => (await attemptsOfOrder()).length === 3, 10_000, "three recorded attempts");
		expect(await attemptsOfOrder()).toEqual([200, 200, 200]);
	});

	it("mails the customer when the order is placed, shipped, delivered and cancelled, with links from PUBLIC_URL", async () => {
		const p = await product(50);
		const order = await place(p.id);
		const cancelled = await place(p.id);
		await call("orders.cancel", { id: cancelled.id }, customer);
		await call("orders.setStatus", { id: order.id, status: "shipped" });
		await call("orders.setStatus", { id: order.id, status: "delivered" });
		const subjects = () => smtp.to(customer.email).map(m => m.subject);
		const expected = [
			`Your order ${order.id} is placed`,
			`Order ${order.id} is on its way`,
			`Order ${order.id} is delivered`,
			`Your order ${cancelled.id} is placed`,
			`Order ${cancelled.id} is cancelled`,
		];
		// Mails of different events go side by side: one that arrived says nothing of another's.
		await waitFor(() => expected.every(s => subjects().includes(s)), 10_000, "the customer's mail");
		for (const subject of expected) expect(subjects().filter(s => s === subject)).toHaveLength(1);
		const placedMail = smtp.to(customer.email).find(m => m.subject === `Your order ${order.id} is placed`)!;
		expect(placedMail.decoded).toContain(`https://shop.example.com/orders/${order.id}`);
		expect(placedMail.raw).toMatch(/Content-Type: text\/html/);
	});

	it("announces payment changes: paid and refunded to the customer and the endpoint, a failed payment to the operators", async () => {
		const p = await product(50);
		const order = await place(p.id);
		const at = new Date().toISOString();
		const paymentHistory = [
			{ status: "failed", at, amountCents: 1250 },
			{ status: "paid", at, amountCents: 1250 },
			{ status: "refunded", at, amountCents: 1250 },
		];
		const message: OrderStatusMessage = { order: { ...order, paymentStatus: "refunded", paymentHistory } as never, change: "payment" };
		for (let i = 0; i < 3; i++) await broker.sendToChannel(CHANNELS.orderStatus, message);
		await waitFor(() => hooksOf(order.id).length === 4, 10_000, "placed, failed, paid, refunded");
		expect(
			hooksOf(order.id)
				.map(r => r.payload!.type)
				.sort(),
		).toEqual(["order.paid", "order.placed", "order.refunded", "payment.failed"]);
		expect(hooksOf(order.id).find(r => r.payload!.type === "order.refunded")!.payload!.data.payment).toEqual({ status: "refunded", at, amountCents: 1250 });
		await waitFor(() => smtp.to("ops@shop.test").some(m => m.subject === `Payment failed for order ${order.id}`), 10_000, "the operators' mail");
		await waitFor(() => smtp.to(customer.email).some(m => m.subject === `Refund for order ${order.id}`), 10_000, "the refund mail");
		expect(smtp.to(customer.email).filter(m => m.subject === `Payment received for order ${order.id}`)).toHaveLength(1);
	});

	it("announces stock crossings to the endpoints that take them, and mails ALERT_EMAILS", async () => {
		const p = await product(3, 2);
		await place(p.id, 1);
		await place(p.id, 2);
		await waitFor(() => other.received.some(r => r.payload?.data.product.productId === p.id), 10_000, "product.out_of_stock");
		await waitFor(() => receiver.received.some(r => r.payload?.type === "product.stock_low" && r.payload.data.product.productId === p.id), 10_000, "product.stock_low");
		expect(other.received.filter(r => r.payload?.data.product.productId === p.id).map(r => [r.payload!.type, r.verified])).toEqual([["product.out_of_stock", true]]);
		expect(receiver.received.some(r => r.payload?.type === "product.out_of_stock")).toBe(false);
		await waitFor(() => smtp.to("ops@shop.test").filter(m => m.subject.includes(p.sku)).length === 2, 10_000, "two stock mails");
	});

	it("mails ALERT_EMAILS once about a provider payment whose amount does not match its order, however often the message comes", async () => {
		const mismatch: PaymentMismatchMessage = {
			eventId: "evt_mismatch_1",
			orderId: "ord-mismatch-1",
			paymentId: "pay-mismatch-1",
			expectedCents: 2500,
			expectedCurrency: "EUR",
			receivedCents: 1,
			currency: "eur",
			message: "Stripe reported 1 eur for order ord-mismatch-1, which expects 2500 EUR",
		};
		for (let i = 0; i < 2; i++) await broker.sendToChannel(CHANNELS.paymentMismatches, mismatch);
		const subject = "Payment amount mismatch for order ord-mismatch-1";
		await waitFor(() => smtp.to("ops@shop.test").some(m => m.subject === subject), 10_000, "the operators' mismatch mail");
		const mails = smtp.to("ops@shop.test").filter(m => m.subject === subject);
		expect(mails).toHaveLength(1);
		expect(mails[0].decoded).toContain("0.01 EUR");
		expect(mails[0].decoded).toContain("25.00 EUR");
		expect(mails[0].decoded).toContain("evt_mismatch_1");
		expect(mails[0].decoded).toContain("https://shop.example.com/");
		expect(smtp.to(customer.email).some(m => m.subject.includes("ord-mismatch-1"))).toBe(false);
	});

	it("does no delivery work on an order's answer path: the order is answered while its webhook is still held by the receiver", async () => {
		const p = await product(50);
		receiver.mode = "hang";
		try {
			const order = await place(p.id);
			expect(order.status).toBe("confirmed");
			await waitFor(() => hooksOf(order.id).length === 1, 10_000, "the webhook held by the receiver");
			const log = await call("notifications.attempts", { id: hook.id, page: 1, pageSize: 100 });
			expect(log.rows.some((a: any) => a.eventId === hooksOf(order.id)[0].id)).toBe(false);
		} finally {
			receiver.mode = "ok";
		}
	});
});
