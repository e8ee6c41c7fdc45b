import type { CallingOptions, LoggerInstance } from "moleculer";
import type { OrderStatusMessage } from "../../lib/contracts/channels";
import type { DbAdapter, Query } from "../../lib/db/adapter";
import { newId } from "../../lib/db/ids";
import { ConflictError, NotFoundError, UnprocessableError } from "../../lib/contracts/errors";
import { crashPoint } from "../../lib/infra/crash-points";
import type { Fulfilment, OrderReturn, PaymentUpdate, ReturnLine } from "../../lib/contracts/payments";
import type { Order } from "../../lib/contracts/types";
import type { OrderDoc } from "./placement";
import { MAX_RETURNS, hashReturn, returnsGuard, type AftercareDoc } from "./aftercare-doc";
export { AFTERCARE_DEFAULTS, AFTERCARE_INDEXES, MAX_RETURNS, withAftercareDefaults, type AftercareDoc } from "./aftercare-doc";

/** Who the order's side speaks through: the request's context, or the broker for the settler. */
export interface Caller {
	call<T>(action: string, params?: object, opts?: CallingOptions): Promise<T>;
}

export interface AftercareDeps {
	orders: DbAdapter<AftercareDoc>;
	toPublic(doc: OrderDoc): Order;
	publish(message: OrderStatusMessage): Promise<void>;
	/** placement's status message for a move this module made (ship, deliver). */
	publishStatus(doc: OrderDoc): Promise<void>;
	emit(event: string, payload: unknown): void;
	logger: LoggerInstance;
	/** How long a return's answer waits for its refund and restock: well inside the request's own time, so a slow provider cannot turn a recorded return into a timeout. */
	finishWaitMs: number;
}

const now = () => new Date().toISOString();

/** Resolves when `work` settles or after `ms`, whichever is first (the timer is cleared either way). */
async function within(work: Promise<unknown>, ms: number): Promise<void> {
	let timer: NodeJS.Timeout | undefined;
	await Promise.race([work, new Promise<void>(resolve => (timer = setTimeout(resolve, ms)))]);
	clearTimeout(timer);
}

/**
 * The order's life after placement: the payment state that payments hands
 * over (applied once per payment version), the fulfilment record (ship,
 * deliver) and returns. Every change is one conditional update that also
 * marks an outbox; the messages go to the durable channel after it, and
 * the settler resends what a crash left unsent and finishes returns.
 */
export class Aftercare {
	constructor(private readonly deps: AftercareDeps) {}

	/**
	 * Record the payment's state; a version already applied changes nothing.
	 * A payment that pays a checkout order awaiting payment (not flagged by
	 * its expiry) also confirms it, in the same write: no state has the one
	 * without the other (tried first: no read decides it). Answers the order
	 * as it is; 404 for no order.
	 */
	async applyPayment(update: PaymentUpdate): Promise<Order> {
		const { orderId, status, paidCents, version, history } = update;
		const at = now();
		const fresh = { _id: orderId, $or: [{ paymentVersion: { $exists: false } }, { paymentVersion: { $lte: version - 1 } }] };
		const payment = { paymentStatus: status, paidCents, paymentVersion: version, paymentHistory: history, paymentOutbox: true as const, updatedAt: at };
		if (status === "paid") {
			const confirmed = await this.deps.orders.updateOne(
				{ ...fresh, status: "awaiting_payment", cancelling: { $exists: false } },
				{ $set: { ...payment, status: "confirmed", outbox: true }, $unset: { pending: true, requested: true, awaitingPayment: true }, $push: { statusHistory: { status: "confirmed", at } } },
			);
			if (confirmed) {
				crashPoint("paid.after-move");
				this.announce(confirmed, true);
				return this.deps.toPublic(confirmed);
			}
		}
		const applied = await this.deps.orders.updateOne(fresh, { $set: payment });
		if (!applied) return this.deps.toPublic(await this.find(orderId));
		this.announce(applied);
		return this.deps.toPublic(applied);
	}

