import type { CallingOptions, LoggerInstance } from "moleculer";
import { isDuplicateKeyError, type DbAdapter } from "../../lib/db/adapter";
import { newId } from "../../lib/db/ids";
import { ConflictError } from "../../lib/contracts/errors";
import { crashPoint } from "../../lib/infra/crash-points";
import type { PaymentProvider, PaymentStatus } from "../../lib/contracts/payments";
import type { Order } from "../../lib/contracts/types";
import type { Provider, ProviderPayment } from "./providers";
import { MAX_REFUNDS, paymentUpdate, reference, refundable, refundKey, type PaymentDoc, type RefundRecord } from "./documents";
import { assertPayable, referenceMismatch } from "./refusals";

export { PAYMENT_INDEXES, type PaymentDoc } from "./documents";

export interface Caller {
	call<T>(action: string, params?: object, opts?: CallingOptions): Promise<T>;
}

export interface BookDeps {
	payments: DbAdapter<PaymentDoc>;
	providers: Partial<Record<PaymentProvider, Provider>>;
	currency: string;
	logger: LoggerInstance;
}

const now = () => new Date().toISOString();

/**
 * The payments ledger. A payment's every write is one compare-and-set on
 * its revision that also marks it for orders (`sync`); orders applies each
 * version once. A refund is recorded `issuing` before the provider is
 * asked (with an idempotency key per refund), then `issued`: a crash
 * anywhere leaves a mark that the settler finishes exactly once.
 */
export class PaymentBook {
	constructor(private readonly deps: BookDeps) {}

	provider(name: PaymentProvider): Provider {
		const provider = this.deps.providers[name];
		if (!provider) throw new ConflictError(`The ${name} provider is not configured`, "PROVIDER_NOT_CONFIGURED");
		return provider;
	}

	find(orderId: string): Promise<PaymentDoc | null> {
		return this.deps.payments.findOne({ orderId });
	}

	/** The order's payment as it would start: what a read answers before anything is stored. */
	draft(order: Order, provider: PaymentProvider = "manual"): PaymentDoc {
		const at = now();
		return {
			_id: newId(),
			orderId: order.id,
			customerId: order.customerId,
			provider,
			status: "unpaid",
			amountCents: order.totalCents,
			currency: this.deps.currency,
			capturedCents: 0,
			refundedCents: 0,
			reference: reference(order.id),
			refunds: [],
			history: [],
			rev: 0,
			createdAt: at,
			updatedAt: at,
		};
	}

	/** The order's payment, stored on first need (manual unless asked otherwise); one stored unpaid while its order was pending (before that was refused) takes the order's total. */
	async ensure(order: Order, provider: PaymentProvider = "manual", read?: PaymentDoc): Promise<PaymentDoc> {
		const existing = read ?? (await this.find(order.id));
		if (existing) return existing.status === "unpaid" && existing.amountCents !== order.totalCents ? this.write(existing, { amountCents: order.totalCents }) : existing;
		const doc = this.draft(order, provider);
		try {
			return await this.deps.payments.insert(doc);
		} catch (err) {
			if (!isDuplicateKeyError(err)) throw err;
			return (await this.find(order.id))!;
		}
	}

	/** A customer chooses how to pay an unpaid order; stripe opens its PaymentIntent (once: the key is the payment's, so opened again after a crash it is the same one). */
	async start(order: Order, provider: PaymentProvider): Promise<PaymentDoc> {
		this.provider(provider);
		assertPayable(order);
		let p = await this.ensure(order, provider);
		if (p.status !== "unpaid" && p.status !== "failed") throw new ConflictError(`This order's payment is ${p.status}`, "PAYMENT_NOT_OPEN", { status: p.status });
		if (p.provider !== provider) p = await this.write(p, { provider });
		if (provider === "stripe" && !p.intentId) {
			const opened = await this.provider("stripe").open(this.view(p));
			crashPoint("stripe.after-open");
			p = await this.write(p, opened);
		}
		return p;
	}

	/**
	 * An admin records a manual payment; the reference, when given, must be
	 * the payment's. A payment not stored yet is stored captured, in one
	 * write (as `capture` would leave it, marked for orders).
	 */
	async markPaid(via: Caller, order: Order, ref?: string): Promise<PaymentDoc> {
		assertPayable(order);
		const stored = await this.find(order.id);
		if (!stored) {
			const draft = this.draft(order);
			if (ref !== undefined && ref !== draft.reference) throw referenceMismatch(ref);
			const history = [{ status: "paid" as const, at: draft.createdAt, amountCents: draft.amountCents }];
			const captured = await this.deps.payments.insert({ ...draft, status: "paid", capturedCents: draft.amountCents, history, sync: true }).catch((err: Error) => {
				if (isDuplicateKeyError(err)) return null; // stored meanwhile: decided below on the stored one
				throw err;
			});
			if (captured) {
				crashPoint("capture.after-record");
				return this.handOn(via, captured);
			}
		}
		const p = await this.ensure(order, "manual", stored ?? undefined);
		if (p.provider !== "manual") throw new ConflictError("This order is paid through stripe: its payment is recorded from the provider's events", "NOT_MANUAL");
		if (ref !== undefined && ref !== p.reference) throw referenceMismatch(ref);
		if (p.status !== "unpaid" && p.status !== "failed") throw new ConflictError(`This order's payment is already ${p.status}`, "ALREADY_PAID", { status: p.status });
		return this.capture(via, p, p.amountCents);
	}

