import crypto from "crypto";
import type { OrderStatusMessage, StockAlertMessage } from "../../lib/contracts/channels";
import { fieldsOf } from "../../lib/contracts/fields";
import type { NotifiedOrder, PaymentStep, WebhookEventType } from "../../lib/contracts/notifications";

/**
 * From the durable channels' messages to the shop's notification events.
 * An event's id comes from what happened (the order, the kind, the index of
 * the step in its history; the product, the kind, the crossing), never from
 * the message: a message sent again, or a later message of the same order,
 * yields the same ids, so each event is recorded, mailed and delivered once
 * per receiver, and a receiver can drop duplicates by `webhook-id`.
 */

export interface NotificationEvent {
	/** `evt_` and 32 hex digits of the key's SHA-256: the `webhook-id` of every delivery of it. */
	id: string;
	/** What the id is derived from, readable: `order.placed:<orderId>:<index>`. */
	key: string;
	type: WebhookEventType;
	occurredAt: string;
	data: Record<string, unknown>;
	/** Whose event it is: the customer's mail goes there. */
	customerId?: string;
}

export const eventId = (key: string) => `evt_${crypto.createHash("sha256").update(key).digest("hex").slice(0, 32)}`;

function event(type: WebhookEventType, subject: string, index: number, occurredAt: string, data: Record<string, unknown>, customerId?: string): NotificationEvent {
	const key = `${type}:${subject}:${index}`;
	return { id: eventId(key), key, type, occurredAt, data, ...(customerId ? { customerId } : {}) };
}

const PLACED_STATUSES: ReadonlySet<string> = new Set(["confirmed", "awaiting_payment"]);
const STATUS_EVENTS: Readonly<Record<string, WebhookEventType>> = { shipped: "order.shipped", delivered: "order.delivered", cancelled: "order.cancelled" };
const PAYMENT_EVENTS: Readonly<Record<string, WebhookEventType>> = {
	paid: "order.paid",
	refunded: "order.refunded",
	partially_refunded: "order.refunded",
	failed: "payment.failed",
};
const ORDER_FIELDS = ["id", "customerId", "items", "totalCents", "status", "statusHistory", "shippingAddress", "paymentStatus", "fulfilment", "createdAt", "updatedAt"] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isStep = (v: unknown): v is { status: string; at: string } => isObject(v) && typeof v.status === "string" && typeof v.at === "string";

/** The order as events carry it: its own known fields, payment and fulfilment when orders records them. */
function orderData(order: NotifiedOrder): Record<string, unknown> {
	const source = fieldsOf(order);
	const out: Record<string, unknown> = {};
	for (const field of ORDER_FIELDS) if (Object.hasOwn(source, field) && source[field] !== undefined) out[field] = source[field];
	return out;
}

export class MalformedMessageError extends Error {
	name = "MalformedMessageError";
}

/**
 * Every event an order's state implies, from its whole history: a message
 * that was lost or overtaken (the settler republishes the order as it is
 * now) still yields the events of the steps before it. Which part changed
 * (`change`) needs no trust: each history is read in full.
 */
export function orderEvents(msg: OrderStatusMessage): NotificationEvent[] {
	const order = msg?.order as NotifiedOrder | undefined;
	if (!isObject(order) || typeof order.id !== "string" || !order.id || !Array.isArray(order.statusHistory)) throw new MalformedMessageError("Malformed order status message");
	const data = orderData(order);
	const events: NotificationEvent[] = [];
	let placed = false;
	order.statusHistory.forEach((step, index) => {
		if (!isStep(step)) return;
		if (!placed && PLACED_STATUSES.has(step.status)) {
			placed = true;
			events.push(event("order.placed", order.id, index, step.at, { order: data }, order.customerId));
		}
		const type = Object.hasOwn(STATUS_EVENTS, step.status) ? STATUS_EVENTS[step.status] : undefined;
		if (type) events.push(event(type, order.id, index, step.at, { order: data, ...(type === "order.cancelled" && msg.cancelReason ? { reason: msg.cancelReason } : {}) }, order.customerId));
	});
	const payments: unknown = order.paymentHistory;
	if (Array.isArray(payments))
		payments.forEach((step: unknown, index) => {
			if (!isStep(step)) return;
			const type = Object.hasOwn(PAYMENT_EVENTS, step.status) ? PAYMENT_EVENTS[step.status] : undefined;
			const payment = step as PaymentStep;
			if (type)
				events.push(event(type, order.id, index, step.at, { order: data, payment: { status: payment.status, at: payment.at, amountCents: payment.amountCents ?? null } }, order.customerId));
		});
	return events;
}

export function stockEvent(msg: StockAlertMessage): NotificationEvent {
	if (!isObject(msg) || typeof msg.productId !== "string" || !msg.productId || typeof msg.stock !== "number" || !Number.isInteger(msg.crossing))
		throw new MalformedMessageError("Malformed stock alert message");
	const type: WebhookEventType | undefined = msg.type === "stock_low" ? "product.stock_low" : msg.type === "out_of_stock" ? "product.out_of_stock" : undefined;
	if (!type) throw new MalformedMessageError("Malformed stock alert message");
	const { productId, sku, name, stock, threshold } = msg;
	return event(type, productId, msg.crossing, new Date().toISOString(), { product: { productId, sku, name, stock, threshold } });
}