	async ship(id: string, carrier: string, trackingNumber: string): Promise<Order> {
		const at = now();
		const fulfilment: Fulfilment = { carrier, trackingNumber, shippedAt: at, deliveredAt: null };
		const shipped = await this.deps.orders.updateOne(
			{ _id: id, status: "confirmed", cancelling: { $exists: false } },
			{ $set: { status: "shipped", fulfilment, outbox: true, fulfilmentOutbox: true, updatedAt: at }, $push: { statusHistory: { status: "shipped", at } } },
		);
		if (!shipped) throw cannot("ship", (await this.find(id)).status);
		crashPoint("fulfil.after-move");
		this.announce(shipped, true);
		return this.deps.toPublic(shipped);
	}

	async deliver(id: string): Promise<Order> {
		const order = await this.find(id);
		if (order.status !== "shipped") throw cannot("deliver", order.status);
		const at = now();
		const fulfilment = order.fulfilment ? { ...order.fulfilment, deliveredAt: at } : null;
		const delivered = await this.deps.orders.updateOne(
			{ _id: id, status: "shipped" },
			{ $set: { status: "delivered", fulfilment, outbox: true, ...(fulfilment ? { fulfilmentOutbox: true } : {}), updatedAt: at }, $push: { statusHistory: { status: "delivered", at } } },
		);
		if (!delivered) throw cannot("deliver", (await this.find(id)).status);
		crashPoint("fulfil.after-move");
		this.announce(delivered, true);
		return this.deps.toPublic(delivered);
	}

	/**
	 * A return of some lines of a delivered order: recorded first (with its
	 * refund, at most what the order has paid, and which lines restock),
	 * then refunded and restocked, each step idempotent per return id. Under
	 * an Idempotency-Key the same return sent again is answered as it is
	 * (`created: false`); another body under the key is 422.
	 */
	async recordReturn(via: Caller, id: string, lines: ReturnLine[], refundCents?: number, key?: string): Promise<{ order: Order; created: boolean }> {
		const order = await this.find(id);
		const hash = key === undefined ? undefined : hashReturn(lines, refundCents);
		const sent = key === undefined ? undefined : order.returnKeys?.find(k => k.key === key);
		if (sent && sent.hash !== hash)
			throw new UnprocessableError(
				"This Idempotency-Key was sent before with another body",
				[{ field: "Idempotency-Key", type: "reused", message: "This Idempotency-Key was sent before with another body." }],
				"IDEMPOTENCY_KEY_REUSED",
			);
		if (sent) return { order: this.deps.toPublic(order), created: false };
		if (order.status !== "delivered") throw cannot("record a return of", order.status);
		if ((order.returns?.length ?? 0) >= MAX_RETURNS) throw new ConflictError(`An order takes at most ${MAX_RETURNS} returns`, "TOO_MANY_RETURNS");
		const worth = this.checkReturnable(order, lines);
		if (refundCents !== undefined && refundCents > worth) throw invalid("refundCents", "max", `The refund may not exceed the returned lines' worth (${worth} cents)`);
		const ret: OrderReturn = { id: newId(), items: lines, refundCents: Math.min(refundCents ?? worth, order.paidCents ?? 0), at: now() };
		const count = order.returns?.length ?? 0;
		const keyed = key === undefined ? {} : { returnKeys: { key, hash, returnId: ret.id } };
		const recorded = await this.deps.orders.updateOne(
			{ _id: id, status: "delivered", ...returnsGuard(count) },
			{ $push: { returns: ret, ...keyed }, $set: { returnPending: true, updatedAt: ret.at } },
		);
		if (!recorded) throw new ConflictError("The order changed meanwhile; send the return again", "ORDER_CHANGED");
		crashPoint("return.after-record");
		// Recorded: the answer is the record's, finished now, or later by this attempt or the settler (payments or products away or slow, a lost answer).
		const finishing = this.finishReturns(via, recorded).catch((err: Error) =>
			this.deps.logger.warn(`The return of order ${id} is recorded; the settler finishes its refund and restock`, err.message),
		);
		await within(finishing, this.deps.finishWaitMs);
		return { order: this.deps.toPublic(await this.find(id)), created: true };
	}

