import type { Context, LoggerInstance, ServiceBroker, ServiceSchema } from "moleculer";
import type { AuthUser } from "./auth";
import type { CheckoutFields } from "./checkout";
import type { OrderStatus } from "./order-status";
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
	/** A guest cart's token (`X-Cart-Token`), as the gateway read it. */
	cartToken?: string;
}

export type Ctx<P = Record<string, unknown>> = Context<P, Meta>;

/** Settings that stay on their node: Moleculer publishes the others to the cluster. */
export interface SecureSettings {
	$secureSettings?: string[];
}

/** The part of Moleculer's Service that every service's `this` has. */
export interface ServiceBase<S> {
	name: string;
	fullName: string;
	broker: ServiceBroker;
	logger: LoggerInstance;
	settings: S;
	/** The service's final schema, its mixins merged. */
	schema: ServiceSchema;
}

/**
 * A service schema whose handlers and hooks are checked against `T`, the
 * service's `this` (its settings, methods and state), handed to Moleculer
 * as the plain schema it takes. Its settings may leave to its mixins what
 * they supply.
 */
export function defineService<S, T>(schema: Omit<ServiceSchema<S, T>, "settings"> & { settings?: Partial<S> }): ServiceSchema {
	return schema as unknown as ServiceSchema;
}

/** The same for a mixin. */
export function defineMixin<S, T>(schema: Partial<Omit<ServiceSchema<S, T>, "settings">> & { settings?: Partial<S> }): Partial<ServiceSchema> {
	return schema;
}

export interface Customer {
	id: string;
	name: string;
	email: string;
	phone: string | null;
	role: "customer" | "admin";
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
	createdAt: string;
	updatedAt: string;
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
	createdAt: string;
	updatedAt: string;
}

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
