import type { Context } from "moleculer";
import type { AuthUser } from "./auth";

export interface Meta {
	user?: AuthUser | null;
	$statusCode?: number;
	$location?: string;
	$responseHeaders?: Record<string, string>;
	idempotencyKey?: string;
}

export type Ctx<P = Record<string, unknown>> = Context<P, Meta>;

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

export interface ReserveItem {
	productId: string;
	quantity: number;
}

/** What `products.reserve` answers for each item: the price snapshot the order keeps. */
export interface ReservedLine {
	productId: string;
	sku: string;
	name: string;
	unitPriceCents: number;
	quantity: number;
}
