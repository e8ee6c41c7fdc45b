import { Errors } from "moleculer";
import { crashPoint, pause, pausesAt } from "../../lib/infra/crash-points";
import type { DbAdapter } from "../../lib/db/adapter";
import { isDuplicateKeyError } from "../../lib/db/adapter";
import { InsufficientStockError, UnprocessableError, type ShortItem } from "../../lib/contracts/errors";
import { REJECTION, type ReleaseAnswer, type ReservationState, type ReservationView, type ReserveAnswer, type ReserveItem, type ReservedLine } from "../../lib/contracts/reservations";
import { reservedItems, type Hold, type ProductDoc, type ReservationDoc } from "./documents";
import { GIVE, TAKE, attemptOf, closedReservationError, counts, holdKey, newAttemptId, now, shortItem, stamps, unknownProductError } from "./ledger-markers";
import { giveBackAttempt, giveBackTaken } from "./give-backs";
import { LedgerSettler } from "./ledger-settler";
import { MarkerClears, unsetAll } from "./marker-clears";

/** Lines that name a product twice are refused (422): a once-per-product marker would count only the first. */
export function assertEachProductOnce(items: ReadonlyArray<{ productId: string }>): void {
	if (new Set(items.map(i => i.productId)).size !== items.length) throw new UnprocessableError("Each product may appear once", { field: "items" }, REJECTION.duplicateProduct);
}

/** Called after stock moved, before the answer: caches are cleared and crossings found there. */
export type StockMoved = (productIds: string[]) => Promise<void>;

export interface LedgerOptions {
	/** A take with no outcome after this long belongs to an attempt that died. */
	pendingTimeoutMs: number;
}

/** Give-back markers outlive their release by this many pending timeouts. */
const MARKER_GRACE_TIMEOUTS = 10;

/** One run of reserve: the id its take markers carry, and what it took itself. */
interface Attempt {
	id: string;
	took: ReserveItem[];
}

/**
 * The stock ledger: every move of stock for an order.
 *
 * Stock moves only in single-document conditional updates of a product,
 * each of which also sets a marker in that same document
 * (`holds.r_<orderId>` for a take, `holds.g_<orderId>` for a give-back).
 * NeDB runs each update alone in its executor and MongoDB updates one
 * document atomically, so `stock >= q` and the decrement are one step in
 * both stores: no two buyers can take the last unit. The marker makes each
 * step idempotent (a step whose marker is there is not applied twice).
 *
 * A reservation (one per order id) is written once, when its outcome is
 * known: `reserved`, or `failed`, or `released` as a tombstone when a
 * release came first. The first writer wins: an attempt that finds another
 * outcome stored gives back its takes unless that outcome is `reserved`.
 * An attempt refused at its first read (an unknown product, too little
 * stock) has taken nothing and stores nothing.
 * Each take marker names the attempt that took (`a`), and a `reserved`
 * outcome names, per product, the attempt whose take it counted: an attempt
 * that read before the outcome was stored may take once the counted
 * marker is cleared, and that extra take is given back (by the attempt, or
 * by `recover` if it died), guarded on its attempt id so it goes back once.
 * Release moves `reserved -> releasing -> released`. Takes whose order has
 * no outcome after the pending timeout (the attempt died) are failed and
 * given back by `recover`, which also clears the markers of settled
 * reservations.
 */
export class StockLedger {
	/** How long a released reservation's give-back markers stay: far longer than any finishRelease may run. */
	private readonly markerGraceMs: number;
	/** Take markers of settled reservations, removed with the product's next take (or by the flush). */
	private readonly markerClears: MarkerClears;
	private readonly settler: LedgerSettler;

	constructor(
		private readonly products: DbAdapter<ProductDoc>,
		private readonly reservations: DbAdapter<ReservationDoc>,
		private readonly options: LedgerOptions,
		private readonly stockMoved: StockMoved,
	) {
		this.markerGraceMs = MARKER_GRACE_TIMEOUTS * options.pendingTimeoutMs;
		this.markerClears = new MarkerClears(options.pendingTimeoutMs);
		this.settler = new LedgerSettler(this, products, reservations, { pendingTimeoutMs: options.pendingTimeoutMs, markerGraceMs: this.markerGraceMs }, stockMoved);
	}

	/**
	 * Bring every marker to rest from its reservation's outcome, and finish
	 * releases left half-done. Safe to run any number of times, anywhere.
	 */
	recover(at = Date.now()): Promise<void> {
		return this.settler.recover(at);
	}

