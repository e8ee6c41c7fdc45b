import crypto from "crypto";
import type { Query } from "../../lib/db/adapter";
import { ConflictError, InsufficientStockError, UnprocessableError, type ShortItem } from "../../lib/contracts/errors";
import { REJECTION, type ReserveItem } from "../../lib/contracts/reservations";
import type { Hold, ProductDoc, ReservationDoc } from "./documents";

/**
 * The stock ledger's vocabulary (./stock-ledger.ts): the markers a product
 * carries for each order (`holds.r_<orderId>` a take, `holds.g_<orderId>` a
 * give-back), the attempts they name, and the refusals an outcome becomes.
 */
export const TAKE = "r_";
export const GIVE = "g_";
export const holdKey = (kind: string, orderId: string) => `holds.${kind}${orderId}`;
export const now = () => new Date().toISOString();
/** The attempt of a take stored before attempts were told apart. */
export const UNNAMED = "";
export const attemptOf = (hold: Hold) => hold.a ?? UNNAMED;
export const newAttemptId = () => crypto.randomUUID().slice(0, 13).replace("-", "");
/** Whether a reservation's outcome counted this attempt's take of the product (an outcome stored before attempts were told apart counted every take). */
export const counts = (r: ReservationDoc, productId: string, attempt: string) => !r.counted || r.counted[productId] === attempt;

/** A query part: the order's take marker on the product is this attempt's. */
export function takenBy(orderId: string, attempt: string): Query {
	const key = holdKey(TAKE, orderId);
	return attempt === UNNAMED ? { [key]: { $exists: true }, [`${key}.a`]: { $exists: false } } : { [`${key}.a`]: attempt };
}

export function stamps(): { createdAt: string; updatedAt: string } {
	const at = now();
	return { createdAt: at, updatedAt: at };
}

export function closedReservationError(r: ReservationDoc): Error {
	if (r.short) return new InsufficientStockError(r.short);
	if (r.reason === REJECTION.unknownProduct) return unknownProductError(r.unknown ?? []);
	return new ConflictError("This order's reservation is closed", REJECTION.closed, { orderId: r._id, state: r.state });
}

export function unknownProductError(productIds: string[]): Error {
	return new UnprocessableError("Unknown product", { field: "items", productIds }, REJECTION.unknownProduct);
}

export function shortItem(item: ReserveItem, doc: ProductDoc | null | undefined): ShortItem {
	return { productId: item.productId, requested: item.quantity, available: Math.max(0, doc?.stock ?? 0) };
}