	/** Record an authorisation (stripe), then hand it to orders, which captures it unless the order is cancelled. */
	authorise(via: Caller, p: PaymentDoc, amountCents: number): Promise<PaymentDoc> {
		return this.onFresh(p, async p => {
			if (p.status !== "unpaid" && p.status !== "failed") return p;
			return this.handOn(via, await this.change(p, "authorised", amountCents, {}));
		});
	}

	/** Record a capture (once: only from unpaid, authorised or failed), then pay the order. */
	capture(via: Caller, p: PaymentDoc, amountCents: number): Promise<PaymentDoc> {
		return this.onFresh(p, async p => {
			if (p.capturedCents > 0 || !["unpaid", "authorised", "failed"].includes(p.status)) return p;
			const captured = await this.change(p, "paid", amountCents, { capturedCents: amountCents });
			crashPoint("capture.after-record");
			return this.handOn(via, captured);
		});
	}

	fail(via: Caller, p: PaymentDoc): Promise<PaymentDoc> {
		return this.onFresh(p, async p => {
			if (p.status !== "unpaid" && p.status !== "authorised") return p;
			return this.handOn(via, await this.change(p, "failed", 0, {}));
		});
	}

	/** Refund `amountCents` under `refundId` (idempotent: the same id refunds once); an admin's refunds are bounded, the shop's own (a cancellation, a return) are not refused for their count. */
	async refund(via: Caller, p: PaymentDoc, amountCents: number, refundId: string, { byAdmin = false } = {}): Promise<PaymentDoc> {
		if (!p.refunds.some(r => r.id === refundId)) {
			const room = refundable(p);
			if (amountCents > room) throw new ConflictError(`At most ${room} cents can be refunded`, "REFUND_EXCEEDS_CAPTURED", { refundableCents: room });
			if (byAdmin && p.refunds.filter(r => r.byAdmin ?? true).length >= MAX_REFUNDS) throw new ConflictError(`A payment takes at most ${MAX_REFUNDS} refunds`, "TOO_MANY_REFUNDS");
			const record: RefundRecord = { id: refundId, amountCents, state: "issuing", at: now(), key: refundKey(p._id, refundId), byAdmin };
			p = await this.write(p, { refunds: [...p.refunds, record], issuing: true });
			crashPoint("refund.after-intent");
		}
		return this.issue(via, p, refundId);
	}

	/** A return's refund (once per return): what it asks, or what is left when an admin refunded part since the return was recorded. Answers what it refunds. */
	async refundReturn(via: Caller, p: PaymentDoc, amountCents: number, returnId: string): Promise<number> {
		const refundId = `return-${returnId}`;
		const after = await this.onFresh(p, p => {
			const amount = p.refunds.find(r => r.id === refundId)?.amountCents ?? Math.min(amountCents, refundable(p));
			return amount > 0 ? this.refund(via, p, amount, refundId) : Promise.resolve(p);
		});
		return after.refunds.find(r => r.id === refundId)?.amountCents ?? 0;
	}

	/** The order was cancelled (or expired): an authorisation is voided, what was captured is refunded. */
	async settleCancelled(via: Caller, p: PaymentDoc): Promise<PaymentDoc> {
		if (p.status === "authorised") {
			await this.provider(p.provider).void(this.view(p));
			crashPoint("void.after-call");
			return this.handOn(via, await this.change(p, "unpaid", 0, {}));
		}
		const left = refundable(p);
		if (left > 0) return this.refund(via, p, left, `cancel-${p._id}-${p.refunds.length}`);
		for (const r of p.refunds.filter(r => r.state === "issuing")) p = await this.issue(via, p, r.id);
		return p;
	}

	/** Finish what a crash or a lost answer left: refunds being issued, changes orders has not seen. */
	async recover(via: Caller, cutoff: string): Promise<void> {
		const stale = (flag: string) => this.deps.payments.find({ query: { [flag]: true, updatedAt: { $lte: cutoff } } });
		for (const p of await stale("issuing")) {
			await this.attempt(`issue the refunds of payment ${p._id}`, async () => {
				let current = p;
				for (const r of p.refunds.filter(r => r.state === "issuing")) current = await this.issue(via, current, r.id);
			});
		}
		for (const p of await stale("sync")) await this.attempt(`hand payment ${p._id} to orders`, () => this.syncToOrder(via, p));
	}

