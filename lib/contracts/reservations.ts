/**
 * What orders and products agree on about a reservation: written once,
 * used by both (and by alerts, for the cancel reasons).
 */

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

/**
 * A reservation's life: `reserved`, `failed` (nothing held) or `released`
 * (given back, or a tombstone when the release came first). `releasing`
 * is the step between reserved and released.
 */
export type ReservationState = "reserved" | "releasing" | "released" | "failed";

/** `products.reserve`'s answer when every item is held. */
export interface ReserveAnswer {
	orderId: string;
	state: "reserved";
	lines: ReservedLine[];
}

/** `products.reservation`'s answer: `none` when products never heard of the order. */
export interface ReservationView {
	orderId: string;
	state: ReservationState | "none";
	lines: ReservedLine[];
}

/** `products.release`'s answer; `released` is true for the call that gave the stock back. */
export interface ReleaseAnswer {
	orderId: string;
	state: ReservationState;
	released: boolean;
}

/** The error types with which `products.reserve` refuses, as `type` of the error. */
export const REJECTION = {
	/** 409: some item is short; `data.items` names each. */
	insufficientStock: "INSUFFICIENT_STOCK",
	/** 422: some product does not exist (or left the catalog). */
	unknownProduct: "UNKNOWN_PRODUCT",
	/** 409: the reservation was released or failed before this attempt. */
	closed: "RESERVATION_CLOSED",
	/** 422: a product appears twice. */
	duplicateProduct: "DUPLICATE_PRODUCT",
} as const;
export type RejectionType = (typeof REJECTION)[keyof typeof REJECTION];

/**
 * Why an order was cancelled, and whether the cancellation raises an
 * `order_cancelled` alert. Only placed orders are cancelled: an order that
 * placement refused or could not place is not an order.
 */
export const CANCEL_REASONS = {
	CANCELLED_BY_CUSTOMER: { alert: true },
	CANCELLED_BY_ADMIN: { alert: true },
	/** A checkout order not paid by its deadline: routine, no alert. */
	PAYMENT_EXPIRED: { alert: false },
} as const;
export type CancelReason = keyof typeof CANCEL_REASONS;

export function cancellationRaisesAlert(reason: CancelReason | undefined): boolean {
	return reason === undefined || !(reason in CANCEL_REASONS) || CANCEL_REASONS[reason].alert;
}
