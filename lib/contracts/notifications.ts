/**
 * What the notifications service announces to webhook endpoints, and the
 * gateway documents (OpenAPI's `webhooks`): the event types, the order's
 * payment and fulfilment fields as the events carry them.
 */
import type { Fulfilment, PaymentStatus } from "./payments";
import type { Order } from "./types";

/** The order events a customer hears of, by webhook and by mail alike. */
const ORDER_EVENTS = ["order.placed", "order.paid", "order.shipped", "order.delivered", "order.cancelled", "order.refunded"] as const;

export const WEBHOOK_EVENT_TYPES = [...ORDER_EVENTS, "product.stock_low", "product.out_of_stock", "payment.failed"] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A step of an order's payment, as orders records it. */
export interface PaymentStep {
	status: PaymentStatus;
	at: string;
	amountCents: number;
}

/** An order as an order message may carry it: payment and fulfilment appear once payments records them. */
export type NotifiedOrder = Order & {
	paymentStatus?: PaymentStatus;
	paymentHistory?: PaymentStep[];
	fulfilment?: Fulfilment | null;
};

/** The mail templates, each a text and an HTML file (services/notifications/templates/). */
export const MAIL_TEMPLATES = [...ORDER_EVENTS, "password.reset", "operator.stock_alert", "operator.payment_failed", "operator.payment_mismatch", "operator.endpoint_disabled"] as const;
export type MailTemplate = (typeof MAIL_TEMPLATES)[number];
