import type { StockAlertMessage } from "../../lib/contracts/channels";
import type { Doc, IndexSpec } from "../../lib/db/adapter";
import type { ShortItem } from "../../lib/contracts/errors";
import type { ReserveItem, ReservedLine, ReservationState } from "../../lib/contracts/reservations";
import type { Product, ProductImage } from "../../lib/contracts/types";

/** A marker in a product: the quantity moved for an order, and when (a take with no outcome is abandoned after the timeout). */
export interface Hold {
	q: number;
	at: number;
	/** On a take: the attempt that took (absent on takes stored before attempts were told apart). */
	a?: string;
}

/** A product as products stores it: what clients see, and the ledger's and the alerts' state. */
export interface ProductDoc extends Doc, Omit<Product, "id" | "images"> {
	/** Absent in products stored before images: none. */
	images?: ProductImage[];
	/** The sku while the product is in the catalog: a unique sparse index keeps skus of live products apart. */
	activeSku?: string;
	/** Set while the product is at or below its threshold and its crossing was announced. */
	lowStockNotified: boolean;
	outOfStockNotified: boolean;
	lowStockCrossings?: number;
	outOfStockCrossings?: number;
	/** Take (`r_<orderId>`) and give-back (`g_<orderId>`) markers: see StockLedger. */
	holds: Record<string, Hold>;
	/** A return's restock done, by return id: when (or, stored before markers carried a time, the quantity). Kept a week (catalog.ts). */
	returned?: Record<string, string | number>;
	/** Stock alerts not yet handed to the channel, keyed `<type>_<crossing>`. */
	alertOutbox?: Record<string, StockAlertMessage>;
	deleted?: true;
	deletedAt?: string;
}

/** One order's reservation: written once, when its outcome is known. */
export interface ReservationDoc extends Doc {
	state: ReservationState;
	/** What the attempt asked for; not stored beside lines, which hold the same (see reservedItems). */
	items?: ReserveItem[];
	/** Only on reservations that were `reserved` at some point: their price snapshot. */
	lines?: ReservedLine[];
	/**
	 * Beside lines: per product, the attempt whose take the outcome counted
	 * (another attempt's take of it gives back). Absent on reservations
	 * stored before attempts were told apart: every take counts.
	 */
	counted?: Record<string, string>;
	short?: ShortItem[];
	unknown?: string[];
	reason?: string;
	/** Set while `releasing`, so the settler finds unfinished releases. */
	releasing?: true;
	/** Set on `failed` outcomes (a sparse index), so the settler finds them to remove without a scan. */
	failed?: true;
	/** When it became `released` (ms): its give-back markers go a grace period later. */
	releasedAt?: number;
	createdAt: string;
	updatedAt: string;
}

/** The items a reservation holds or asked for: its lines when it has them (one copy per order, not two). */
export function reservedItems(r: ReservationDoc): ReserveItem[] {
	return r.lines?.map(l => ({ productId: l.productId, quantity: l.quantity })) ?? r.items ?? [];
}

/** The catalog's indexes: a sku is unique among the products still listed. */
export const PRODUCT_INDEXES: IndexSpec[] = [{ field: "activeSku", unique: true, sparse: true }];

/** Reservations' sparse flags: recovery finds the few releasing or failed ones without indexing every state. */
export const RESERVATION_INDEXES: IndexSpec[] = [
	{ field: "releasing", sparse: true },
	{ field: "failed", sparse: true },
];
