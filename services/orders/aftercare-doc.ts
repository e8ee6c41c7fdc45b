import type { IndexSpec, Query } from "../../lib/db/adapter";
import type { ReturnLine } from "../../lib/contracts/payments";
import type { Order } from "../../lib/contracts/types";
import type { OrderDoc } from "./placement";
import { requestDigest } from "./placement-rules";

/* The order's documents after placement (./aftercare.ts): what it keeps for its payment, its shipping and its returns, and how returns are guarded. */

/** What the order keeps beside placement's fields for its payment, its shipping and its returns. */
export interface AftercareDoc extends OrderDoc {
	/** The payment's change count last applied (PaymentUpdate.version). */
	paymentVersion?: number;
	/** How many entries of paymentHistory were handed to the durable channel. */
	paymentPublished?: number;
	/** Payment changes or a fulfilment change not yet handed to the channel; the settler resends them. */
	paymentOutbox?: true;
	fulfilmentOutbox?: true;
	/** A return recorded whose refund or restock may not be done; the settler finishes it. */
	returnPending?: true;
	/** How many of `returns` are finished (refunded and restocked): the ones after are what finishing does. */
	returnsDone?: number;
	/** The Idempotency-Keys returns were recorded under (one per return at most), with their request's hash. */
	returnKeys?: Array<{ key: string; hash: string; returnId: string }>;
}

export const AFTERCARE_INDEXES: IndexSpec[] = [
	{ field: "paymentOutbox", sparse: true },
	{ field: "fulfilmentOutbox", sparse: true },
	{ field: "returnPending", sparse: true },
];

/** The same return asked again gives the same hash (lines in any order). */
export function hashReturn(lines: ReturnLine[], refundCents: number | undefined): string {
	return requestDigest([[...lines].sort((a, b) => a.productId.localeCompare(b.productId)).map(l => [l.productId, l.quantity, l.restock]), refundCents ?? null]);
}

/** At most this many returns per order: each is a refund that payments does not refuse for its count (and a record on the order). */
export const MAX_RETURNS = 20;

/** The order holds `n` returns (none: no list, or an empty one, as the format migration left orders stored before returns). */
export const returnsGuard = (n: number): Query => (n === 0 ? { $or: [{ returns: { $exists: false } }, { returns: { $size: 0 } }] } : { returns: { $size: n } });

/** What an order shows of its payment and returns when it was stored before they existed: unpaid, unreturned. */
export const AFTERCARE_DEFAULTS = { paymentStatus: () => "unpaid" as const, paidCents: () => 0, paymentHistory: () => [], returns: () => [] } satisfies { [K in keyof Order]?: () => Order[K] };

/** An order as clients see it, whatever it was stored with (AFTERCARE_DEFAULTS). */
export function withAftercareDefaults(order: Order): Order {
	for (const [field, made] of Object.entries(AFTERCARE_DEFAULTS)) Reflect.set(order, field, Reflect.get(order, field) ?? made());
	return order;
}