	/** Resend unsent messages; finish returns a crash left half done. */
	async recover(via: Caller, cutoff: string): Promise<void> {
		const stale = (query: Query) => this.deps.orders.find({ query: { ...query, updatedAt: { $lte: cutoff } } });
		for (const order of await stale({ returnPending: true })) await this.attempt(`finish the returns of order ${order._id}`, () => this.finishReturns(via, order));
		for (const order of await stale({ paymentOutbox: true })) await this.attempt(`publish the payment of order ${order._id}`, () => this.publishPayment(order));
		for (const order of await stale({ fulfilmentOutbox: true })) await this.attempt(`publish the fulfilment of order ${order._id}`, () => this.publishFulfilment(order));
	}

	/** The returns not finished yet, each in turn: refunded (what payments could), restocked, then counted finished. */
	private async finishReturns(via: Caller, order: AftercareDoc): Promise<void> {
		const returns = order.returns ?? [];
		for (let i = order.returnsDone ?? 0; i < returns.length; i++) {
			const ret = returns[i];
			const refunded =
				ret.refundCents > 0 ? (await via.call<{ refundedCents: number }>("payments.refundReturn", { id: order._id, returnId: ret.id, amountCents: ret.refundCents })).refundedCents : 0;
			crashPoint("return.after-refund");
			const back = ret.items.filter(l => l.restock).map(l => ({ productId: l.productId, quantity: l.quantity }));
			if (back.length) await via.call("products.restockReturn", { returnId: ret.id, items: back });
			crashPoint("return.after-restock");
			await this.returnDone(order._id, i, returns.length, refunded === ret.refundCents ? {} : { [`returns.${i}.refundCents`]: refunded });
		}
	}

	/** Return `i` of `count` finished: counted (never backwards) with the refund made; the last clears the order's mark unless another return came meanwhile. */
	private async returnDone(id: string, i: number, count: number, refund: Record<string, number>): Promise<void> {
		const done = { $set: { returnsDone: i + 1, ...refund } };
		const behind = { $or: [{ returnsDone: { $exists: false } }, { returnsDone: { $lte: i } }] };
		if (i + 1 === count && (await this.deps.orders.updateMany({ _id: id, $and: [returnsGuard(count), behind] }, { ...done, $unset: { returnPending: true } })) === 1) return;
		await this.deps.orders.updateMany({ _id: id, ...behind }, done);
	}

	/** The worth of the returned lines; refuses a product not in the order, or more than was delivered and not yet returned. */
	private checkReturnable(order: AftercareDoc, lines: ReturnLine[]): number {
		if (new Set(lines.map(l => l.productId)).size !== lines.length) throw invalid("items", "unique", "Each productId may appear once");
		let worth = 0;
		lines.forEach((line, i) => {
			const bought = order.items.find(l => l.productId === line.productId);
			if (!bought) throw invalid(`items[${i}].productId`, "exists", "This product is not in the order");
			const returned = (order.returns ?? [])
				.flatMap(r => r.items)
				.filter(l => l.productId === line.productId)
				.reduce((sum, l) => sum + l.quantity, 0);
			if (line.quantity > bought.quantity - returned) throw invalid(`items[${i}].quantity`, "max", `At most ${bought.quantity - returned} of this product can still be returned`);
			worth += line.quantity * bought.unitPriceCents;
		});
		return worth;
	}

