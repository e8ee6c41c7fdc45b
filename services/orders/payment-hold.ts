import { crashPoint } from "../../lib/infra/crash-points";
import { ConflictError } from "../../lib/contracts/errors";
import type { ReservedLine } from "../../lib/contracts/reservations";
import type { HoldOutcome, OrderDoc } from "./order-doc";
import { Placement, settlerVia, type PlacementDeps, type Via } from "./placement";

const now = () => new Date().toISOString();

/**
 * Placement with checkout's steps: a checkout order's reserved stock held
 * awaiting payment until its deadline, the payment that confirms it, and
 * the expiry that gives the stock back. `pricer` prices a hold from the
 * reserved lines (./checkout.ts).
 */
export class PaymentHold extends Placement {
	constructor(
		deps: PlacementDeps,
		private readonly pricer: (order: OrderDoc, lines: ReservedLine[]) => HoldOutcome,
	) {
		super(deps);
	}

	/** The settler's round, then the unpaid orders past their deadline expire (not the stock ledger's own recovery: that one gives back takes without an outcome). */
	override async recoverStale(broker: Via): Promise<void> {
		const via = settlerVia(broker);
		await super.recoverStale(broker);
		for (const order of await this.overdue()) await this.attempt(`expire order ${order._id}`, () => this.expire(via, order));
	}

	/**
	 * An unpaid checkout order past its deadline: flagged (only while it
	 * still awaits payment, so a payment confirmed first wins, and a flagged
	 * order cannot be confirmed paid), its stock given back exactly once,
	 * then cancelled (`PAYMENT_EXPIRED`). The settler finishes a cut expiry
	 * as it finishes any flagged cancellation. Null when it was paid or
	 * cancelled first.
	 */
	async expire(via: Via, order: OrderDoc): Promise<OrderDoc | null> {
		const flagged = await this.deps.orders.updateMany(
			{ _id: order._id, status: "awaiting_payment", paymentDeadline: { $lte: now() }, cancelling: { $exists: false } },
			{ $set: { cancelling: true, cancelReason: "PAYMENT_EXPIRED" } },
		);
		if (flagged !== 1) return null;
		crashPoint("expire.after-flag");
		return this.releaseAndCancel(via, order, "PAYMENT_EXPIRED", "expire.after-release");
	}

	/**
	 * Payment confirmed (orders.confirmPaid, called by payments): awaiting
	 * payment → confirmed. Idempotent: an order already confirmed (or gone
	 * further) is answered as it is; one expired or cancelled, or flagged
	 * for it, is 409 ORDER_EXPIRED (payments refunds what it captured).
	 */
	async confirmPaid(via: Via, order: OrderDoc): Promise<OrderDoc> {
		const moved = order.status === "awaiting_payment" ? await this.transition(via, order._id, "awaiting_payment", "confirmed", {}, { cancelling: { $exists: false } }) : null;
		if (moved) return moved;
		const now = await this.reload(order);
		if (now.status === "cancelled" || now.cancelling) throw new ConflictError("The order expired or was cancelled before its payment was confirmed", "ORDER_EXPIRED", { status: now.status });
		if (now.status === "pending") throw new ConflictError("The order does not await payment yet", "ORDER_NOT_AWAITING_PAYMENT", { status: now.status });
		if (now.status === "awaiting_payment") return this.confirmPaid(via, now);
		return now;
	}

	/** The orders whose payment deadline passed, unpaid: the settler expires them. */
	overdue(): Promise<OrderDoc[]> {
		return this.deps.orders.find({ query: { awaitingPayment: true, paymentDeadline: { $lte: now() }, cancelling: { $exists: false } } });
	}

	/**
	 * A checkout's stock is reserved: the order awaits payment, priced from
	 * the reserved lines (products' prices at the reserve). When that total
	 * is not the one the client showed (a price changed in between), the
	 * order is abandoned, its stock given back, and the checkout refused.
	 */
	protected override async hold(via: Via, order: OrderDoc, lines: ReservedLine[]): Promise<OrderDoc | null> {
		const outcome = this.pricer(order, lines);
		if ("fields" in outcome) {
			const held = await this.transition(via, order._id, "pending", "awaiting_payment", outcome.fields, { cancelling: { $exists: false } });
			if (held?.status === "awaiting_payment") {
				crashPoint("checkout.after-hold");
				await this.emptyCart(via, held);
			}
			return held;
		}
		const now = await this.abandon(via, order);
		if (now && now.status !== "pending") return now;
		throw outcome.refused;
	}

	/** A checkout held but not announced (a crash between its hold and its cart): its cart is emptied before the settler announces it and clears the mark that finds it. */
	protected override async beforeResend(via: Via, order: OrderDoc): Promise<void> {
		if (order.status === "awaiting_payment") await this.emptyCart(via, order);
	}

	/** The cart the checkout was made from, emptied unless it changed since checkout read it (then the customer decides); a carts that cannot be reached leaves it as it is. */
	private async emptyCart(via: Via, order: OrderDoc): Promise<void> {
		const version = order.checkout?.cartVersion;
		if (!version) return;
		await via.call("carts.checkedOut", { customerId: order.customerId, version }).catch((err: Error) => this.deps.logger.warn(`The cart of order ${order._id} was not emptied`, err.message));
	}
}
