import crypto from "crypto";
import { Errors } from "moleculer";
import { ConflictError } from "../../lib/contracts/errors";
import type { OrderStatus } from "../../lib/contracts/order-status";
import { REJECTION, type ReserveItem } from "../../lib/contracts/reservations";
import type { ShippingAddress } from "../../lib/contracts/types";
import type { OrderDoc } from "./order-doc";

/** The order could not be placed now (products unreachable): a 503 the client may send again with its key. */
export function notPlaced(order: OrderDoc): Error {
	return new Errors.MoleculerRetryableError("The order could not be placed now; try again with the same Idempotency-Key", 503, "ORDER_NOT_PLACED", { orderId: order._id });
}

/** A request's hash under an Idempotency-Key: SHA-256 of its canonical JSON (each kind of request builds its own canonical form). */
export function requestDigest(canonical: unknown): string {
	return crypto.createHash("sha256").update(JSON.stringify(canonical)).digest("base64url");
}

/**
 * The same request gives the same hash: the items in any order, the address
 * or none, and the admin's X-Placed-At (as an instant) when there is one; an
 * undated request hashes as it always did, so stored keys keep replaying.
 */
export function hashRequest(items: ReserveItem[], shippingAddress: ShippingAddress | null, placedAt: string | undefined): string {
	const canonical = {
		items: [...items].sort((a, b) => a.productId.localeCompare(b.productId)).map(i => [i.productId, i.quantity]),
		shippingAddress,
		...(placedAt === undefined ? {} : { placedAt }),
	};
	return requestDigest(canonical);
}

export function notCancellable(status: OrderStatus): ConflictError {
	return new ConflictError(`An order that is ${status} cannot be cancelled`, "INVALID_STATUS_TRANSITION");
}

export function invalidMove(from: OrderStatus, to: OrderStatus): ConflictError {
	return new ConflictError(`An order cannot move from ${from} to ${to}`, "INVALID_STATUS_TRANSITION", { from, to });
}

/** Refusals of the client's order itself: nothing is kept of it. */
const REFUSALS = new Set<string | undefined>([REJECTION.insufficientStock, REJECTION.unknownProduct, REJECTION.duplicateProduct]);
export const isRefusal = (type: string | undefined) => REFUSALS.has(type);
