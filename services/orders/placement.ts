import type { Errors } from "moleculer";
import { isDuplicateKeyError, type Query } from "../../lib/db/adapter";
import { newId } from "../../lib/db/ids";
import { ConflictError, UnprocessableError } from "../../lib/contracts/errors";
import { crashPoint, pause, pausesAt, type CrashPoint } from "../../lib/infra/crash-points";
import { canMove, type OrderStatus } from "../../lib/contracts/order-status";
import { REJECTION, type CancelReason, type ReserveItem, type ReservedLine } from "../../lib/contracts/reservations";
import type { OrderLine, ShippingAddress } from "../../lib/contracts/types";
import type { CheckoutRequest, OrderDoc } from "./order-doc";
export { ORDER_INDEXES, type CheckoutRequest, type HoldOutcome, type OrderDoc } from "./order-doc";
export { settlerVia, type PlacementDeps, type Via } from "./via";
import { invalidMove, hashRequest, isRefusal, notCancellable, notPlaced } from "./placement-rules";
import { products, settlerVia, type PlacementDeps, type Via } from "./via";

const now = () => new Date().toISOString();
/** The statuses a cancellation (or an expiry) leaves. */
const CANCELLABLE = ["pending", "awaiting_payment", "confirmed"] as const;

/**
 * The placement saga and its settler. `place` stores the order `pending`,
 * makes one `products.reserve` call, then confirms it with the price
 * snapshot or cancels it. Every status move is a compare-and-set that also
 * marks the order's outbox, so a crash between any two steps leaves a
 * state the settler (`recoverStale`) finishes: pending orders are resolved
 * from products' view of their reservation, flagged cancellations are
 * released and finished, unsent status messages are sent.
 */
export class Placement {
	constructor(protected readonly deps: PlacementDeps) {}

	/**
	 * The customer's order for this idempotency key if there is one (422
	 * when it was asked with another body), else a new pending order.
	 * `placedAt` (an admin's X-Placed-At) dates it in the past; `updatedAt`
	 * stays now, as the settler reads it to find abandoned placements.
	 */
	async open(
		customerId: string,
		key: string | undefined,
		items: ReserveItem[],
		shippingAddress: ShippingAddress | null,
		placedAt?: string,
		checkout?: { request: CheckoutRequest; hash: string },
	): Promise<{ order: OrderDoc; created: boolean }> {
		const idemKey = key === undefined ? undefined : `${customerId}:${key}`;
		const requestHash = idemKey === undefined ? undefined : (checkout?.hash ?? hashRequest(items, shippingAddress, placedAt));
		for (;;) {
			const existing = await this.replay(customerId, key, requestHash);
			if (existing) return { order: existing, created: false };
			const at = now();
			const created = placedAt ?? at;
			const doc: OrderDoc = {
				_id: newId(),
				customerId,
				...(idemKey ? { idemKey, requestHash } : {}),
				requested: items,
				items: [],
				totalCents: 0,
				status: "pending",
				pending: true,
				statusHistory: [{ status: "pending", at: created }],
				shippingAddress,
				...(checkout ? { checkout: checkout.request } : {}),
				createdAt: created,
				updatedAt: at,
			};
			try {
				return { order: await this.deps.orders.insert(doc), created: true };
			} catch (err) {
				if (!idemKey || !isDuplicateKeyError(err)) throw err;
			}
		}
	}

	/**
	 * The customer's order for this Idempotency-Key, if any: one key space
	 * per customer, which POST /api/orders and checkout share. 422 when the
	 * key came with another request.
	 */
	async replay(customerId: string, key: string | undefined, requestHash: string | undefined): Promise<OrderDoc | null> {
		if (key === undefined) return null;
		const existing = await this.deps.orders.findOne({ idemKey: `${customerId}:${key}` });
		if (existing && existing.requestHash !== requestHash)
			throw new UnprocessableError("This Idempotency-Key was sent before with another body", { field: "Idempotency-Key" }, "IDEMPOTENCY_KEY_REUSED");
		return existing;
	}

	/** Reserve the stock of a pending order, then confirm it (or, for a checkout, hold it awaiting payment), or cancel it. */
	async place(via: Via, order: OrderDoc): Promise<OrderDoc> {
		crashPoint(order.checkout ? "checkout.after-open" : "place.after-open");
		let lines: ReservedLine[];
		try {
			lines = (await products.reserve(via, order._id, order.requested ?? [])).lines;
		} catch (err) {
			return this.placementFailed(via, order, err as Errors.MoleculerError);
		}
		crashPoint(order.checkout ? "checkout.after-reserve" : "place.after-reserve");
		const confirmed = await this.confirm(via, order, lines);
		if (confirmed) return confirmed;
		// A cancellation or the settler got there first: answer the order as it is, if it still is one.
		const now = await this.deps.orders.findById(order._id);
		if (!now || now.status === "pending") throw notPlaced(order);
		return now;
	}

