import { MAIL_TEMPLATES, WEBHOOK_EVENT_TYPES } from "../../lib/contracts/notifications";
import { ORDER_STATUSES } from "../../lib/contracts/order-status";
import type { JsonSchema } from "./json-schema";
import type { Answer } from "./openapi-answers";
import { accepted, created, int, noContent, ok, page, record, ref, str, timestamp } from "./openapi-pieces";

/**
 * The notifications service's part of the OpenAPI description: its answers,
 * the schemas they name, and OpenAPI 3.1's `webhooks` (what an endpoint
 * receives for each event type, signed as Standard Webhooks says).
 */

const EVENT_TYPE: JsonSchema = { enum: [...WEBHOOK_EVENT_TYPES] };
const SECRET: JsonSchema = { type: "string", pattern: "^whsec_", description: "The signing secret (Standard Webhooks): shown in this answer only" };

export const NOTIFICATION_SCHEMAS: Record<string, JsonSchema> = {
	WebhookEndpoint: record({
		id: str,
		url: { type: "string", format: "uri" },
		description: str,
		eventTypes: { type: "array", items: EVENT_TYPE },
		enabled: { type: "boolean" },
		failureStreak: { type: "integer", minimum: 0, description: "Failed deliveries in a row; the endpoint is disabled at WEBHOOK_DISABLE_AFTER" },
		disabledReason: { type: ["string", "null"] },
		createdAt: timestamp,
		updatedAt: timestamp,
	}),
	WebhookEndpointWithSecret: record({ endpoint: ref("WebhookEndpoint"), secret: SECRET }),
	WebhookEndpointPage: page("WebhookEndpoint"),
	WebhookAttempt: record({
		id: str,
		endpointId: str,
		eventId: { type: "string", description: "The webhook-id: an event's (`evt_...`) or a ping's (`ping_...`)" },
		type: str,
		at: timestamp,
		ok: { type: "boolean" },
		status: { type: ["integer", "null"], description: "The HTTP status the endpoint answered; null when none came (timeout, refused address)" },
		latencyMs: int,
		error: { type: ["string", "null"] },
	}),
	WebhookAttemptPage: page("WebhookAttempt"),
	Mail: record({ id: str, to: str, template: { enum: [...MAIL_TEMPLATES] }, subject: str, text: str, html: str, createdAt: timestamp }),
	MailOutbox: record({ transport: { enum: ["outbox", "smtp"] }, total: { type: ["integer", "null"] }, rows: { type: "array", items: ref("Mail") } }),
	MailPreview: record({ name: { enum: [...MAIL_TEMPLATES] }, subject: str, text: str, html: str }),
	WebhookOrder: record(
		{
			id: str,
			customerId: str,
			items: { type: "array", items: ref("OrderItem") },
			totalCents: int,
			status: { type: "string", description: `One of ${ORDER_STATUSES.join(", ")} (and awaiting_payment with checkout)` },
			statusHistory: { type: "array", items: record({ status: str, at: timestamp }) },
			shippingAddress: { anyOf: [ref("ShippingAddress"), { type: "null" }] },
			paymentStatus: { type: "string", description: "Once payments records it" },
			fulfilment: { anyOf: [record({ carrier: str, trackingNumber: str, shippedAt: timestamp, deliveredAt: { type: ["string", "null"] } }), { type: "null" }] },
			createdAt: timestamp,
			updatedAt: timestamp,
		},
		["paymentStatus", "fulfilment", "shippingAddress"],
	),
};

const envelope = (type: string, data: JsonSchema): JsonSchema => ({
	type: "object",
	description:
		"Signed per Standard Webhooks: headers `webhook-id` (the event's id, stable across retries: drop duplicates by it), `webhook-timestamp` (seconds), `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>` under the endpoint's secret)",
	properties: { type: { const: type }, timestamp, data },
	required: ["type", "timestamp", "data"],
});

const orderData = record({ order: ref("WebhookOrder") });
const paymentData = record({ order: ref("WebhookOrder"), payment: record({ status: str, at: timestamp, amountCents: { type: ["integer", "null"] } }) });
const productData = record({ product: record({ productId: str, sku: str, name: str, stock: int, threshold: int }) });
const DATA: Record<(typeof WEBHOOK_EVENT_TYPES)[number], [JsonSchema, string]> = {
	"order.placed": [orderData, "An order was placed (confirmed, or awaiting payment at checkout)"],
	"order.paid": [paymentData, "An order's payment was captured"],
	"order.shipped": [orderData, "An order shipped; `fulfilment` carries the carrier and tracking number once recorded"],
	"order.delivered": [orderData, "An order was delivered"],
	"order.cancelled": [record({ order: ref("WebhookOrder"), reason: str }, ["reason"]), "An order was cancelled"],
	"order.refunded": [paymentData, "An order was refunded, in part or in full"],
	"product.stock_low": [productData, "A product fell to or below its threshold (once per crossing)"],
	"product.out_of_stock": [productData, "A product's stock reached zero (once per crossing)"],
	"payment.failed": [paymentData, "An order's payment failed"],
};