	/**
	 * Take every item's quantity, or nothing. Idempotent per orderId.
	 * Answers the price snapshot of each line; throws INSUFFICIENT_STOCK
	 * (409) with the short items, or UNKNOWN_PRODUCT (422).
	 */
	async reserve(orderId: string, items: ReserveItem[]): Promise<ReserveAnswer> {
		assertEachProductOnce(items);
		const existing = await this.reservations.findById(orderId);
		if (existing) return this.answerFrom(existing, items, false);
		const attempt: Attempt = { id: newAttemptId(), took: [] };

		const docs = await this.products.findByIds(items.map(i => i.productId));
		const byId = new Map(docs.map(d => [String(d._id), d]));
		const unknown = items.filter(i => !byId.get(i.productId) || byId.get(i.productId)!.deleted).map(i => i.productId);
		// Refused before anything is taken: nothing to give back, so nothing is stored (a refused order leaves no trace).
		if (unknown.length) throw unknownProductError(unknown);
		const shortAtRead = items.filter(i => byId.get(i.productId)!.stock < i.quantity);
		if (shortAtRead.length) throw new InsufficientStockError(shortAtRead.map(i => shortItem(i, byId.get(i.productId))));

		// Another buyer may take between the read and the takes: then what this attempt took is given back, under a stored failed outcome.
		if (pausesAt("reserve.after-read")) await pause();
		const short: ShortItem[] = [];
		const counted: Record<string, string> = {};
		for (const item of items) {
			const takenBy = await this.takeStock(orderId, item, attempt.id);
			if (takenBy !== null) {
				counted[item.productId] = takenBy;
				if (takenBy === attempt.id) attempt.took.push(item);
				crashPoint("reserve.after-take");
				continue;
			}
			short.push(shortItem(item, await this.products.findById(item.productId)));
		}
		if (short.length) return this.storeOutcome(orderId, items, { state: "failed", failed: true, reason: REJECTION.insufficientStock, short }, attempt);

		const lines: ReservedLine[] = items.map(i => {
			const d = byId.get(i.productId)!;
			return { productId: i.productId, sku: d.sku, name: d.name, unitPriceCents: d.priceCents, quantity: i.quantity };
		});
		return this.storeOutcome(orderId, items, { state: "reserved", lines, counted }, attempt);
	}

	/** Give back what an order holds, exactly once. Idempotent; a later reserve for the id fails. */
	async release(orderId: string): Promise<ReleaseAnswer> {
		for (;;) {
			const r = await this.reservations.findById(orderId);
			if (!r) {
				// A tombstone: a reserve still on its way finds it and gives back what it took.
				try {
					await this.reservations.insert({ _id: orderId, state: "released", items: [], reason: "RELEASED_BEFORE_RESERVE", ...stamps() });
					return { orderId, state: "released", released: false };
				} catch (err) {
					if (!isDuplicateKeyError(err)) throw err;
					continue;
				}
			}
			if (r.state === "failed" || r.state === "released") return { orderId, state: r.state, released: false };
			const won = r.state === "reserved" && (await this.moveReservation(orderId, "reserved", "releasing", { releasing: true }));
			if (r.state === "reserved" && !won) continue;
			if (won) crashPoint("release.after-claim");
			// Finishing another caller's release is harmless: each give-back is applied once.
			await this.stockMoved(await this.finishRelease(orderId));
			return { orderId, state: "released", released: won };
		}
	}

	/**
	 * Give back each item of a releasing reservation, then mark it released;
	 * answers the products whose stock moved. Each give-back is one
	 * conditional update that also sets the product's give-back marker, so it
	 * applies once however many callers finish the same release. The markers
	 * stay until the reservation has been released for the marker grace
	 * (`recover` clears them then), and a finishRelease that has run longer
	 * than the pending timeout stops before its next give-back: no give-back
	 * can land after its marker is gone. A second finishRelease of a released
	 * reservation reads it released and does nothing.
	 */
	async finishRelease(orderId: string): Promise<string[]> {
		const startedAt = Date.now();
		const r = await this.reservations.findById(orderId);
		if (!r || r.state !== "releasing") {
			// A flag left set beside a final state (the two-write release of earlier versions): only the flag goes.
			if (r?.releasing) await this.reservations.updateMany({ _id: orderId, state: r.state }, { $unset: { releasing: true } });
			return [];
		}
		const key = holdKey(GIVE, orderId);
		const items = reservedItems(r);
		for (const [i, item] of items.entries()) {
			if (Date.now() - startedAt > this.options.pendingTimeoutMs)
				throw new Errors.MoleculerRetryableError(`Releasing ${orderId} took too long; the settler finishes it`, 503, "RELEASE_UNFINISHED");
			const hold: Hold = { q: item.quantity, at: Date.now() };
			await this.products.updateMany({ _id: item.productId, [key]: { $exists: false } }, { $inc: { stock: item.quantity }, $set: { [key]: hold, updatedAt: now() } });
			if (i === 0) crashPoint("release.after-give-back");
		}
		crashPoint("release.after-all-give-backs");
		// One update: released, the settler's flag gone, and the time from which the markers may go.
		await this.reservations.updateMany({ _id: orderId, state: "releasing" }, { $set: { state: "released", releasedAt: Date.now(), updatedAt: now() }, $unset: { releasing: true } });
		return items.map(item => item.productId);
	}

