import { ORDER_STATUSES } from "../../lib/contracts/order-status";
import { ID } from "../../lib/contracts/params";
import { toJsonSchema, type JsonSchema } from "./json-schema";
import { NOTIFICATION_ANSWERS, NOTIFICATION_SCHEMAS } from "./openapi-notifications";

/**
 * What the OpenAPI description says of each action's answer: its status,
 * its body, the errors of its own beyond the ones every route shares, and
 * an example body that its validation accepts. The requests are described
 * from the actions' `params`; answers have no such schema in code, so they
 * are kept here, next to one another, and the tests hold the real answers
 * against them.
 */

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const str: JsonSchema = { type: "string" };
const int: JsonSchema = { type: "integer" };
const cents: JsonSchema = { type: "integer", minimum: 0, description: "An amount in cents" };
const timestamp: JsonSchema = { type: "string", format: "date-time" };

/** An object whose listed properties are all present. */
function record(properties: Record<string, JsonSchema>): JsonSchema {
	return { type: "object", properties, required: Object.keys(properties) };
}

const page = (item: string): JsonSchema =>
	record({ rows: { type: "array", items: ref(item) }, total: int, page: { type: "integer", minimum: 1 }, pageSize: { type: "integer", minimum: 1, maximum: 100 }, totalPages: int });

const upDown = (...states: string[]): JsonSchema => ({ enum: states });

/** The schemas the answers name, as `components.schemas`. */
export const ANSWER_SCHEMAS: Record<string, JsonSchema> = {
	Error: {
		type: "object",
		description: "Every error: moleculer-web's shape, never a stack trace",
		properties: { name: str, message: str, code: { type: "integer", description: "The HTTP status" }, type: str, data: {} },
		required: ["name", "message", "code"],
	},
	ValidationError: {
		type: "object",
		description: "A request that breaks an action's rules: every offending field named",
		properties: {
			name: { const: "ValidationError" },
			message: str,
			code: { const: 422 },
			type: { const: "VALIDATION_ERROR" },
			data: {
				type: "array",
				items: {
					type: "object",
					properties: { field: str, type: { type: "string", description: "The rule broken" }, message: str, expected: {}, actual: {} },
					required: ["field", "type", "message"],
				},
			},
		},
		required: ["name", "message", "code", "type", "data"],
	},
	Customer: record({
		id: str,
		name: str,
		email: { type: "string", format: "email" },
		phone: { type: ["string", "null"] },
		role: { enum: ["customer", "admin"] },
		blocked: { type: "boolean" },
		createdAt: timestamp,
		updatedAt: timestamp,
	}),
	Session: record({ token: { type: "string", description: "A JWT: send it as `Authorization: Bearer <token>`" }, customer: ref("Customer") }),
	Product: record({
		id: str,
		sku: str,
		name: str,
		description: { type: ["string", "null"] },
		category: str,
		priceCents: cents,
		stock: { type: "integer", minimum: 0 },
		lowStockThreshold: { type: "integer", minimum: 0 },
		createdAt: timestamp,
		updatedAt: timestamp,
	}),
	Category: record({ name: str, productCount: int }),
	OrderItem: record({ productId: str, sku: str, name: str, unitPriceCents: cents, quantity: { type: "integer", minimum: 1 }, lineTotalCents: cents }),
	ShippingAddress: record({ line1: str, city: str, postalCode: str, country: str }),
	Order: record({
		id: str,
		customerId: str,
		items: { type: "array", items: ref("OrderItem") },
		totalCents: cents,
		status: { enum: [...ORDER_STATUSES] },
		statusHistory: { type: "array", items: record({ status: { enum: [...ORDER_STATUSES] }, at: timestamp }) },
		shippingAddress: { anyOf: [ref("ShippingAddress"), { type: "null" }] },
		createdAt: timestamp,
		updatedAt: timestamp,
	}),
	Alert: record({
		id: str,
		type: { type: "string", description: "stock_low, out_of_stock, order_cancelled" },
		severity: { enum: ["info", "warning", "critical"] },
		message: str,
		data: { type: "object", description: "A product's alert: productId, sku, name, stock, threshold; an order's: orderId, customerId, reason" },
		acknowledged: { type: "boolean" },
		createdAt: timestamp,
	}),
	LowStockProduct: record({ productId: str, sku: str, name: str, stock: int, threshold: int }),
	Dashboard: record({
		totalOrders: int,
		ordersByStatus: { type: "object", additionalProperties: int },
		revenueCents: cents,
		averageOrderValueCents: cents,
		topProducts: { type: "array", items: record({ productId: str, name: str, quantity: int, revenueCents: cents }) },
		lowStockProducts: { type: ["array", "null"], items: ref("LowStockProduct"), description: "null while products cannot be asked" },
		customers: { type: ["integer", "null"], description: "null while customers cannot be asked" },
		updatedAt: timestamp,
	}),
	SalesPeriod: record({ period: { type: "string", description: "YYYY-MM-DD or YYYY-MM" }, orders: int, revenueCents: cents }),
	Health: record({
		status: { enum: ["ok", "degraded"] },
		services: { type: "object", additionalProperties: upDown("running", "down") },
		dependencies: record({ transporter: upDown("up", "down", "none"), cache: upDown("up", "down", "none") }),
	}),
	Cluster: record({
		nodes: {
			type: "array",
			items: record({
				id: str,
				hostname: { type: ["string", "null"] },
				local: { type: "boolean" },
				cpu: { type: ["number", "null"] },
				services: { type: "array", items: str },
				uptimeSeconds: { type: ["integer", "null"] },
			}),
		},
		dependencies: record({ transporter: upDown("up", "down", "none"), cache: upDown("up", "down", "none") }),
		checkedAt: timestamp,
	}),
	CustomerPage: page("Customer"),
	ProductPage: page("Product"),
	OrderPage: page("Order"),
	AlertPage: page("Alert"),
	...NOTIFICATION_SCHEMAS,
};

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 503;

