import { ORDER_STATUSES } from "../../lib/contracts/order-status";
import { TWO_DECIMAL_CURRENCIES } from "../../lib/contracts/checkout";
import { PAYMENT_PROVIDERS, PAYMENT_STATUSES } from "../../lib/contracts/payments";
import type { JsonSchema } from "./json-schema";
import { NOTIFICATION_SCHEMAS } from "./openapi-notifications";
import { int, page, record, ref, str, timestamp } from "./openapi-pieces";

/** The answers' schemas (./openapi-answers.ts), as `components.schemas`, and the pieces they are written with. */
export const cents: JsonSchema = { type: "integer", minimum: 0, description: "An amount in cents" };
export const currency: JsonSchema = { enum: [...TWO_DECIMAL_CURRENCIES], description: "The shop's one currency (ISO 4217, two decimals): the CURRENCY setting" };

export const upDown = (...states: string[]): JsonSchema => ({ enum: states });

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
		images: { type: "array", items: ref("ProductImage"), description: "In the order they are shown" },
		createdAt: timestamp,
		updatedAt: timestamp,
	}),
	ProductImage: record({ url: { type: "string", description: "https, or a path on this site" }, alt: str }),
	Category: record({ name: str, productCount: int }),
	OrderItem: {
		...record({ productId: str, sku: str, name: str, unitPriceCents: cents, quantity: { type: "integer", minimum: 1 }, lineTotalCents: cents }),
		properties: {
			productId: str,
			sku: str,
			name: str,
			unitPriceCents: cents,
			quantity: { type: "integer", minimum: 1 },
			lineTotalCents: cents,
			taxCents: { ...cents, description: "Checkout orders: the line's tax, rounded on the line" },
		},
	},
	ShippingAddress: record({ line1: str, city: str, postalCode: str, country: str }),
	Order: record({
		id: str,
		customerId: str,
		items: { type: "array", items: ref("OrderItem") },
		totalCents: cents,
		status: { enum: [...ORDER_STATUSES] },
		statusHistory: { type: "array", items: record({ status: { enum: [...ORDER_STATUSES] }, at: timestamp }) },
		shippingAddress: { anyOf: [ref("ShippingAddress"), { type: "null" }] },
		paymentStatus: { enum: [...PAYMENT_STATUSES] },
		paidCents: { ...cents, description: "Captured minus refunded, as recorded on the order" },
		paymentHistory: {
			type: "array",
			description: "Every change of the payment, oldest first; (order id, index) identifies one",
			items: record({ status: { enum: [...PAYMENT_STATUSES] }, at: timestamp, amountCents: cents }),
		},
		fulfilment: { anyOf: [ref("Fulfilment"), { type: "null" }] },
		returns: { type: "array", items: ref("OrderReturn") },
		createdAt: timestamp,
		updatedAt: timestamp,
	}),
	Fulfilment: record({ carrier: str, trackingNumber: str, shippedAt: timestamp, deliveredAt: { anyOf: [timestamp, { type: "null" }] } }),
	OrderReturn: record({
		id: str,
		items: { type: "array", items: record({ productId: str, quantity: { type: "integer", minimum: 1 }, restock: { type: "boolean" } }) },
		refundCents: cents,
		at: timestamp,
	}),
	Payment: record({
		id: str,
		orderId: str,
		provider: { enum: [...PAYMENT_PROVIDERS] },
		status: { enum: [...PAYMENT_STATUSES] },
		amountCents: cents,
		capturedCents: cents,
		refundedCents: cents,
		reference: { type: "string", description: "The bank-transfer reference the customer writes on the transfer" },
		clientSecret: { anyOf: [str, { type: "null" }], description: "Stripe: the PaymentIntent's client secret for the customer's browser" },
		refunds: { type: "array", items: record({ id: str, amountCents: cents, state: { enum: ["issuing", "issued"] }, at: timestamp }) },
		createdAt: timestamp,
		updatedAt: timestamp,
	}),
	WebhookAnswer: record({ received: { const: true }, payment: { anyOf: [ref("Payment"), { const: "ignored" }] } }),
	CheckoutOrder: {
		allOf: [
			ref("Order"),
			{
				...record({
					currency: currency,
					itemsCents: { ...cents, description: "The lines' total, as the catalog prices them (tax-inclusive or not: pricesIncludeTax)" },
					shippingCents: cents,
					taxCents: { ...cents, description: "The tax: added to the total, or contained in it when pricesIncludeTax" },
					pricesIncludeTax: { type: "boolean" },
					shippingMethod: str,
					paymentDeadline: { ...timestamp, description: "Unpaid by then, the order is cancelled (PAYMENT_EXPIRED) and its stock given back" },
				}),
				description: "A checkout order (POST /api/checkout) carries these too; totalCents includes shipping and tax",
			},
		],
	},
	Cart: record({
		id: { type: ["string", "null"], description: "null until the cart's first line" },
		lines: {
			type: "array",
			items: record({
				productId: str,
				sku: { type: ["string", "null"] },
				name: { type: ["string", "null"] },
				quantity: { type: "integer", minimum: 1, maximum: 1000 },
				unitPriceCents: cents,
				lineTotalCents: cents,
				available: { type: "boolean", description: "false when the product left the catalog or has fewer units than the line" },
			}),
		},
		itemsCents: cents,
		currency: currency,
		updatedAt: timestamp,
		expiresAt: { ...timestamp, description: "The cart is gone after this unless it changes (CART_TTL_HOURS)" },
	}),
	GuestCart: record({ token: { type: "string", description: "Send it as X-Cart-Token; shown once" }, cart: ref("Cart") }),
	Quote: record({
		currency: currency,
		itemsCents: cents,
		shippingCents: cents,
		taxCents: cents,
		totalCents: cents,
		pricesIncludeTax: { type: "boolean" },
		shippingMethod: str,
		lines: { type: "array", items: record({ productId: str, quantity: int, unitPriceCents: cents, lineTotalCents: cents, taxCents: cents }) },
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
				available: { type: "boolean", description: "false once the node left or stopped answering: it stays listed, offline, for 10 minutes" },
				offlineSince: { type: ["string", "null"], format: "date-time" },
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
