import { ORDER_STATUSES } from "../../lib/contracts/order-status";
import { BACKEND_SERVICES, HEALTH_NAMES } from "../../lib/contracts/services";
import type { JsonSchema } from "./json-schema";

/**
 * The examples of the OpenAPI description's answers: one written value per
 * schema of `components.schemas` (openapi-answers.ts), and the examples of
 * every other answer built from them by its schema, so that the docs page
 * shows what the shop really answers, never Swagger UI's `"string"` and `0`.
 * A schema with no example of its own and nothing to build one from fails
 * the gateway's start (tested), rather than documents a placeholder.
 */

const at = "2026-12-07T09:30:00.000Z";
const earlier = "2026-12-07T09:29:58.000Z";

const address = { line1: "12 St James's Square", city: "London", postalCode: "SW1Y 4JH", country: "GB" };

const customer = {
	id: "Yc2qB8wN5tR1mK7x",
	name: "Ada Lovelace",
	email: "ada@example.com",
	phone: "+44 20 7946 0018",
	role: "customer",
	blocked: false,
	createdAt: "2026-10-26T10:00:00.000Z",
	updatedAt: "2026-10-26T10:00:00.000Z",
};

const product = {
	id: "pT4vL9sQ2cX6nB1z",
	sku: "KT-KETTLE",
	name: "Gooseneck Kettle",
	description: "Temperature-controlled pour-over kettle, 1 l.",
	category: "kitchen",
	priceCents: 6900,
	stock: 11,
	lowStockThreshold: 3,
	images: [{ url: "https://images.example.com/kettle-front.jpg", alt: "The kettle from the front, matte black" }],
	createdAt: "2026-10-26T10:00:00.000Z",
	updatedAt: at,
};

const item = { productId: product.id, sku: product.sku, name: product.name, unitPriceCents: 6900, quantity: 2, lineTotalCents: 13_800 };

const order = {
	id: "oR8kD3mF6hJ2wQ5v",
	customerId: customer.id,
	items: [item],
	totalCents: 13_800,
	status: "confirmed",
	statusHistory: [
		{ status: "pending", at: earlier },
		{ status: "confirmed", at },
	],
	shippingAddress: address,
	paymentStatus: "paid",
	paidCents: 13_800,
	paymentHistory: [{ status: "paid", at, amountCents: 13_800 }],
	fulfilment: null,
	returns: [],
	createdAt: earlier,
	updatedAt: at,
};

const shipped = { carrier: "DHL", trackingNumber: "JD014600006251234567", shippedAt: at, deliveredAt: null };

const payment = {
	id: "pyN3bV7cX1zL5kQ9",
	orderId: order.id,
	provider: "manual",
	status: "paid",
	amountCents: 13_800,
	capturedCents: 13_800,
	refundedCents: 0,
	reference: "SHOP-OR8KD3MF",
	clientSecret: null,
	refunds: [],
	createdAt: earlier,
	updatedAt: at,
};

const cart = {
	id: "ctW4eR8tY2uI6oP0",
	lines: [{ productId: product.id, sku: product.sku, name: product.name, quantity: 2, unitPriceCents: 6900, lineTotalCents: 13_800, available: true }],
	itemsCents: 13_800,
	currency: "USD",
	updatedAt: at,
	expiresAt: "2026-12-10T09:30:00.000Z",
};

const endpoint = {
	id: "whK2jH6gF0dS4aZ8",
	url: "https://erp.example.com/hooks/shop",
	description: "The warehouse's order feed",
	eventTypes: ["order.paid", "order.shipped"],
	enabled: true,
	failureStreak: 2,
	disabledReason: null,
	createdAt: earlier,
	updatedAt: at,
};

const attempt = { id: "atM5nB9vC3xZ7lK1", endpointId: endpoint.id, eventId: "evt_3f9a1c0e7b2d", type: "order.paid", at, ok: true, status: 200, latencyMs: 84, error: null };

const mail = {
	id: "mlQ8wE2rT6yU0iO4",
	to: "ada@example.com",
	template: "order.shipped",
	subject: "Your order OR8KD3MF is on its way",
	text: "Hello Ada,\n\nyour order has shipped with DHL, tracking number JD014600006251234567.\n",
	html: "<p>Hello Ada,</p><p>your order has shipped with DHL, tracking number JD014600006251234567.</p>",
	createdAt: at,
};

const alert = {
	id: "aL5nW2xK8pV3cM9r",
	type: "stock_low",
	severity: "warning",
	message: "Gooseneck Kettle (KT-KETTLE) is low on stock: 3 left",
	data: { productId: product.id, sku: product.sku, name: product.name, stock: 3, threshold: 3 },
	acknowledged: false,
	createdAt: at,
};