/** An error answer: its description, and a body other than the error shape when it has one. */
export type ErrorAnswer = string | { description: string; schema: JsonSchema };

/** A request header the action reads (through the gateway's meta, not its params). */
export interface HeaderParameter {
	name: string;
	description: string;
	schema: JsonSchema;
}

export interface Answer {
	status: 200 | 201 | 202 | 204;
	description: string;
	/** The body's; none for a 204. */
	schema?: JsonSchema;
	headers?: HeaderParameter[];
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

/** By action name: every action in the route table has one. */
export const ANSWERS: Readonly<Record<string, Answer>> = {
	"products.get": { status: 200, description: "The product", schema: product },
	"products.list": { status: 200, description: "A page of products", schema: ref("ProductPage") },
	"products.categories": { status: 200, description: "Every category with its number of products", schema: { type: "array", items: ref("Category") } },
	"products.create": {
		status: 201,
		description: "The product created",
		schema: product,
		errors: { 409: "The SKU is taken (`SKU_TAKEN`)" },
		example: { sku: "LAMP-001", name: "Desk lamp", description: "An adjustable LED desk lamp", category: "lighting", priceCents: 3999, stock: 25, lowStockThreshold: 5 },
	},
	"products.update": { status: 200, description: "The product changed", schema: product, example: { priceCents: 3499, lowStockThreshold: 3 } },
	"products.restock": { status: 200, description: "The product with its new stock", schema: product, example: { quantity: 10 } },
	"products.remove": {
		status: 200,
		description: "The product removed from the catalog; past orders keep their snapshot",
		schema: { allOf: [product, { type: "object", properties: { deleted: { const: true } }, required: ["deleted"] }] },
	},

	"orders.create": {
		status: 201,
		description: "The order, `confirmed`: every item's stock reserved at the product service's prices",
		schema: order,
		headers: [
			{
				name: "Idempotency-Key",
				description: "The same key from the same customer with the same body returns the first order and reserves nothing again; with another body it is `422` (`IDEMPOTENCY_KEY_REUSED`)",
				schema: { type: "string", minLength: 1, maxLength: 100 },
			},
			{ name: "X-On-Behalf-Of", description: "Admins only: the id of the customer the order is placed for (a phone order, an import)", schema: toJsonSchema(ID) },
			{ name: "X-Placed-At", description: "Admins only: when the order was really placed (ISO-8601, 2000-01-01 to now)", schema: { type: "string", format: "date-time" } },
		],
		replayed: "The first order, when the same Idempotency-Key and body were sent before: nothing is reserved again",
		errors: {
			403: "X-On-Behalf-Of or X-Placed-At sent by a customer",
			409: "Not enough stock (`INSUFFICIENT_STOCK`, `data` naming each short product): nothing is reserved",
			422: "Invalid body or headers, an unknown product, or an Idempotency-Key sent before with another body (`IDEMPOTENCY_KEY_REUSED`)",
		},
		example: { items: [{ productId: "a-product-id", quantity: 2 }], shippingAddress: { line1: "1 Main Street", city: "Springfield", postalCode: "12345", country: "US" } },
	},
	"orders.get": { status: 200, description: "The order", schema: order },
	"orders.list": { status: 200, description: "A page of orders, newest first", schema: ref("OrderPage") },
	"orders.cancel": { status: 200, description: "The order, `cancelled`", schema: order, errors: { 409: "The order is shipped, delivered or cancelled (`INVALID_STATUS_TRANSITION`)" } },
	"orders.setStatus": {
		status: 200,
		description: "The order in its new status",
		schema: order,
		errors: { 409: "A move the state machine forbids (`INVALID_STATUS_TRANSITION`): pending → confirmed | cancelled, confirmed → shipped | cancelled, shipped → delivered" },
		example: { status: "shipped" },
	},

	"customers.register": {
		status: 201,
		description: "The new customer and a token",
		schema: ref("Session"),
		errors: { 409: "The email is taken, in any case (`EMAIL_TAKEN`)" },
		example: { name: "Ada Lovelace", email: "ada@example.com", password: "correct-horse-battery", phone: "+44 20 7946 0000" },
	},
	"customers.login": {
		status: 200,
		description: "The customer and a token",
		schema: ref("Session"),
		errors: {
			401: "Wrong email or password (one message for both)",
			403: "The account is blocked (`ACCOUNT_BLOCKED`)",
			429: "Over the account's sign-in attempts (`TOO_MANY_LOGIN_ATTEMPTS`), whatever the addresses, or the client's rate limit",
		},
		example: { email: "ada@example.com", password: "correct-horse-battery" },
	},
	"customers.me": { status: 200, description: "The signed-in customer", schema: customer },
	"customers.updateMe": {
		status: 200,
		description: "The customer changed; after a password change, the customer and a fresh token (every earlier token of the account ends)",
		schema: { anyOf: [customer, ref("Session")] },
		errors: { 403: "The current password is wrong (`WRONG_PASSWORD`)", 429: "Over the account's sign-in attempts (`TOO_MANY_LOGIN_ATTEMPTS`), or the client's rate limit" },
		example: { name: "Ada King", password: "a-new-long-password", currentPassword: "correct-horse-battery" },
	},
	"customers.logoutAll": { status: 204, description: "Signed out everywhere: every earlier token of the account ends, on every route and socket" },
	"customers.list": { status: 200, description: "A page of customers", schema: ref("CustomerPage") },
	"customers.get": { status: 200, description: "The customer", schema: customer },
	"customers.setAccess": {
		status: 200,
		description: "The customer; a block or a new role ends its earlier tokens (its open sockets close)",
		schema: customer,
		example: { blocked: false, role: "admin" },
	},

	"alerts.list": { status: 200, description: "A page of alerts, newest first", schema: ref("AlertPage") },
	"alerts.ack": { status: 200, description: "The alert, acknowledged", schema: ref("Alert") },

	"analytics.dashboard": { status: 200, description: "The dashboard; revenue counts confirmed, shipped and delivered orders", schema: ref("Dashboard") },
	"analytics.sales": { status: 200, description: "Orders and revenue per period, oldest first", schema: { type: "array", items: ref("SalesPeriod") } },

	"api.health": {
		status: 200,
		description: "Every service running and every dependency up",
		schema: ref("Health"),
		errors: { 503: { description: "A service or dependency is down: `status: degraded`, naming it", schema: ref("Health") } },
	},
	"api.cluster": { status: 200, description: "Every node, its services and uptime, as this gateway sees them", schema: ref("Cluster") },
	...NOTIFICATION_ANSWERS,
};
