import crypto from "crypto";
import { Errors } from "moleculer";
import { crashPoint, pause, pausesAt } from "../../lib/infra/crash-points";
import type { DbAdapter, Query } from "../../lib/db/adapter";
import { isDuplicateKeyError } from "../../lib/db/adapter";
import { ConflictError, InsufficientStockError, UnprocessableError, type ShortItem } from "../../lib/contracts/errors";
import { REJECTION, type ReleaseAnswer, type ReservationState, type ReservationView, type ReserveAnswer, type ReserveItem, type ReservedLine } from "../../lib/contracts/reservations";
import { reservedItems, type Hold, type ProductDoc, type ReservationDoc } from "./documents";

/** Called after stock moved, before the answer: caches are cleared and crossings found there. */
export type StockMoved = (productIds: string[]) => Promise<void>;

export interface LedgerOptions {
	/** A take with no outcome after this long belongs to an attempt that died. */
	pendingTimeoutMs: number;
}

/** Give-back markers outlive their release by this many pending timeouts. */
const MARKER_GRACE_TIMEOUTS = 10;
/**
 * A queued take-marker clear is dropped once its outcome is older than this
 * share of the pending timeout; recover clears a counted take only after
 * the whole timeout: the unconditional queued clear must land before.
 */
const QUEUED_CLEAR_SHARE = 0.5;
const TAKE = "r_";
const GIVE = "g_";
const holdKey = (kind: string, orderId: string) => `holds.${kind}${orderId}`;
const now = () => new Date().toISOString();
/** The attempt of a take stored before attempts were told apart. */
const UNNAMED = "";
const attemptOf = (hold: Hold) => hold.a ?? UNNAMED;
const newAttemptId = () => crypto.randomUUID().slice(0, 13).replace("-", "");
/** Whether a reservation's outcome counted this attempt's take of the product (an outcome stored before attempts were told apart counted every take). */
const counts = (r: ReservationDoc, productId: string, attempt: string) => !r.counted || r.counted[productId] === attempt;

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
	/** Take markers of settled reservations, per product (each with when its outcome was stored), removed with the product's next take (or by the flush). */
	private readonly markerClears = new Map<string, Map<string, number>>();

	constructor(
		private readonly products: DbAdapter<ProductDoc>,
		private readonly reservations: DbAdapter<ReservationDoc>,
		private readonly options: LedgerOptions,
		private readonly stockMoved: StockMoved,
	) {
		this.markerGraceMs = MARKER_GRACE_TIMEOUTS * options.pendingTimeoutMs;
	}

	/**
	 * Take every item's quantity, or nothing. Idempotent per orderId.
	 * Answers the price snapshot of each line; throws INSUFFICIENT_STOCK
	 * (409) with the short items, or UNKNOWN_PRODUCT (422).
	 */
	async reserve(orderId: string, items: ReserveItem[]): Promise<ReserveAnswer> {
		if (new Set(items.map(i => i.productId)).size !== items.length) {
			throw new UnprocessableError("Each product may appear once", { field: "items" }, REJECTION.duplicateProduct);
		}
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

	/**
	 * Bring every marker to rest from its reservation's outcome, and finish
	 * releases left half-done. Safe to run any number of times, anywhere.
	 */
	async recover(at = Date.now()): Promise<void> {
		const timeout = this.options.pendingTimeoutMs;
		const moved = new Set<string>();
		// This node's own clears first: the markers of outcomes it stored go now, not a pending timeout later.
		await this.flushMarkerClears();
		// The catalog is small next to the orders: a scan finds the products that carry markers.
		const marked = (await this.products.find({ query: {} })).filter(d => d.holds && Object.keys(d.holds).length);
		for (const doc of marked) {
			for (const [marker, hold] of Object.entries(doc.holds)) {
				if (await this.restMarker(doc, marker, hold, at)) moved.add(String(doc._id));
			}
		}
		const cutoff = new Date(at - timeout).toISOString();
		for (const r of await this.reservations.find({ query: { releasing: true, updatedAt: { $lte: cutoff } } })) {
			(await this.finishRelease(r._id)).forEach(id => moved.add(id));
		}
		if (moved.size) await this.stockMoved([...moved]);
		// A refused attempt's outcome matters only while another attempt of the same order could still run: a refused order leaves nothing in the end.
		await this.reservations.removeMany({ failed: true, updatedAt: { $lte: new Date(at - this.markerGraceMs).toISOString() } });
	}

	/** Clears still queued (products nobody ordered since): one update per product. */
	async flushMarkerClears(): Promise<void> {
		for (const productId of [...this.markerClears.keys()]) {
			const clears = this.takeQueuedClears(productId);
			if (clears.length) await this.products.updateMany({ _id: productId }, { $unset: unsetAll(clears) });
		}
	}

	/**
	 * One product's share: decrement and marker in one conditional update,
	 * which also carries the removal of markers whose reservations have
	 * settled since (see queueMarkerClears): no write of their own.
	 * Answers the attempt whose take now stands for the order (this one's,
	 * or another attempt's taken first), or null when too little is left.
	 */
	async takeStock(orderId: string, item: ReserveItem, attempt = newAttemptId()): Promise<string | null> {
		const key = holdKey(TAKE, orderId);
		const hold: Hold = { q: item.quantity, at: Date.now(), a: attempt };
		const clears = this.takeQueuedClears(item.productId);
		const n = await this.products.updateMany(
			{ _id: item.productId, deleted: { $ne: true }, stock: { $gte: item.quantity }, [key]: { $exists: false } },
			{ $inc: { stock: -item.quantity }, $set: { [key]: hold, updatedAt: now() }, ...(clears.length ? { $unset: unsetAll(clears) } : {}) },
		);
		if (n === 1) return attempt;
		this.queueClears(item.productId, clears);
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
			if (await this.giveBackAttempt(r._id, attempt!.id, uncounted)) await this.stockMoved(uncounted.map(i => i.productId));
		}
		if (r.state === "reserved") {
			if (ours) {
				await this.stockMoved(items.map(i => i.productId));
				this.queueMarkerClears(r);
			}
			return { orderId: r._id, state: "reserved", lines: r.lines ?? [] };
		}
		if (ours) crashPoint("reserve.after-failed-outcome");
		if (!r.lines && (await this.giveBackTaken(r._id, items))) await this.stockMoved(items.map(i => i.productId));
		throw closedReservationError(r);
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
		if (r.state === "released" && (r.releasedAt ?? 0) <= at - this.markerGraceMs) {
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
		if (!r.lines) return this.giveBackTaken(r._id, [item]);
		const attempt = attemptOf(hold);
		if (!counts(r, productId, attempt)) return this.giveBackAttempt(r._id, attempt, [item]);
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

	/** A reserved order's take markers are removed with the next take of each product, or by the flush. */
	private queueMarkerClears(r: ReservationDoc): void {
		const storedAt = Date.parse(r.createdAt);
		for (const item of reservedItems(r)) this.queueClears(item.productId, [[holdKey(TAKE, r._id), storedAt]]);
	}

	private queueClears(productId: string, clears: Array<[string, number]>): void {
		if (!clears.length) return;
		const queued = this.markerClears.get(productId) ?? new Map<string, number>();
		clears.forEach(([key, at]) => queued.set(key, at));
		this.markerClears.set(productId, queued);
	}

	/**
	 * The clears queued for a product, taken off the queue. A clear whose
	 * outcome is older than a share of the pending timeout is dropped
	 * (recover removes its marker): landing after recover did, it could
	 * remove a take the outcome did not count before that take is given back.
	 */
	private takeQueuedClears(productId: string): Array<[string, number]> {
		const queued = this.markerClears.get(productId);
		if (!queued) return [];
		this.markerClears.delete(productId);
		const since = Date.now() - QUEUED_CLEAR_SHARE * this.options.pendingTimeoutMs;
		return [...queued].filter(([, at]) => at >= since);
	}

	/** Undo one attempt's takes that its order's outcome did not count. Idempotent (guarded on the attempt); true when stock moved. */
	private async giveBackAttempt(orderId: string, attempt: string, items: ReserveItem[]): Promise<boolean> {
		let moved = false;
		for (const item of items) {
			const n = await this.products.updateMany(
				{ _id: item.productId, ...takenBy(orderId, attempt) },
				{ $inc: { stock: item.quantity }, $unset: { [holdKey(TAKE, orderId)]: true }, $set: { updatedAt: now() } },
			);
			moved ||= n === 1;
		}
		return moved;
	}

	/** Undo the takes of an order whose reservation never held. Idempotent; true when stock moved. */
	private async giveBackTaken(orderId: string, items: ReserveItem[]): Promise<boolean> {
		const key = holdKey(TAKE, orderId);
		let moved = false;
		for (const item of items) {
			const n = await this.products.updateMany({ _id: item.productId, [key]: { $exists: true } }, { $inc: { stock: item.quantity }, $unset: { [key]: true }, $set: { updatedAt: now() } });
			moved ||= n === 1;
		}
		return moved;
	}
}

function closedReservationError(r: ReservationDoc): Error {
	if (r.short) return new InsufficientStockError(r.short);
	if (r.reason === REJECTION.unknownProduct) return unknownProductError(r.unknown ?? []);
	return new ConflictError("This order's reservation is closed", REJECTION.closed, { orderId: r._id, state: r.state });
}

function unknownProductError(productIds: string[]): Error {
	return new UnprocessableError("Unknown product", { field: "items", productIds }, REJECTION.unknownProduct);
}

function shortItem(item: ReserveItem, doc: ProductDoc | null | undefined): ShortItem {
	return { productId: item.productId, requested: item.quantity, available: Math.max(0, doc?.stock ?? 0) };
}

function unsetAll(clears: Array<[string, number]>): Record<string, true> {
	return Object.fromEntries(clears.map(([key]) => [key, true as const]));
}

/** A query part: the order's take marker on the product is this attempt's. */
function takenBy(orderId: string, attempt: string): Query {
	const key = holdKey(TAKE, orderId);
	return attempt === UNNAMED ? { [key]: { $exists: true }, [`${key}.a`]: { $exists: false } } : { [`${key}.a`]: attempt };
}

function stamps(): { createdAt: string; updatedAt: string } {
	const at = now();
	return { createdAt: at, updatedAt: at };
}
