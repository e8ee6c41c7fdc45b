/**
 * What orders, payments, notifications and the gateway agree on about an
 * order's money and its shipping (docs/contract.md).
 * Payment and fulfilment are fields of their own beside the status: the
 * status machine does not multiply.
 */

export const PAYMENT_STATUSES = ["unpaid", "authorised", "paid", "partially_refunded", "refunded", "failed"] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** The payment providers a shop can use. */
export const PAYMENT_PROVIDERS = ["manual", "stripe"] as const;
export type PaymentProvider = (typeof PAYMENT_PROVIDERS)[number];

/** An order's shipping record: set when it ships, completed when it is delivered. */
export interface Fulfilment {
	carrier: string;
	trackingNumber: string;
	shippedAt: string;
	deliveredAt: string | null;
}

/** One change of an order's payment, as the order records it: (orderId, index in paymentHistory) identifies it. */
export interface PaymentChange {
	status: PaymentStatus;
	at: string;
	/** The amount this change moved: captured for `paid`, refunded for a refund, authorised for `authorised`, 0 otherwise. */
	amountCents: number;
}

/** A line of a return: how many of a product came back, and whether they go back into stock. */
export interface ReturnLine {
	productId: string;
	quantity: number;
	restock: boolean;
}

/** A return recorded on a delivered order. */
export interface OrderReturn {
	id: string;
	items: ReturnLine[];
	refundCents: number;
	at: string;
}

/** What payments hands orders after each change of a payment: applied when `version` is newer than the order's. */
export interface PaymentUpdate {
	orderId: string;
	provider: PaymentProvider;
	status: PaymentStatus;
	/** Captured minus refunded. */
	paidCents: number;
	/** The payment's change count: orders applies each version once, in order. */
	version: number;
	/** Every change of the payment so far, oldest first: the order's paymentHistory. */
	history: PaymentChange[];
}

/** A payment as clients see it (GET /api/orders/:id/payment). */
export interface Payment {
	id: string;
	orderId: string;
	provider: PaymentProvider;
	status: PaymentStatus;
	amountCents: number;
	capturedCents: number;
	refundedCents: number;
	/** For bank transfers: the reference the customer writes on the transfer, which the admin matches. */
	reference: string;
	/** Stripe: the PaymentIntent's client secret, for the customer's browser to confirm the card; null for manual. */
	clientSecret: string | null;
	refunds: Array<{ id: string; amountCents: number; state: "issuing" | "issued"; at: string }>;
	createdAt: string;
	updatedAt: string;
}