	/**
	 * Cancel: flag the order (so it cannot ship meanwhile), give the stock
	 * back (exactly once: products keys it by order id), then move it.
	 * A crash between the steps leaves the flag, which the settler finishes.
	 */
	async cancel(via: Via, order: OrderDoc, reason: CancelReason): Promise<OrderDoc> {
		if (!order.cancelling) {
			const flagged = await this.deps.orders.updateMany({ _id: order._id, status: { $in: CANCELLABLE } }, { $set: { cancelling: true, cancelReason: reason } });
			if (flagged !== 1) throw notCancellable((await this.reload(order)).status);
			crashPoint("cancel.after-flag");
		}
		return this.releaseAndCancel(via, order, reason, "cancel.after-release");
	}

	protected async releaseAndCancel(via: Via, order: OrderDoc, reason: CancelReason, point: CrashPoint): Promise<OrderDoc> {
		await products.release(via, order._id);
		crashPoint(point);
		const done = await this.finishCancel(via, order, reason);
		if (done.status !== "cancelled") throw notCancellable(done.status);
		return done;
	}

	/** An admin's move along the state machine. */
	async move(via: Via, order: OrderDoc, to: OrderStatus): Promise<OrderDoc> {
		if (!canMove(order.status, to) || to === "awaiting_payment") throw invalidMove(order.status, to);
		if (order.status === "awaiting_payment" && to === "confirmed")
			throw new ConflictError("An order awaiting payment is confirmed when it is paid (mark it paid through payments)", "PAYMENT_REQUIRED", { from: order.status, to });
		if (to === "cancelled") return this.cancel(via, order, "CANCELLED_BY_ADMIN");
		if (to === "confirmed") return this.confirmHeld(via, order);
		const moved = await this.transition(via, order._id, order.status, to, {}, { cancelling: { $exists: false } });
		if (!moved) throw invalidMove((await this.reload(order)).status, to);
		return moved;
	}

	/** Resolve pending orders, finish cancellations left by a crash or a lost answer; resend unsent statuses. */
	async recoverStale(broker: Via): Promise<void> {
		if (pausesAt("settle.before-round")) await pause();
		const via = settlerVia(broker);
		const cutoff = new Date(Date.now() - this.deps.settlement.pendingTimeoutMs).toISOString();
		const stale = (query: Query) => this.deps.orders.find({ query: { ...query, updatedAt: { $lte: cutoff } } });
		const [pending, cancelling] = await Promise.all([stale({ pending: true, cancelling: { $exists: false } }), stale({ cancelling: true })]);
		for (const order of pending) await this.attempt(`resolve pending order ${order._id}`, () => this.resolvePending(via, order));
		for (const order of await stale({ outbox: true }))
			await this.attempt(`publish the status of order ${order._id}`, async () => {
				await this.beforeResend(via, order);
				await this.publishStatus(order);
			});
		for (const order of cancelling) {
			await this.attempt(`finish cancelling order ${order._id}`, async () => {
				await products.release(via, order._id);
				// Claimed by an abandoned placement (no reason): it goes; a customer's or admin's cancellation is finished.
				if (order.status === "pending" && !order.cancelReason) await this.discard(order);
				else await this.finishCancel(via, order, order.cancelReason ?? "CANCELLED_BY_CUSTOMER");
			});
		}
	}

	/**
	 * A pending order is confirmed if products holds its reservation; else it
	 * was never placed (nor announced) and is abandoned.
	 */
	async resolvePending(via: Via, order: OrderDoc): Promise<void> {
		const r = await products.reservation(via, order._id);
		if (r.state === "reserved") await this.confirm(via, order, r.lines);
		else await this.abandon(via, order);
	}

	/** What the settler finishes of a move a crash cut before its status was announced, before it announces it (nothing here; checkout's hold empties its cart). */
	protected async beforeResend(_via: Via, _order: OrderDoc): Promise<void> {}

	/** Hand the order's status to the durable channel, then clear its outbox mark (unless a newer move set it). */
	async publishStatus(order: OrderDoc): Promise<void> {
		await this.deps.publish({ order: this.deps.toPublic(order), cancelReason: order.cancelReason });
		crashPoint("status.after-publish");
		await this.deps.orders.updateMany({ _id: order._id, statusHistory: { $size: order.statusHistory.length } }, { $unset: { outbox: true } });
	}

	/**
	 * Products refused or did not answer: the order was not placed. A refused
	 * order is not an order (nothing of it stays, the key may be sent again);
	 * one products did not answer is released first, or left to the settler.
	 */
	private async placementFailed(via: Via, order: OrderDoc, err: Errors.MoleculerError): Promise<OrderDoc> {
		if (isRefusal(err?.type)) {
			crashPoint("place.after-refusal");
			await this.discard(order);
			throw err;
		}
		if (err?.type === REJECTION.closed) {
			// A cancellation or the settler closed it first: answer the order as it is now, if it is one.
			const now = await this.deps.orders.findById(order._id);
			if (now && now.status !== "pending") return now;
		} else {
			try {
				// The settler may have placed it meanwhile (products answered it, not us): confirmed, or held awaiting payment, it is placed.
				const placed = await this.abandon(via, order);
				if (placed && (placed.status === "confirmed" || placed.status === "awaiting_payment")) return placed;
			} catch (releaseErr) {
				this.deps.logger.warn(`Order ${order._id} stays pending until the settler can reach products`, (releaseErr as Error).message);
			}
		}
		throw notPlaced(order);
	}

