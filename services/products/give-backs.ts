import type { DbAdapter } from "../../lib/db/adapter";
import type { ReserveItem } from "../../lib/contracts/reservations";
import type { ProductDoc } from "./documents";
import { TAKE, holdKey, now, takenBy } from "./ledger-markers";

/** Undo one attempt's takes that its order's outcome did not count. Idempotent (guarded on the attempt); true when stock moved. */
export async function giveBackAttempt(products: DbAdapter<ProductDoc>, orderId: string, attempt: string, items: ReserveItem[]): Promise<boolean> {
	let moved = false;
	for (const item of items) {
		const n = await products.updateMany(
			{ _id: item.productId, ...takenBy(orderId, attempt) },
			{ $inc: { stock: item.quantity }, $unset: { [holdKey(TAKE, orderId)]: true }, $set: { updatedAt: now() } },
		);
		moved ||= n === 1;
	}
	return moved;
}

/** Undo the takes of an order whose reservation never held. Idempotent; true when stock moved. */
export async function giveBackTaken(products: DbAdapter<ProductDoc>, orderId: string, items: ReserveItem[]): Promise<boolean> {
	const key = holdKey(TAKE, orderId);
	let moved = false;
	for (const item of items) {
		const n = await products.updateMany({ _id: item.productId, [key]: { $exists: true } }, { $inc: { stock: item.quantity }, $unset: { [key]: true }, $set: { updatedAt: now() } });
		moved ||= n === 1;
	}
	return moved;
}