	/**
	 * Hand the payment's state to orders, then act on the order's answer: a
	 * paid order awaiting payment is confirmed (or, expired meanwhile,
	 * refunded), a cancelled one settled, an authorised one captured.
	 */
	async syncToOrder(via: Caller, p: PaymentDoc): Promise<PaymentDoc> {
		const order = await via.call<Order>("orders.applyPayment", paymentUpdate(p));
		crashPoint("payment.after-apply");
		let cancelled = order.status === "cancelled";
		if (!cancelled && order.status === "awaiting_payment" && p.status === "paid") cancelled = !(await this.confirm(via, order));
		if (cancelled && (p.status === "authorised" || refundable(p) > 0)) return this.settleCancelled(via, p);
		if (!cancelled && p.status === "authorised") {
			await this.provider(p.provider).capture(this.view(p));
			crashPoint("capture.after-call");
		}
		await this.deps.payments.updateMany({ _id: p._id, rev: p.rev }, { $unset: { sync: true } });
		return p;
	}

	/**
	 * After a committed change: hand it to orders now if it can be. The answer
	 * is the change's result either way; when orders cannot be reached, the
	 * payment keeps its `sync` mark and the settler hands it on.
	 */
	private async handOn(via: Caller, p: PaymentDoc): Promise<PaymentDoc> {
		try {
			return await this.syncToOrder(via, p);
		} catch (err) {
			this.deps.logger.warn(`Payment ${p._id} not handed to orders yet; the settler does it`, (err as Error).message);
			return p;
		}
	}

	view(p: PaymentDoc): ProviderPayment {
		return { id: p._id, orderId: p.orderId, amountCents: p.amountCents, currency: p.currency, intentId: p.intentId };
	}

	/** Checkout's order awaiting payment is confirmed once paid; false when it expired first (then it is refunded). */
	private async confirm(via: Caller, order: Order): Promise<boolean> {
		try {
			await via.call("orders.confirmPaid", { id: order.id });
			return true;
		} catch (err) {
			if ((err as { type?: string }).type === "ORDER_EXPIRED") return false;
			throw err;
		}
	}

	/** Ask the provider for a recorded refund (idempotent per refund id), then record it issued and hand it to orders. */
	private async issue(via: Caller, p: PaymentDoc, refundId: string): Promise<PaymentDoc> {
		const record = p.refunds.find(r => r.id === refundId)!;
		if (record.state === "issued") return p;
		const providerRefundId = await this.provider(p.provider).refund(this.view(p), { id: refundId, key: record.key ?? `refund-${refundId}` }, record.amountCents);
		crashPoint("refund.after-issue");
		// The money has moved: the record is written on the payment as it is now (never a "try again", whose new refund id would refund twice).
		const recorded = await this.onFresh(p, async p => {
			if (p.refunds.find(r => r.id === refundId)?.state === "issued") return p;
			const refundedCents = p.refundedCents + record.amountCents;
			const refunds = p.refunds.map(r => (r.id === refundId ? { ...r, state: "issued" as const, providerRefundId } : r));
			const status: PaymentStatus = refundedCents >= p.capturedCents ? "refunded" : "partially_refunded";
			const still = refunds.some(r => r.state === "issuing");
			return this.change(p, status, record.amountCents, { refundedCents, refunds }, still ? {} : { issuing: true });
		});
		crashPoint("refund.after-record");
		return this.handOn(via, recorded);
	}

	/** A provider's event decided on the payment as it is now: a copy read before another write is read again (a repeat then changes nothing). */
	private async onFresh(p: PaymentDoc, step: (p: PaymentDoc) => Promise<PaymentDoc>): Promise<PaymentDoc> {
		for (let attempt = 1; ; attempt++) {
			try {
				return await step(p);
			} catch (err) {
				if ((err as { type?: string }).type !== "PAYMENT_CHANGED" || attempt >= 3) throw err;
				p = (await this.deps.payments.findById(p._id)) ?? p;
			}
		}
	}

	/** A status change: recorded in the history, marked for orders. */
	private change(p: PaymentDoc, status: PaymentStatus, amountCents: number, fields: Partial<PaymentDoc>, unset: Record<string, true> = {}): Promise<PaymentDoc> {
		const history = [...p.history, { status, at: now(), amountCents }];
		return this.write(p, { ...fields, status, history, sync: true }, unset);
	}

	/** One compare-and-set on the revision; a lost race is a 409 the caller may send again. */
	private async write(p: PaymentDoc, fields: Partial<PaymentDoc>, unset: Record<string, true> = {}): Promise<PaymentDoc> {
		const updated = await this.deps.payments.updateOne(
			{ _id: p._id, rev: p.rev },
			{ $set: { ...fields, rev: p.rev + 1, updatedAt: now() }, ...(Object.keys(unset).length ? { $unset: unset } : {}) },
		);
		if (!updated) throw new ConflictError("The payment changed meanwhile; try again", "PAYMENT_CHANGED");
		return updated;
	}

	private async attempt(what: string, step: () => Promise<unknown>): Promise<void> {
		try {
			await step();
		} catch (err) {
			this.deps.logger.warn(`Could not ${what}`, (err as Error).message);
		}
	}
}
