import { Errors } from "moleculer";
import type Stripe from "stripe";
import type { PaymentMismatchMessage } from "../../lib/contracts/channels";
import { UnprocessableError } from "../../lib/contracts/errors";
import type { Payment } from "../../lib/contracts/payments";
import type { PaymentBook, Caller } from "./book";
import { paymentView } from "./documents";
import type { StripeProvider } from "./providers";

/** The events the shop acts on; any other is acknowledged and ignored. */
const HANDLED = new Set(["payment_intent.amount_capturable_updated", "payment_intent.succeeded", "payment_intent.payment_failed"]);

export interface WebhookAnswer {
	received: true;
	/** What the event changed: `ignored` for an event of no concern, a repeat, or one that came late. */
	payment: Payment | "ignored";
}

/**
 * Stripe's webhook: the signature over the raw body first (a bad one is a
 * 400 and changes nothing), then the event applied through the book, whose
 * moves only go forward: an event sent twice, late or out of order changes
 * nothing twice. An amount or currency that is not the payment's is
 * refused (422) and handed to `mismatch` (an alert, the operators' mail)
 * first, each time the provider sends it.
 */
export async function handleStripeEvent(
	via: Caller,
	book: PaymentBook,
	stripe: StripeProvider,
	raw: { body?: string; signature?: string },
	mismatch: (refused: PaymentMismatchMessage) => Promise<void>,
): Promise<WebhookAnswer> {
	let event: Stripe.Event;
	try {
		if (raw.body === undefined || !raw.signature) throw new Error("no signature");
		event = stripe.verify(raw.body, raw.signature);
	} catch {
		throw new Errors.MoleculerClientError("The webhook's signature does not verify", 400, "INVALID_SIGNATURE");
	}
	if (!HANDLED.has(event.type)) return { received: true, payment: "ignored" };
	const intent = event.data.object as Stripe.PaymentIntent;
	const p = await book.find(String(intent.metadata?.orderId ?? ""));
	if (!p || p.intentId !== intent.id) return { received: true, payment: "ignored" };
	const amount = event.type === "payment_intent.amount_capturable_updated" ? intent.amount_capturable : intent.amount_received;
	if (event.type !== "payment_intent.payment_failed" && (amount !== p.amountCents || intent.currency !== p.currency.toLowerCase())) {
		const message = `Stripe reported ${amount} ${intent.currency} for order ${p.orderId}, which expects ${p.amountCents} ${p.currency}`;
		await mismatch({
			orderId: p.orderId,
			paymentId: p._id,
			eventId: event.id,
			expectedCents: p.amountCents,
			expectedCurrency: p.currency,
			receivedCents: amount,
			currency: intent.currency,
			message,
		});
		throw new UnprocessableError("The event's amount is not the payment's", [{ field: "amount", type: "equal", message: "The amount does not match the order." }], "PAYMENT_AMOUNT_MISMATCH");
	}
	const before = p.rev;
	const after =
		event.type === "payment_intent.succeeded"
			? await book.capture(via, p, amount)
			: event.type === "payment_intent.amount_capturable_updated"
				? await book.authorise(via, p, amount)
				: await book.fail(via, p);
	return { received: true, payment: after.rev === before ? "ignored" : paymentView(after) };
}
