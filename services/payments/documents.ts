import crypto from "crypto";
import type { Doc, IndexSpec } from "../../lib/db/adapter";
import type { Payment, PaymentChange, PaymentProvider, PaymentStatus, PaymentUpdate } from "../../lib/contracts/payments";

export interface RefundRecord {
	id: string;
	amountCents: number;
	state: "issuing" | "issued";
	at: string;
	providerRefundId?: string | null;
	/** The provider's idempotency key: the payment's id and the refund's, since a provider's keys are its account's (a record without one was made when the key was `refund-<id>`, and keeps it). */
	key?: string;
	/** An admin's refund, counted against MAX_REFUNDS (a record stored before this was kept counts as one). */
	byAdmin?: boolean;
}

/** A refund's idempotency key at the provider: unique to the payment, whatever id the refund was given. */
export const refundKey = (paymentId: string, refundId: string) => `refund-${paymentId}-${refundId}`;

/** One payment per order: what was authorised, captured and refunded, and each change in order. */
export interface PaymentDoc extends Doc {
	orderId: string;
	customerId: string;
	provider: PaymentProvider;
	status: PaymentStatus;
	amountCents: number;
	currency: string;
	capturedCents: number;
	refundedCents: number;
	reference: string;
	intentId?: string;
	clientSecret?: string;
	refunds: RefundRecord[];
	history: PaymentChange[];
	/** Bumped by every write: each write is a compare-and-set on it. */
	rev: number;
	/** A change not yet handed to orders; the settler hands it over. */
	sync?: true;
	/** A refund recorded and not yet confirmed issued; the settler issues it (the provider's idempotency key makes it once). */
	issuing?: true;
	createdAt: string;
	updatedAt: string;
}

export const PAYMENT_INDEXES: IndexSpec[] = [
	{ field: "orderId", unique: true },
	{ field: "intentId", unique: true, sparse: true },
	{ field: "sync", sparse: true },
	{ field: "issuing", sparse: true },
];

/** At most this many refunds per payment by admins (POST /orders/:id/refunds); a cancellation's is one more, and orders bounds the returns' (MAX_RETURNS). */
export const MAX_REFUNDS = 20;

/** A bank-transfer reference a person can type (10 characters without look-alikes), the same for an order however often it is asked. */
export const reference = (orderId: string) => `RF${Array.from(crypto.createHash("sha256").update(orderId).digest().subarray(0, 8), b => "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[b % 32]).join("")}`;

/** A payment as clients see it. */
export function paymentView(p: PaymentDoc): Payment {
	return {
		id: p._id,
		orderId: p.orderId,
		provider: p.provider,
		status: p.status,
		amountCents: p.amountCents,
		capturedCents: p.capturedCents,
		refundedCents: p.refundedCents,
		reference: p.reference,
		clientSecret: p.clientSecret ?? null,
		refunds: p.refunds.map(r => ({ id: r.id, amountCents: r.amountCents, state: r.state, at: r.at })),
		createdAt: p.createdAt,
		updatedAt: p.updatedAt,
	};
}

/** What the payment holds: captured less refunded. */
export const net = (p: PaymentDoc) => p.capturedCents - p.refundedCents;
/** Refunds recorded and not yet issued. */
export const issuingCents = (p: PaymentDoc) => p.refunds.filter(r => r.state === "issuing").reduce((s, r) => s + r.amountCents, 0);
/** What can still be refunded: what the payment holds, less the refunds under way. */
export const refundable = (p: PaymentDoc) => net(p) - issuingCents(p);

/** The payment's state as orders applies it (once per version). */
export function paymentUpdate(p: PaymentDoc): PaymentUpdate {
	return { orderId: p.orderId, provider: p.provider, status: p.status, paidCents: net(p), version: p.history.length, history: p.history };
}
