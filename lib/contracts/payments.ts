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
