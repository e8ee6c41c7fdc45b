import { ConflictError } from "../../lib/contracts/errors";
import type { Order } from "../../lib/contracts/types";

/** A cancelled order takes no new payment (one that arrives anyway, from a provider, is refunded). */
export function assertNotCancelled(order: Order): void {
	if (order.status === "cancelled") throw new ConflictError("The order is cancelled", "ORDER_CANCELLED");
}

export function referenceMismatch(ref: string): ConflictError {
	return new ConflictError("This reference is not the order's payment reference", "REFERENCE_MISMATCH", { reference: ref });
}
