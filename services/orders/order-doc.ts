import type { IndexSpec, Doc } from "../../lib/db/adapter";
import type { Migration } from "../../lib/db/formats";
import type { CancelReason, ReserveItem } from "../../lib/contracts/reservations";
import type { AftercareField, Order } from "../../lib/contracts/types";

/** An order as orders stores it: the public shape under `_id`, with the saga's own fields (payment and fulfilment fields absent until first set). */
export interface OrderDoc extends Doc, Omit<Order, "id" | AftercareField>, Partial<Pick<Order, AftercareField>> {
	/** `<customerId>:<Idempotency-Key>`, unique. */
	idemKey?: string;
	/** The items as the client asked for them, while pending: products answers with the lines, which replace them. */
	requested?: ReserveItem[];
	/** With an Idempotency-Key, what the client asked for (items and address): the key sent again with another body is refused. */
	requestHash?: string;
	cancelReason?: CancelReason;
	/** Set while a cancellation is under way: the order cannot ship meanwhile; the settler finishes it. */
	cancelling?: true;
	/** Set while pending: the settler finds its few orders without indexing every status. */
	pending?: true;
	/** A status move not yet handed to the durable channel; the settler resends it. */
	outbox?: true;
	/** A checkout order: what the client asked for beyond the items (services/orders/checkout.ts). */
	checkout?: CheckoutRequest;
	/** Set while awaiting payment: the settler finds the orders to expire without indexing every status. */
	awaitingPayment?: true;
}

/** What a checkout asked beyond its items: how to price the hold, and the total the client showed. */
export interface CheckoutRequest {
	shippingMethod: string;
	expectedTotalCents: number;
	/** The cart's version checkout read: once the order awaits payment, the cart is emptied unless it changed since (absent on orders from before it was kept). */
	cartVersion?: string;
}

/** How a checkout's reserved lines become its hold: the order's fields, or a refusal (the total changed meanwhile). */
export type HoldOutcome = { fields: Partial<OrderDoc> } | { refused: Error };

/** The orders collection's indexes. */
export const ORDER_INDEXES: IndexSpec[] = [
	{ field: "idemKey", unique: true, sparse: true },
	{ field: "customerId" },
	// Pages of every order are read in this index's order, not sorted whole (lib/db/nedb-adapter.ts).
	{ field: "createdAt", sorted: true },
	// Sparse flags, set only while true: the settler finds its few orders without indexing every status.
	{ field: "pending", sparse: true },
	{ field: "cancelling", sparse: true },
	{ field: "outbox", sparse: true },
	{ field: "awaitingPayment", sparse: true },
];

/**
 * The orders store's formats after the first: each brings every stored
 * order to the shape the code reads (lib/db/formats.ts runs them at start).
 */
export const ORDER_MIGRATIONS: readonly Migration[] = [
	{
		to: 2,
		description: "orders gain their payment and fulfilment: unpaid, nothing paid, no payment history, not shipped, no returns",
		async up({ collection }) {
			await collection.updateMany({ paymentStatus: { $exists: false } }, { $set: { paymentStatus: "unpaid", paidCents: 0, paymentHistory: [] } });
			await collection.updateMany({ fulfilment: { $exists: false } }, { $set: { fulfilment: null } });
			await collection.updateMany({ returns: { $exists: false } }, { $set: { returns: [] } });
		},
	},
];
