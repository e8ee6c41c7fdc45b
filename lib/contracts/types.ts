import type { Context } from "moleculer";
import type { AuthUser, Role } from "./auth";
import type { CheckoutFields } from "./checkout";
import type { OrderStatus } from "./order-status";
import type { Fulfilment, OrderReturn, PaymentChange, PaymentStatus } from "./payments";
import type { ReservedLine } from "./reservations";

/** What the gateway (or a caller) puts in a call's meta. */
export interface Meta {
	user?: AuthUser | null;
	$statusCode?: number;
	$location?: string;
	$responseHeaders?: Record<string, string>;
	idempotencyKey?: string;
	/** The params a REST request took from its query string: only these convert (lib/infra/validation.ts). */
	$queryFields?: string[];
	/** An admin places this order for that customer (`X-On-Behalf-Of`). */
	onBehalfOf?: string;
	/** An admin dates this order when it was really placed (`X-Placed-At`, ISO-8601, not in the future). */
	placedAt?: string;
	/** A raw-body route's body, as it came (lib/contracts/routes.ts, `rawBody`). */
	rawBody?: string;
	/** Stripe's webhook signature (`Stripe-Signature`), as it came. */
	stripeSignature?: string;
	/** A guest cart's token (`X-Cart-Token`), as the gateway read it. */
	cartToken?: string;
}

export type Ctx<P = Record<string, unknown>> = Context<P, Meta>;

/** Settings that stay on their node: Moleculer publishes the others to the cluster. */
export interface SecureSettings {
	$secureSettings?: string[];
}

export { defineMiddleware, defineMixin, defineService, state, type Mixin, type ServiceBase } from "./schema";

export interface Customer {
	id: string;
	name: string;
	email: string;
	phone: string | null;
	role: Role;
	blocked: boolean;
	createdAt: string;
	updatedAt: string;
}

export interface Product {
	id: string;
	sku: string;
	name: string;
	description: string;
	category: string;
	priceCents: number;
	stock: number;
	lowStockThreshold: number;
	/** In the order they are shown. */
	images: ProductImage[];
	createdAt: string;
	updatedAt: string;
}

export interface ProductImage {
	/** https, or a path on this site. */
	url: string;
	alt: string;
}

export interface ShippingAddress {
	line1: string;
	city: string;
	postalCode: string;
	country: string;
}

export interface OrderLine extends ReservedLine {
	lineTotalCents: number;
	/** A checkout order's line: its tax, rounded on the line. */
	taxCents?: number;
}

/** An order as clients, and the services that follow orders, see it; a checkout order carries its money's breakdown and payment deadline too. */
export interface Order extends Partial<CheckoutFields> {
	id: string;
	customerId: string;
	items: OrderLine[];
	totalCents: number;
	status: OrderStatus;
	statusHistory: Array<{ status: OrderStatus; at: string }>;
	shippingAddress: ShippingAddress | null;
	/** `unpaid` on orders stored before payments existed. */
	paymentStatus: PaymentStatus;
	/** Captured minus refunded, as recorded on the order. */
	paidCents: number;
	paymentHistory: PaymentChange[];
	fulfilment: Fulfilment | null;
	returns: OrderReturn[];
	createdAt: string;
	updatedAt: string;
}

/** The order's fields for its life after placement: absent on orders stored before them (the public shape defaults them). */
export type AftercareField = "paymentStatus" | "paidCents" | "paymentHistory" | "fulfilment" | "returns";

/** A product at or below its threshold, as the dashboard lists it. */
export interface LowStockProduct {
	productId: string;
	sku: string;
	name: string;
	stock: number;
	threshold: number;
}

/** Why customers.canOrder refuses: each is the type of the error the caller throws. */
export const ORDER_REFUSAL = {
	customerNotFound: "CUSTOMER_NOT_FOUND",
	accountBlocked: "ACCOUNT_BLOCKED",
} as const;
export type OrderRefusal = (typeof ORDER_REFUSAL)[keyof typeof ORDER_REFUSAL];

/** customers.canOrder's answer. */
export type CanOrderAnswer = { allowed: true } | { allowed: false; reason: OrderRefusal };
