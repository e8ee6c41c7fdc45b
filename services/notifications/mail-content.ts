import type { MailTemplate, WebhookEventType } from "../../lib/contracts/notifications";
import type { NotificationEvent } from "./events";
import type { MailTarget, Target } from "./outbox";
import type { TemplateData } from "./mailer";
import { mismatchData } from "./operator-mails";

/**
 * Who gets a mail for which event, and what its template reads. Customers
 * hear of their orders; operators (ALERT_EMAILS) of stock alerts and failed
 * payments (and, outside the events, of mismatched ones: operator-mails.ts).
 * Links start at PUBLIC_URL.
 */

const CUSTOMER_MAILS: Partial<Record<WebhookEventType, MailTemplate>> = {
	"order.placed": "order.placed",
	"order.paid": "order.paid",
	"order.shipped": "order.shipped",
	"order.delivered": "order.delivered",
	"order.cancelled": "order.cancelled",
	"order.refunded": "order.refunded",
};
const OPERATOR_MAILS: Partial<Record<WebhookEventType, MailTemplate>> = {
	"product.stock_low": "operator.stock_alert",
	"product.out_of_stock": "operator.stock_alert",
	"payment.failed": "operator.payment_failed",
};

export function mailTargets(event: NotificationEvent, alertEmails: readonly string[]): Target[] {
	const targets: Target[] = [];
	const customerTemplate = CUSTOMER_MAILS[event.type];
	if (customerTemplate && event.customerId) targets.push({ channel: "mail", key: "customer", mail: { template: customerTemplate, customerId: event.customerId } });
	const operatorTemplate = OPERATOR_MAILS[event.type];
	if (operatorTemplate) for (const to of alertEmails) targets.push({ channel: "mail", key: `operator:${to}`, mail: { template: operatorTemplate, to } });
	return targets;
}

const money = (cents: unknown) => (typeof cents === "number" && Number.isFinite(cents) ? `${(cents / 100).toFixed(2)}` : "");

interface OrderLike {
	id?: string;
	totalCents?: number;
	items?: Array<{ name?: string; quantity?: number; lineTotalCents?: number }>;
	paymentStatus?: string;
	fulfilment?: { carrier?: string; trackingNumber?: string } | null;
}

/** What an event's mail template reads, for a recipient named `name`. */
export function eventMailData(event: { type: string; data: Record<string, unknown> }, name: string, publicUrl: string): TemplateData {
	const order = (event.data.order ?? {}) as OrderLike;
	const product = (event.data.product ?? {}) as Record<string, string | number>;
	const payment = (event.data.payment ?? {}) as { amountCents?: number };
	const items = Array.isArray(order.items) ? order.items.map(i => `${i.quantity ?? ""} x ${i.name ?? ""}  ${money(i.lineTotalCents)}`).join("\n") : "";
	return {
		name,
		orderId: order.id,
		total: money(order.totalCents),
		items,
		amount: money(payment.amountCents ?? order.totalCents),
		paymentStatus: order.paymentStatus ?? "failed",
		carrier: order.fulfilment?.carrier ?? "the carrier",
		trackingNumber: order.fulfilment?.trackingNumber ?? "(not given yet)",
		reason: typeof event.data.reason === "string" ? event.data.reason.toLowerCase().replace(/_/g, " ") : "no reason given",
		link: order.id ? `${publicUrl}/orders/${encodeURIComponent(order.id)}` : `${publicUrl}/`,
		productName: product.name,
		sku: product.sku,
		stock: product.stock,
		threshold: product.threshold,
		state: event.type === "product.out_of_stock" ? "out of stock" : "low on stock",
	};
}

/** Made-up data for the admin's preview of each template. */
export function sampleData(template: MailTemplate, publicUrl: string): TemplateData {
	const order = {
		id: "ord_sample",
		totalCents: 4598,
		items: [{ name: "Desk lamp", quantity: 2, lineTotalCents: 4598 }],
		paymentStatus: "failed",
		fulfilment: { carrier: "DHL", trackingNumber: "JD014600003828" },
	};
	const type = template === "operator.stock_alert" ? "product.stock_low" : template;
	const data = eventMailData(
		{ type, data: { order, payment: { amountCents: 4598 }, reason: "CANCELLED_BY_CUSTOMER", product: { name: "Desk lamp", sku: "LAMP-1", stock: 2, threshold: 5 } } },
		"Ada Lovelace",
		publicUrl,
	);
	return {
		...data,
		...(template === "operator.payment_mismatch"
			? mismatchData({ orderId: order.id, eventId: "evt_sample", expectedCents: 4598, expectedCurrency: "USD", receivedCents: 459, currency: "usd" }, publicUrl)
			: {}),
		minutes: 30,
		url: "https://erp.example.com/hooks/shop",
		endpointId: "wh_sample",
		...(template === "password.reset" ? { link: `${publicUrl}/reset-password?token=sample-token` } : {}),
	};
}

export type { MailTarget };