	/** Each payment change not yet sent, one message each: the order as it was at that change (its paymentHistory ends with it). */
	private async publishPayment(order: AftercareDoc): Promise<void> {
		const history = await this.sendPayments(order);
		crashPoint("aftercare.after-publish");
		await this.deps.orders.updateMany({ _id: order._id, paymentHistory: { $size: history.length } }, { $set: { paymentPublished: history.length }, $unset: { paymentOutbox: true } });
	}

	/** One message per payment change not yet sent: the order as it was at that change (its paymentHistory ends with it). Answers the history. */
	private async sendPayments(order: AftercareDoc): Promise<PaymentUpdate["history"]> {
		const history = order.paymentHistory ?? [];
		const current = this.deps.toPublic(order);
		for (let i = order.paymentPublished ?? 0; i < history.length; i++) {
			await this.deps.publish({ order: { ...current, paymentStatus: history[i].status, paymentHistory: history.slice(0, i + 1) }, change: "payment" });
		}
		return history;
	}

	/**
	 * A paid move (the status and the payment in one write): the status
	 * message, then the payment's, then one write clears both marks; when
	 * the order changed meanwhile, each mark is cleared by its own guard.
	 */
	private async publishPaidMove(order: AftercareDoc): Promise<void> {
		await this.deps.publish({ order: this.deps.toPublic(order), cancelReason: order.cancelReason });
		const history = await this.sendPayments(order);
		crashPoint("paid.after-publish");
		const both = { _id: order._id, statusHistory: { $size: order.statusHistory.length }, paymentHistory: { $size: history.length } };
		if ((await this.deps.orders.updateMany(both, { $set: { paymentPublished: history.length }, $unset: { outbox: true, paymentOutbox: true } })) === 1) return;
		await this.deps.orders.updateMany({ _id: order._id, statusHistory: { $size: order.statusHistory.length } }, { $unset: { outbox: true } });
		await this.deps.orders.updateMany({ _id: order._id, paymentHistory: { $size: history.length } }, { $set: { paymentPublished: history.length }, $unset: { paymentOutbox: true } });
	}

	private async publishFulfilment(order: AftercareDoc): Promise<void> {
		await this.deps.publish({ order: this.deps.toPublic(order), change: "fulfilment" });
		crashPoint("aftercare.after-publish");
		await this.deps.orders.updateMany({ _id: order._id, updatedAt: order.updatedAt }, { $unset: { fulfilmentOutbox: true } });
	}

	/** Clients see it live (order.updated); the durable messages after the answer. */
	private announce(order: AftercareDoc, statusMoved = false): void {
		setImmediate(() => {
			this.deps.emit("order.updated", { order: this.deps.toPublic(order) });
			const steps: Array<() => Promise<void>> = [];
			// A paid move (./applyPayment): its two messages, their marks cleared in one write.
			const paidMove = statusMoved && order.paymentOutbox && !order.fulfilmentOutbox;
			if (paidMove) steps.push(() => this.publishPaidMove(order));
			else if (statusMoved) steps.push(() => this.deps.publishStatus(order));
			if (order.fulfilmentOutbox) steps.push(() => this.publishFulfilment(order));
			if (order.paymentOutbox && !paidMove) steps.push(() => this.publishPayment(order));
			void (async () => {
				for (const step of steps) await this.attempt(`announce order ${order._id} now; the settler retries`, step);
			})();
		});
	}

	private async find(id: string): Promise<AftercareDoc> {
		const doc = await this.deps.orders.findById(id);
		if (!doc) throw new NotFoundError("Order", id);
		return doc;
	}

	private async attempt(what: string, step: () => Promise<unknown>): Promise<void> {
		try {
			await step();
		} catch (err) {
			this.deps.logger.warn(`Could not ${what}`, (err as Error).message);
		}
	}
}

function cannot(what: string, status: string): ConflictError {
	return new ConflictError(`Cannot ${what} an order that is ${status}`, "INVALID_STATUS_TRANSITION", { status });
}

function invalid(field: string, type: string, message: string): UnprocessableError {
	return new UnprocessableError(message, [{ field, type, message }]);
}