	/** The state of an order's reservation, for the orders settler. */
	async view(orderId: string): Promise<ReservationView> {
		const r = await this.reservations.findById(orderId);
		return r ? { orderId: r._id, state: r.state, lines: r.lines ?? [] } : { orderId, state: "none", lines: [] };
	}

	/**
	 * Store this attempt's outcome unless another is stored already, then
	 * answer from the stored one.
	 */
	async storeOutcome(orderId: string, items: ReserveItem[], outcome: Partial<ReservationDoc> & { state: ReservationState }, attempt?: Attempt): Promise<ReserveAnswer> {
		try {
			const stored = await this.reservations.insert({ _id: orderId, ...(outcome.lines ? {} : { items }), ...outcome, ...stamps() });
			return await this.answerFrom(stored, items, true);
		} catch (err) {
			if (!isDuplicateKeyError(err)) throw err;
			return this.answerFrom((await this.reservations.findById(orderId))!, items, false, attempt);
		}
	}

	/** Clears still queued (products nobody ordered since): one update per product. */
	async flushMarkerClears(): Promise<void> {
		for (const productId of this.markerClears.productIds()) {
			const clears = this.markerClears.take(productId);
			if (clears.length) await this.products.updateMany({ _id: productId }, { $unset: unsetAll(clears) });
		}
	}

	/**
	 * One product's share: decrement and marker in one conditional update,
	 * which also carries the removal of markers whose reservations have
	 * settled since (./marker-clears.ts): no write of their own.
	 * Answers the attempt whose take now stands for the order (this one's,
	 * or another attempt's taken first), or null when too little is left.
	 */
	async takeStock(orderId: string, item: ReserveItem, attempt = newAttemptId()): Promise<string | null> {
		const key = holdKey(TAKE, orderId);
		const hold: Hold = { q: item.quantity, at: Date.now(), a: attempt };
		const clears = this.markerClears.take(item.productId);
		const n = await this.products.updateMany(
			{ _id: item.productId, deleted: { $ne: true }, stock: { $gte: item.quantity }, [key]: { $exists: false } },
			{ $inc: { stock: -item.quantity }, $set: { [key]: hold, updatedAt: now() }, ...(clears.length ? { $unset: unsetAll(clears) } : {}) },
		);
		if (n === 1) return attempt;
		this.markerClears.queue(item.productId, clears);
		// Taken already by another attempt of this same order (a retry)?
		const taken = (await this.products.findById(item.productId))?.holds?.[`${TAKE}${orderId}`];
		return taken ? attemptOf(taken) : null;
	}

	/** Compare-and-set of a reservation's state; false when another step moved it first. */
	async moveReservation(orderId: string, from: ReservationState, to: ReservationState, fields: Partial<ReservationDoc> = {}): Promise<boolean> {
		const n = await this.reservations.updateMany({ _id: orderId, state: from }, { $set: { ...fields, state: to, updatedAt: now() } });
		return n === 1;
	}

	/**
	 * Answer an attempt from the stored outcome: the lines when reserved;
	 * otherwise give back what this attempt took (nothing, if it took
	 * nothing) and throw why. An attempt whose outcome was refused first
	 * gives back its own takes the stored outcome did not count.
	 */
	private async answerFrom(r: ReservationDoc, items: ReserveItem[], ours: boolean, attempt?: Attempt): Promise<ReserveAnswer> {
		const uncounted = r.lines && attempt ? attempt.took.filter(i => !counts(r, i.productId, attempt.id)) : [];
		if (uncounted.length) {
			crashPoint("reserve.after-refused-outcome");
			if (await giveBackAttempt(this.products, r._id, attempt!.id, uncounted)) await this.stockMoved(uncounted.map(i => i.productId));
		}
		if (r.state === "reserved") {
			if (ours) {
				await this.stockMoved(items.map(i => i.productId));
				this.markerClears.queueReserved(r);
			}
			return { orderId: r._id, state: "reserved", lines: r.lines ?? [] };
		}
		if (ours) crashPoint("reserve.after-failed-outcome");
		if (!r.lines && (await giveBackTaken(this.products, r._id, items))) await this.stockMoved(items.map(i => i.productId));
		throw closedReservationError(r);
	}
}
