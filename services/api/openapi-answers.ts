import { ID } from "../../lib/contracts/params";
import type { RouteHeader } from "../../lib/contracts/routes";
import { toJsonSchema, type JsonSchema } from "./json-schema";
import { NOTIFICATION_ANSWERS } from "./openapi-notifications";
import { created, noContent, ok, ref } from "./openapi-pieces";

/**
 * What the OpenAPI description says of each action's answer: its status,
 * its body, the errors of its own beyond the ones every route shares, and
 * an example body that its validation accepts. The requests are described
 * from the actions' `params`; answers have no such schema in code, so they
 * are kept here, next to one another, and the tests hold the real answers
 * against them.
 */

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 503;

/** An error answer: its description, and a body other than the error shape when it has one. */
export type ErrorAnswer = string | { description: string; schema: JsonSchema; degradedHealth?: true };

/** Each request header a route may read (through the gateway's meta, not its params): every route that lists it shows this. */
export const HEADER_DOCS: Readonly<Record<RouteHeader, { description: string; schema: JsonSchema }>> = {
	"Idempotency-Key": {
		description:
			"One key space per customer, shared by POST /api/orders and POST /api/checkout: the same key with the same body returns the first order and reserves nothing again; with another body it is `422` (`IDEMPOTENCY_KEY_REUSED`)",
		schema: { type: "string", minLength: 1, maxLength: 100 },
	},
	"X-On-Behalf-Of": { description: "Admins only: the id of the customer the order is placed for (a phone order, an import)", schema: toJsonSchema(ID) },
	"X-Placed-At": { description: "Admins only: when the order was really placed (ISO-8601, 2000-01-01 to now)", schema: { type: "string", format: "date-time" } },
	"X-Cart-Token": {
		description: "A guest's cart token (from POST /api/cart); a signed-in customer's requests reach their own cart, and POST /api/cart/merge merges the guest cart it names into it",
		schema: { type: "string", pattern: "^[A-Za-z0-9_-]{1,100}$" },
	},
	"Stripe-Signature": {
		description: "Stripe's signature over the raw body (`t=…,v1=…`), checked with the webhook secret: a missing or wrong one is `400`",
		schema: { type: "string", maxLength: 4096 },
	},
};

export interface Answer {
	status: 200 | 201 | 202 | 204;
	description: string;
	/** The body's; none for a 204. */
	schema?: JsonSchema;
	/** A second success: the first answer given again (an idempotent replay). */
	replayed?: string;
	/** Errors of this action beyond those every route of its kind has, or said more precisely, by status. */
	errors?: Partial<Record<ErrorStatus, ErrorAnswer>>;
	/** A request body its validation accepts (ids are placeholders). */
	example?: Record<string, unknown>;
}

const customer = ref("Customer");
const product = ref("Product");
const order = ref("Order");
const payment = ref("Payment");
const cart = ref("Cart");

