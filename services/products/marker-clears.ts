import { reservedItems, type ReservationDoc } from "./documents";
import { TAKE, holdKey } from "./ledger-markers";

/**
 * A queued take-marker clear is dropped once its outcome is older than this
 * share of the pending timeout; recover clears a counted take only after
 * the whole timeout: the unconditional queued clear must land before.
 */
const QUEUED_CLEAR_SHARE = 0.5;

/** A marker to remove, with when its reservation's outcome was stored. */
export type MarkerClear = [key: string, storedAt: number];

/**
 * Take markers of settled reservations, per product, waiting to be removed
 * with the product's next take (no write of their own) or by the ledger's
 * flush.
 */
export class MarkerClears {
	private readonly queued = new Map<string, Map<string, number>>();

	constructor(private readonly pendingTimeoutMs: number) {}

	/** A reserved order's take markers: one per product it holds. */
	queueReserved(r: ReservationDoc): void {
		const storedAt = Date.parse(r.createdAt);
		for (const item of reservedItems(r)) this.queue(item.productId, [[holdKey(TAKE, r._id), storedAt]]);
	}

	queue(productId: string, clears: MarkerClear[]): void {
		if (!clears.length) return;
		const queued = this.queued.get(productId) ?? new Map<string, number>();
		clears.forEach(([key, at]) => queued.set(key, at));
		this.queued.set(productId, queued);
	}

	/** The products with clears waiting. */
	productIds(): string[] {
		return [...this.queued.keys()];
	}

	/**
	 * The clears queued for a product, taken off the queue. A clear whose
	 * outcome is older than a share of the pending timeout is dropped
	 * (recover removes its marker): landing after recover did, it could
	 * remove a take the outcome did not count before that take is given back.
	 */
	take(productId: string): MarkerClear[] {
		const queued = this.queued.get(productId);
		if (!queued) return [];
		this.queued.delete(productId);
		const since = Date.now() - QUEUED_CLEAR_SHARE * this.pendingTimeoutMs;
		return [...queued].filter(([, at]) => at >= since);
	}
}

/** An `$unset` of every marker of these clears. */
export function unsetAll(clears: MarkerClear[]): Record<string, true> {
	return Object.fromEntries(clears.map(([key]) => [key, true as const]));
}