/** OpenAPI 3.1's `webhooks`: one POST per event type, as an endpoint receives it. */
export function webhooksSection(): Record<string, object> {
	return Object.fromEntries(
		WEBHOOK_EVENT_TYPES.map(type => {
			const [data, summary] = DATA[type];
			return [
				type,
				{
					post: {
						operationId: `webhook.${type}`,
						summary,
						requestBody: { required: true, content: { "application/json": { schema: envelope(type, data) } } },
						responses: { "200": { description: "Any 2xx: delivered. Anything else, a timeout or a redirect: retried with backoff, then dead-lettered" } },
					},
				},
			];
		}),
	);
}

const endpointExample = { url: "https://erp.example.com/hooks/shop", eventTypes: ["order.placed", "order.shipped"], description: "The ERP" };

export const NOTIFICATION_ANSWERS: Readonly<Record<string, Answer>> = {
	"notifications.listEndpoints": ok("A page of webhook endpoints", ref("WebhookEndpointPage")),
	"notifications.createEndpoint": created("The endpoint, and its signing secret (shown this once)", ref("WebhookEndpointWithSecret"), {
		errors: {
			409: "The shop has 50 endpoints, the most it may have (`WEBHOOK_LIMIT`): remove one first",
			422: "Invalid body; a URL that is not https (outside development), carries credentials or resolves to a loopback, private, link-local or metadata address (`WEBHOOK_URL_REFUSED`); a `secret` sent",
		},
		example: endpointExample,
	}),
	"notifications.getEndpoint": ok("The endpoint", ref("WebhookEndpoint")),
	"notifications.updateEndpoint": ok("The endpoint changed; enabling it clears its failure streak", ref("WebhookEndpoint"), {
		errors: { 422: "Invalid body, a refused URL (`WEBHOOK_URL_REFUSED`), or a `secret` sent" },
		example: { eventTypes: ["order.placed", "order.paid", "order.shipped"], enabled: true },
	}),
	"notifications.removeEndpoint": ok("The endpoint removed, with its attempt log", ref("WebhookEndpoint")),
	"notifications.rotateSecret": ok("The endpoint and its new secret (shown this once); the old one signs no more", ref("WebhookEndpointWithSecret")),
	"notifications.attempts": ok("A page of the endpoint's attempts, newest first (kept WEBHOOK_LOG_RETENTION_DAYS, at most WEBHOOK_LOG_MAX)", ref("WebhookAttemptPage")),
	"notifications.ping": ok("The attempt of a signed `ping` event sent now", ref("WebhookAttempt")),
	"notifications.redeliver": accepted(
		"The event is due again at the endpoint, from its first try, under the same webhook-id",
		record({
			eventId: { type: "string", examples: ["evt_3f9a1c0e7b2d"] },
			endpointId: { type: "string", examples: ["whK2jH6gF0dS4aZ8"] },
			state: { type: "string", examples: ["pending"] },
		}),
		{ errors: { 404: "No such endpoint, or no such event" }, example: { eventId: "evt_0123456789abcdef0123456789abcdef" } },
	),
	"notifications.mailOutbox": ok("The latest mail of the local outbox (no SMTP_URL), reset links masked", ref("MailOutbox")),
	"notifications.previewTemplate": ok("The template rendered with sample data", ref("MailPreview")),
	"notifications.requestPasswordReset": accepted(
		"Accepted, whether or not the email has an account: a link goes to the account's owner only",
		record({ message: { type: "string", examples: ["If an account has this email, a link to choose a new password is on its way."] } }),
		{ errors: { 429: "Over the reset requests of this email (5 an hour), whether or not it has an account, or the client's rate limit" }, example: { email: "ada@example.com" } },
	),
	"notifications.resetPassword": noContent("The new password is set; every earlier sign-in of the account ends", {
		errors: { 422: "Invalid body, or a token that is unknown, used or expired (`RESET_TOKEN_INVALID`)" },
		example: { token: "the-token-of-the-reset-link-0123456789abcdef", password: "a-brand-new-password" },
	}),
};