	/**
	 * A pending order that was not placed: claimed first (the cancelling
	 * flag, which a confirmation respects, so the settler and the request
	 * cannot confirm it and give its stock back both), its reservation
	 * closed, then it goes. Answers the order as it is when it was no longer
	 * pending (confirmed meanwhile), else null.
	 */
	protected async abandon(via: Via, order: OrderDoc): Promise<OrderDoc | null> {
		const claimed = await this.deps.orders.updateMany({ _id: order._id, status: "pending" }, { $set: { cancelling: true } });
		if (claimed !== 1) return this.deps.orders.findById(order._id);
		crashPoint("place.after-claim");
		await products.release(via, order._id);
		await this.discard(order);
		return null;
	}

	/** A pending order that was never placed goes: it was never announced. */
	private async discard(order: OrderDoc): Promise<void> {
		await this.deps.orders.removeMany({ _id: order._id, status: "pending" });
	}

	private confirm(via: Via, order: OrderDoc, lines: ReservedLine[]): Promise<OrderDoc | null> {
		if (order.checkout) return this.hold(via, order, lines);
		const items: OrderLine[] = lines.map(l => ({ ...l, lineTotalCents: l.unitPriceCents * l.quantity }));
		const totalCents = items.reduce((sum, l) => sum + l.lineTotalCents, 0);
		return this.transition(via, order._id, "pending", "confirmed", { items, totalCents }, { cancelling: { $exists: false } });
	}

	/** A checkout's reserved lines become its hold (./payment-hold.ts); a node without checkout refuses. */
	protected hold(_via: Via, order: OrderDoc, _lines: ReservedLine[]): Promise<OrderDoc | null> {
		return Promise.reject(new Error(`Order ${order._id} is a checkout; this placement cannot hold it`));
	}

	/** An admin may confirm a pending order only when products already holds its stock. */
	private async confirmHeld(via: Via, order: OrderDoc): Promise<OrderDoc> {
		const r = await products.reservation(via, order._id);
		const confirmed = r.state === "reserved" ? await this.confirm(via, order, r.lines) : null;
		if (!confirmed) throw new ConflictError("The order's stock is not reserved", "RESERVATION_NOT_HELD", { reservation: r.state });
		return confirmed;
	}

	private async finishCancel(via: Via, order: OrderDoc, reason: CancelReason): Promise<OrderDoc> {
		for (const from of CANCELLABLE) {
			const moved = await this.transition(via, order._id, from, "cancelled", { cancelReason: reason });
			if (moved) return moved;
		}
		return this.reload(order);
	}

	/**
	 * Compare-and-set of the status, in one update that also records the
	 * move, marks the outbox and drops what the move ends (pending and the
	 * requested items, and cancelling for a cancellation). Answers the
	 * order as it now is; announces after the answer.
	 */
	protected async transition(via: Via, id: string, from: OrderStatus, to: OrderStatus, fields: Partial<OrderDoc> = {}, guard: Query = {}): Promise<OrderDoc | null> {
		const at = now();
		const unset: Record<string, true> = to === "cancelled" ? { pending: true, requested: true, cancelling: true } : { pending: true, requested: true };
		if (to !== "awaiting_payment") unset.awaitingPayment = true;
		const order = await this.deps.orders.updateOne(
			{ _id: id, status: from, ...guard },
			{ $set: { ...fields, status: to, outbox: true, updatedAt: at }, $unset: unset, $push: { statusHistory: { status: to, at } } },
		);
		if (!order) return null;
		crashPoint("status.after-move");
		this.announce(via, order, from);
		return order;
	}

	/** `order.created` when an order leaves pending, `order.updated` on every move; the durable status message. */
	private announce(via: Via, order: OrderDoc, from: OrderStatus): void {
		const payload = { order: this.deps.toPublic(order) };
		setImmediate(() => {
			if (from === "pending") void via.emit("order.created", payload);
			void via.emit("order.updated", payload);
			this.publishStatus(order).catch((err: Error) => this.deps.logger.warn(`Status of order ${order._id} not published yet; the settler retries`, err.message));
		});
	}

	protected async reload(order: OrderDoc): Promise<OrderDoc> {
		return (await this.deps.orders.findById(order._id)) ?? order;
	}

	protected async attempt(what: string, step: () => Promise<unknown>): Promise<void> {
		try {
			await step();
		} catch (err) {
			this.deps.logger.warn(`Could not ${what}`, (err as Error).message);
		}
	}
}