/** By action name: every action in the route table has one. */
export const ANSWERS: Readonly<Record<string, Answer>> = {
	"products.get": ok("The product", product),
	"products.list": ok("A page of products", ref("ProductPage")),
	"products.categories": ok("Every category with its number of products", { type: "array", items: ref("Category") }),
	"products.create": created("The product created", product, {
		errors: { 409: "The SKU is taken (`SKU_TAKEN`)" },
		example: {
			sku: "LAMP-001",
			name: "Desk lamp",
			description: "An adjustable LED desk lamp",
			category: "lighting",
			priceCents: 3999,
			stock: 25,
			lowStockThreshold: 5,
			images: [{ url: "/images/desk-lamp.jpg", alt: "The desk lamp, lit, on an oak desk" }],
		},
	}),
	"products.update": ok("The product changed", product, { example: { priceCents: 3499, lowStockThreshold: 3 } }),
	"products.restock": ok("The product with its new stock", product, { example: { quantity: 10 } }),
	"products.remove": ok("The product removed from the catalog; past orders keep their snapshot", {
		allOf: [product, { type: "object", properties: { deleted: { const: true } }, required: ["deleted"] }],
	}),

	"orders.create": created("The order, `confirmed`: every item's stock reserved at the product service's prices", order, {
		replayed: "The first order, when the same Idempotency-Key and body were sent before: nothing is reserved again",
		errors: {
			403: "X-On-Behalf-Of or X-Placed-At sent by a customer",
			409: "Not enough stock (`INSUFFICIENT_STOCK`, `data` naming each short product): nothing is reserved",
			422: "Invalid body or headers, an unknown product, or an Idempotency-Key sent before with another body (`IDEMPOTENCY_KEY_REUSED`)",
		},
		example: { items: [{ productId: "a-product-id", quantity: 2 }], shippingAddress: { line1: "1 Main Street", city: "Springfield", postalCode: "12345", country: "US" } },
	}),
	"orders.quote": ok("The cart priced for this address and method: items, shipping (flat rate, free over the method's threshold), tax (per line, the destination's rate), total", ref("Quote"), {
		errors: {
			409: "The cart is empty (`CART_EMPTY`), or a product left the catalog or lacks stock (`CART_CHANGED`, `data.changes`)",
			422: "Invalid address, a country the shop does not ship to (`UNKNOWN_COUNTRY`), an unknown shipping method (`UNKNOWN_SHIPPING_METHOD`)",
		},
		example: { shippingAddress: { line1: "1 Main Street", city: "Springfield", postalCode: "12345", country: "US" }, shippingMethod: "standard" },
	}),
	"orders.checkout": created(
		"The order, `awaiting_payment`: the cart's stock reserved and held until `paymentDeadline`; paid, it is confirmed; unpaid by then, cancelled and its stock given back",
		ref("CheckoutOrder"),
		{
			replayed: "The first order, when the same Idempotency-Key and body were sent before: nothing is reserved again",
			errors: {
				401: "A guest: sign in or register, then merge the guest cart (POST /api/cart/merge) and check out",
				409: "The cart is empty (`CART_EMPTY`); a price or availability changed since the cart was read (`CART_CHANGED`, `data.changes` says what; the cart now shows the new prices); the total is not `expectedTotalCents` (`TOTAL_MISMATCH`, `data` with the breakdown); not enough stock (`INSUFFICIENT_STOCK`)",
				422: "Invalid address, a country the shop does not ship to (`UNKNOWN_COUNTRY`), an unknown shipping method, a currency that is not the shop's (`CURRENCY_NOT_ACCEPTED`), an Idempotency-Key sent before with another body",
			},
			example: { shippingAddress: { line1: "1 Main Street", city: "Springfield", postalCode: "12345", country: "US" }, shippingMethod: "standard", expectedTotalCents: 2497, currency: "USD" },
		},
	),
	"orders.get": ok("The order", order),
	"orders.list": ok("A page of orders, newest first", ref("OrderPage")),
	"orders.cancel": ok("The order, `cancelled`", order, { errors: { 409: "The order is shipped, delivered or cancelled (`INVALID_STATUS_TRANSITION`)" } }),
	"orders.setStatus": ok("The order in its new status", order, {
		errors: {
			409: "A move the state machine forbids (`INVALID_STATUS_TRANSITION`): pending → confirmed | cancelled, awaiting_payment → cancelled (payment confirms it: `PAYMENT_REQUIRED` otherwise), confirmed → shipped | cancelled, shipped → delivered",
		},
		example: { status: "shipped" },
	}),
	"orders.ship": ok("The order, `shipped`, with its fulfilment record", order, {
		errors: { 409: "The order is not confirmed (`INVALID_STATUS_TRANSITION`)" },
		example: { carrier: "DHL", trackingNumber: "JD014600003301234567" },
	}),
	"orders.deliver": ok("The order, `delivered`; its fulfilment record gets `deliveredAt`", order, { errors: { 409: "The order is not shipped (`INVALID_STATUS_TRANSITION`)" } }),
	"orders.recordReturn": created(
		"The order with the return recorded; refunded (the lines' worth by default, at most what is left paid) and restocked where asked, now or, when payments or products cannot be reached in time, by the settler",
		order,
		{
			replayed: "The order as it is, when the same Idempotency-Key and body were sent before: nothing is recorded again",
			errors: {
				409: "The order is not delivered (`INVALID_STATUS_TRANSITION`), or already has 20 returns (`TOO_MANY_RETURNS`)",
				422: "A product not in the order, more than was delivered and not yet returned, or an Idempotency-Key sent before with another body (`IDEMPOTENCY_KEY_REUSED`)",
			},
			example: { items: [{ productId: "a-product-id", quantity: 1, restock: true }], refundCents: 1999 },
		},
	),
	"payments.get": ok("The order's payment (manual until the customer chooses stripe), with its bank-transfer reference", payment),
	"payments.start": ok("The payment with the provider chosen; stripe answers the PaymentIntent's client secret", payment, {
		errors: {
			409: "The payment is no longer open (`PAYMENT_NOT_OPEN`), the order is not placed yet (`ORDER_PENDING`) or cancelled (`ORDER_CANCELLED`), or the provider is not configured (`PROVIDER_NOT_CONFIGURED`)",
		},
		example: { provider: "stripe" },
	}),
	"payments.markPaid": ok("The payment, `paid`; the order's paymentStatus follows", payment, {
		errors: {
			409: "Already paid (`ALREADY_PAID`), a reference that is not the payment's (`REFERENCE_MISMATCH`), a stripe payment (`NOT_MANUAL`), an order not placed yet (`ORDER_PENDING`) or cancelled (`ORDER_CANCELLED`)",
		},
		example: { reference: "RFK7P2M9QX" },
	}),
	"payments.refund": created("The payment with the refund issued", payment, {
		errors: {
			404: "The order has no captured payment",
			409: "More than captured minus refunded (`REFUND_EXCEEDS_CAPTURED`), or the payment already has 20 refunds by admins (`TOO_MANY_REFUNDS`)",
		},
		example: { amountCents: 500 },
	}),
	"payments.stripeWebhook": ok("The event applied, or `ignored` (not of concern, sent twice, or late)", ref("WebhookAnswer"), {
		errors: {
			400: "The Stripe-Signature does not verify over the raw body (`INVALID_SIGNATURE`)",
			404: "This shop has no stripe keys (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET)",
			422: "An amount or currency that is not the payment's (`PAYMENT_AMOUNT_MISMATCH`); an alert is raised",
		},
	}),

	"carts.get": ok("The cart priced now (the prices shown become the ones checkout compares with): the signed-in customer's, or the guest's whose token is in X-Cart-Token", cart, {
		errors: { 404: "A guest without a token, or with a token that reaches no cart (expired, merged, or not a cart's)" },
	}),
	"carts.create": created("A guest's new cart and its token (also in the X-Cart-Token answer header); a signed-in customer gets their own cart (200)", { anyOf: [ref("GuestCart"), cart] }),
	"carts.clear": ok("The cart, emptied", cart, { errors: { 404: "No cart for this guest token" } }),
	"carts.addItem": ok("The cart with the units added (summed with a line of the same product)", cart, {
		errors: {
			404: "No cart for this guest token",
			409: "The cart changed meanwhile (`CART_CONFLICT`): read it and send again",
			422: "An unknown product, or past 1000 units in a line or 50 lines (`CART_LIMIT`)",
		},
		example: { productId: "a-product-id", quantity: 2 },
	}),
	"carts.setItem": ok("The cart with the line's new quantity", cart, {
		errors: { 404: "No cart for this guest token, or no such line", 409: "The cart changed meanwhile (`CART_CONFLICT`)" },
		example: { quantity: 3 },
	}),
	"carts.removeItem": ok("The cart without the line", cart, { errors: { 404: "No cart for this guest token, or no such line" } }),
	"carts.merge": ok("The customer's cart with the guest cart's lines added (quantities summed, capped at 1000; lines past 50 left out); the guest cart and its token end", cart, {
		errors: { 404: "The token reaches no guest cart" },
	}),

	"customers.register": created("The new customer and a token", ref("Session"), {
		errors: { 409: "The email is taken, in any case (`EMAIL_TAKEN`)" },
		// Not one of the seed's customers (bin/lib/seed-data.ts): on a seeded shop, registering it works.
		example: { name: "Barbara Liskov", email: "barbara@example.com", password: "correct-horse-battery", phone: "+1 617 555 0199" },
	}),
	"customers.login": ok("The customer and a token", ref("Session"), {
		errors: {
			401: "Wrong email or password, one message for both (`INVALID_CREDENTIALS`)",
			403: "The account is blocked (`ACCOUNT_BLOCKED`)",
			429: "Over the account's sign-in attempts (`TOO_MANY_LOGIN_ATTEMPTS`), whatever the addresses, or the client's rate limit",
		},
		// One of the seed's customers with the seed's password (bin/lib/seed-data.ts): it signs in on a seeded shop.
		example: { email: "ada@example.com", password: "demo-password" },
	}),
	"customers.me": ok("The signed-in customer", customer),
	"customers.updateMe": ok(
		"The customer changed; after a password change, the customer and a fresh token (every earlier token of the account ends)",
		{ anyOf: [customer, ref("Session")] },
		{
			errors: { 403: "The current password is wrong (`WRONG_PASSWORD`)", 429: "Over the account's sign-in attempts (`TOO_MANY_LOGIN_ATTEMPTS`), or the client's rate limit" },
			example: { name: "Barbara H. Liskov", password: "a-new-long-password", currentPassword: "correct-horse-battery" },
		},
	),
	"customers.logoutAll": noContent("Signed out everywhere: every earlier token of the account ends, on every route and socket"),
	"customers.list": ok("A page of customers", ref("CustomerPage")),
	"customers.createAdmin": created("The new admin, who signs in with this email and password", customer, {
		errors: { 409: "The email is taken, in any case (`EMAIL_TAKEN`)" },
		example: { name: "Grace Hopper", email: "grace@shop.example", password: "a-long-admin-password" },
	}),
	"customers.get": ok("The customer", customer),
	"customers.setAccess": ok("The customer; a block or a new role ends its earlier tokens (its open sockets close)", customer, { example: { blocked: false, role: "admin" } }),

	"alerts.list": ok("A page of alerts, newest first", ref("AlertPage")),
	"alerts.ack": ok("The alert, acknowledged", ref("Alert")),

	"analytics.dashboard": ok("The dashboard; revenue counts confirmed, shipped and delivered orders", ref("Dashboard")),
	"analytics.sales": ok("Orders and revenue per period, oldest first", { type: "array", items: ref("SalesPeriod") }),

	"api.health": ok("Every service running and every dependency up", ref("Health"), {
		errors: { 503: { description: "A service or dependency is down: `status: degraded`, naming it", schema: ref("Health"), degradedHealth: true } },
	}),
	"api.cluster": ok("Every node, its services and uptime, as this gateway sees them", ref("Cluster")),
	...NOTIFICATION_ANSWERS,
};