const lowStock = { productId: product.id, sku: product.sku, name: product.name, stock: 3, threshold: 3 };

const ordersByStatus: Record<string, number> = Object.fromEntries(ORDER_STATUSES.map((s, i) => [s, s === "pending" ? 0 : 3 + i]));

const states = (state: string) => Object.fromEntries(BACKEND_SERVICES.map(s => [HEALTH_NAMES[s], state]));

const page = (row: unknown) => ({ rows: [row], total: 1, page: 1, pageSize: 20, totalPages: 1 });

/** By the name of a schema in `components.schemas`. */
export const SCHEMA_EXAMPLES: Readonly<Record<string, unknown>> = {
	Error: { name: "NotFoundError", message: "Product not found", code: 404, type: "NOT_FOUND", data: { id: "pT4vL9sQ2cX6nB1z" } },
	ValidationError: {
		name: "ValidationError",
		message: "Parameters validation error!",
		code: 422,
		type: "VALIDATION_ERROR",
		data: [{ field: "priceCents", type: "number", message: "The 'priceCents' field must be a number.", actual: "12" }],
	},
	Customer: customer,
	Session: {
		token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6IlljMnFCOHdONXRSMW1LN3giLCJyb2xlIjoiY3VzdG9tZXIifQ.Vq3h0mQ8c2Xw9ZbKfG7yT1rLpN4sD6eA5uJ0iO2kHnM",
		customer,
	},
	Product: product,
	Category: { name: "kitchen", productCount: 8 },
	OrderItem: item,
	ShippingAddress: address,
	Order: order,
	Alert: alert,
	LowStockProduct: lowStock,
	Dashboard: {
		totalOrders: Object.values(ordersByStatus).reduce((a, b) => a + b, 0),
		ordersByStatus,
		revenueCents: 289_700,
		averageOrderValueCents: 8535,
		topProducts: [{ productId: product.id, name: product.name, quantity: 9, revenueCents: 62_100 }],
		lowStockProducts: [lowStock],
		customers: 6,
		updatedAt: at,
	},
	SalesPeriod: { period: "2026-12-07", orders: 5, revenueCents: 31_400 },
	Health: { status: "ok", services: states("running"), dependencies: { transporter: "up", cache: "up" } },
	Cluster: {
		nodes: [
			{ id: "shop-cluster-api-1", hostname: "shop-host", local: true, available: true, offlineSince: null, cpu: 12, services: ["api"], uptimeSeconds: 3605 },
			{ id: "shop-cluster-products", hostname: "shop-host", local: false, available: false, offlineSince: "2026-10-26T11:02:00.000Z", cpu: null, services: ["products"], uptimeSeconds: null },
		],
		dependencies: { transporter: "up", cache: "up" },
		checkedAt: at,
	},
	CustomerPage: page(customer),
	ProductPage: page(product),
	OrderPage: page(order),
	AlertPage: page(alert),
	ProductImage: product.images[0],
	Fulfilment: shipped,
	OrderReturn: { id: "rtA1sD5fG9hJ3kL7", items: [{ productId: product.id, quantity: 1, restock: true }], refundCents: 6900, at },
	Payment: payment,
	WebhookAnswer: { received: true, payment },
	CheckoutOrder: {
		...order,
		status: "awaiting_payment",
		statusHistory: [
			{ status: "pending", at: earlier },
			{ status: "awaiting_payment", at },
		],
		paymentStatus: "unpaid",
		paidCents: 0,
		paymentHistory: [],
		totalCents: 14_299,
		currency: "USD",
		itemsCents: 13_800,
		shippingCents: 499,
		taxCents: 0,
		pricesIncludeTax: false,
		shippingMethod: "standard",
		paymentDeadline: "2026-12-07T09:45:00.000Z",
	},
	Cart: cart,
	GuestCart: { token: "Xq2vN8bT4kL0pR6sW1zY9mC3hF7jD5gA", cart },
	Quote: {
		currency: "USD",
		itemsCents: 13_800,
		shippingCents: 499,
		taxCents: 0,
		totalCents: 14_299,
		pricesIncludeTax: false,
		shippingMethod: "standard",
		lines: [{ productId: product.id, quantity: 2, unitPriceCents: 6900, lineTotalCents: 13_800, taxCents: 0 }],
	},
	WebhookEndpoint: endpoint,
	WebhookEndpointWithSecret: { endpoint, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" },
	WebhookEndpointPage: page(endpoint),
	WebhookAttempt: attempt,
	WebhookAttemptPage: page(attempt),
	Mail: mail,
	MailOutbox: { transport: "outbox", total: 1, rows: [mail] },
	MailPreview: { name: mail.template, subject: mail.subject, text: mail.text, html: mail.html },
	WebhookOrder: { ...order, fulfilment: shipped, status: "shipped" },
};

/** Each shared error status's example: what the gateway answers then. */
export const ERROR_EXAMPLES: Readonly<Record<number, { name: string; message: string; code: number; type: string; data?: unknown }>> = {
	400: { name: "MoleculerClientError", message: "Malformed JSON body", code: 400, type: "INVALID_JSON" },
	401: { name: "UnauthorizedError", message: "Sign in to do this", code: 401, type: "NO_TOKEN" },
	403: { name: "ForbiddenError", message: "Forbidden", code: 403, type: "FORBIDDEN" },
	404: SCHEMA_EXAMPLES.Error as { name: string; message: string; code: number; type: string },
	409: { name: "ConflictError", message: "SKU KT-KETTLE is already taken", code: 409, type: "SKU_TAKEN", data: { sku: "KT-KETTLE" } },
	413: { name: "MoleculerClientError", message: "Request body is larger than 100 kB", code: 413, type: "PAYLOAD_TOO_LARGE" },
	415: { name: "MoleculerClientError", message: "A request body must be JSON (Content-Type: application/json)", code: 415, type: "UNSUPPORTED_MEDIA_TYPE" },
	422: SCHEMA_EXAMPLES.ValidationError as { name: string; message: string; code: number; type: string },
	429: { name: "RateLimitedError", message: "Rate limit exceeded", code: 429, type: "RATE_LIMIT_EXCEEDED" },
	503: { name: "ServiceUnavailableError", message: "A part of the shop is unavailable right now; try again shortly", code: 503, type: "SERVICE_UNAVAILABLE" },
};

/** The answers of the actions' own errors, by the type their description names (openapi-answers.ts), as the actions throw them. */
const OWN_ERRORS: Readonly<Record<string, { name: string; message: string; data?: unknown }>> = {
	SKU_TAKEN: { name: "ConflictError", message: "SKU KT-KETTLE is already taken", data: { sku: "KT-KETTLE" } },
	EMAIL_TAKEN: { name: "ConflictError", message: "Email is already registered" },
	INSUFFICIENT_STOCK: { name: "InsufficientStockError", message: "Insufficient stock", data: { items: [{ productId: product.id, requested: 2, available: 1 }] } },
	INVALID_STATUS_TRANSITION: { name: "ConflictError", message: "An order cannot move from delivered to shipped", data: { from: "delivered", to: "shipped" } },
	ACCOUNT_BLOCKED: { name: "ForbiddenError", message: "This account is blocked" },
	WRONG_PASSWORD: { name: "ForbiddenError", message: "The current password is wrong" },
	INVALID_CREDENTIALS: { name: "UnauthorizedError", message: "Invalid email or password" },
	TOO_MANY_LOGIN_ATTEMPTS: { name: "TooManyLoginAttemptsError", message: "Too many sign-in attempts on this account; try again later" },
};

/** An action's own error: the one its description names (`SKU_TAKEN`), else the status's shared example. */
export function ownErrorExample(status: number, description: string): unknown {
	const type = /`([A-Z_]+)`/.exec(description)?.[1];
	const own = type === undefined ? undefined : OWN_ERRORS[type];
	return own ? { ...own, code: status, type } : ERROR_EXAMPLES[status];
}

/** Health while a service is down: GET /api/health's 503. */
export const DEGRADED_HEALTH_EXAMPLE = { status: "degraded", services: { ...states("running"), [HEALTH_NAMES.products]: "down" }, dependencies: { transporter: "up", cache: "up" } };

/** The example of a value of this schema: a named schema's own, or one built from its parts. */
export function exampleOf(schema: JsonSchema): unknown {
	if (typeof schema.$ref === "string") {
		const name = schema.$ref.split("/").pop()!;
		if (!(name in SCHEMA_EXAMPLES)) throw new Error(`No example for the schema '${name}' (services/api/openapi-examples.ts)`);
		return SCHEMA_EXAMPLES[name];
	}
	if ("const" in schema) return schema.const;
	if (Array.isArray(schema.examples)) return (schema.examples as unknown[])[0];
	if (Array.isArray(schema.allOf)) return Object.assign({}, ...(schema.allOf as JsonSchema[]).map(exampleOf));
	if (Array.isArray(schema.anyOf)) return exampleOf((schema.anyOf as JsonSchema[])[0]);
	if (schema.type === "array" && schema.items) return [exampleOf(schema.items as JsonSchema)];
	if (schema.properties) return Object.fromEntries(Object.entries(schema.properties as Record<string, JsonSchema>).map(([k, v]) => [k, exampleOf(v)]));
	throw new Error(`No example for the schema ${JSON.stringify(schema)}: name it in components.schemas and give it one (services/api/openapi-examples.ts)`);
}
