import { ConflictError } from "../../lib/contracts/errors";
import type { Order } from "../../lib/contracts/types";

/**
 * An order takes a payment once it is placed and until it is cancelled: a
 * pending order's total is not known yet (its stock is being reserved), and
 * a cancelled one takes no new payment (one that arrives anyway, from a
 * provider, is refunded).
 */
export function assertPayable(order: Order): void {
	if (order.status === "pending") throw new ConflictError("The order is not placed yet: its total is not known", "ORDER_PENDING");
	if (order.status === "cancelled") throw new ConflictError("The order is cancelled", "ORDER_CANCELLED");
}

export function referenceMismatch(ref: string): ConflictError {
	return new ConflictError("This reference is not the order's payment reference", "REFERENCE_MISMATCH", { reference: ref });
}
