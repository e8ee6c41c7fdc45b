import { crashPoint } from "../../lib/infra/crash-points";
import type { DbAdapter } from "../../lib/db/adapter";
import { isDuplicateKeyError } from "../../lib/db/adapter";
import type { ReserveItem } from "../../lib/contracts/reservations";
import type { Hold, ProductDoc, ReservationDoc } from "./documents";
import { giveBackAttempt, giveBackTaken } from "./give-backs";
import { TAKE, attemptOf, counts, holdKey, stamps, takenBy } from "./ledger-markers";

/** What the settler needs of the ledger: its queued clears, and finishing a release. */
export interface SettledLedger {
	flushMarkerClears(): Promise<void>;
	finishRelease(orderId: string): Promise<string[]>;
}

/**
 * The stock ledger's settler (./stock-ledger.ts): brings every marker to
 * rest from its reservation's outcome, and finishes releases left half
 * done, so that whatever a crash cut, the stock ends as the outcomes say.
 */
export class LedgerSettler {
	constructor(
		private readonly ledger: SettledLedger,
		private readonly products: DbAdapter<ProductDoc>,
		private readonly reservations: DbAdapter<ReservationDoc>,
		private readonly options: { pendingTimeoutMs: number; markerGraceMs: number },
		private readonly stockMoved: (productIds: string[]) => Promise<void>,
	) {}

	/**
	 * Bring every marker to rest from its reservation's outcome, and finish
	 * releases left half-done. Safe to run any number of times, anywhere.
	 */
	async recover(at = Date.now()): Promise<void> {
		const timeout = this.options.pendingTimeoutMs;
		const moved = new Set<string>();
		// This node's own clears first: the markers of outcomes it stored go now, not a pending timeout later.
		await this.ledger.flushMarkerClears();
		// The catalog is small next to the orders: a scan finds the products that carry markers.
		const marked = (await this.products.find({ query: {} })).filter(d => d.holds && Object.keys(d.holds).length);
		for (const doc of marked) {
			for (const [marker, hold] of Object.entries(doc.holds)) {
				if (await this.restMarker(doc, marker, hold, at)) moved.add(String(doc._id));
			}
		}
		const cutoff = new Date(at - timeout).toISOString();
		for (const r of await this.reservations.find({ query: { releasing: true, updatedAt: { $lte: cutoff } } })) {
			(await this.ledger.finishRelease(r._id)).forEach(id => moved.add(id));
		}
		if (moved.size) await this.stockMoved([...moved]);
		// A refused attempt's outcome matters only while another attempt of the same order could still run: a refused order leaves nothing in the end.
		await this.reservations.removeMany({ failed: true, updatedAt: { $lte: new Date(at - this.options.markerGraceMs).toISOString() } });
	}

	/** One marker of one product, brought to rest; true when stock moved. */
	private async restMarker(doc: ProductDoc, marker: string, hold: Hold, at: number): Promise<boolean> {
		const abandoned = at - hold.at >= this.options.pendingTimeoutMs;
		const kind = marker.slice(0, 2);
		const orderId = marker.slice(2);
		const productId = String(doc._id);
		let r = await this.reservations.findById(orderId);
		if (!r && kind === TAKE && abandoned) {
			// The attempt died before storing an outcome: fail it (unless it just stored one).
			await this.failAbandonedAttempt(orderId, [{ productId, quantity: hold.q }]);
			crashPoint("recover.after-expiring");
			r = await this.reservations.findById(orderId);
		}
		if (!r) return false;
		if (kind === TAKE) return this.restTake(r, productId, hold, at);
		if (r.state === "released" && (r.releasedAt ?? 0) <= at - this.options.markerGraceMs) {
			await this.products.updateMany({ _id: doc._id }, { $unset: { [holdKey(kind, orderId)]: true } });
		}
		return false;
	}

	/**
	 * A take beside its order's outcome: given back unless the outcome holds
	 * it; the marker of a take it holds goes once the outcome is older than
	 * the pending timeout (before that, the storing node's queued clear may
	 * still land, and only a counted marker may be there when it does).
	 */
	private async restTake(r: ReservationDoc, productId: string, hold: Hold, at: number): Promise<boolean> {
		const item = { productId, quantity: hold.q };
		if (!r.lines) return giveBackTaken(this.products, r._id, [item]);
		const attempt = attemptOf(hold);
		if (!counts(r, productId, attempt)) return giveBackAttempt(this.products, r._id, attempt, [item]);
		if (Date.parse(r.createdAt) <= at - this.options.pendingTimeoutMs) await this.products.updateMany({ _id: productId, ...takenBy(r._id, attempt) }, { $unset: { [holdKey(TAKE, r._id)]: true } });
		return false;
	}

	private async failAbandonedAttempt(orderId: string, items: ReserveItem[]): Promise<void> {
		try {
			await this.reservations.insert({ _id: orderId, items, state: "failed", failed: true, reason: "EXPIRED", ...stamps() });
		} catch (err) {
			if (!isDuplicateKeyError(err)) throw err;
		}
	}
}
