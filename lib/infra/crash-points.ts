import { settings } from "./settings";

/**
 * Named crash points: every boundary between two writes that must survive a
 * kill -9 has one. Off unless CRASH_POINT names it (tests only): the process
 * then kills itself there, as abruptly as `kill -9`, and the test restarts
 * it and checks that the settlers finish the work exactly once.
 */
export const CRASH_POINTS = {
	// Placement (services/orders/placement.ts)
	"place.after-open": "the order is stored pending; products has not been asked",
	"place.after-reserve": "products holds the stock; the order is still pending",
	"place.after-refusal": "products refused; the pending order is still there",
	"place.after-claim": "an order that was not placed is claimed for abandoning; its reservation is not closed",
	"status.after-move": "a status move is stored with its outbox mark; the status message is not sent",
	"status.after-publish": "the status message is sent; the outbox mark is still set",
	"cancel.after-flag": "the order is flagged cancelling; its stock is not released",
	"cancel.after-release": "the stock is released; the order is not yet cancelled",
	// Payments (services/payments/book.ts) and the order's side (services/orders/aftercare.ts)
	"capture.after-record": "the payment records its capture; the order is not yet paid",
	"refund.after-intent": "the payment records a refund being issued; the provider was not asked",
	"refund.after-issue": "the provider refunded; the payment does not record it",
	"refund.after-record": "the payment records the refund; the order is not yet updated",
	"payment.after-apply": "the order records the payment's change; the payment still marks it unsynced",
	"paid.after-move": "a checkout order records its payment and moves to confirmed in one write, both outbox marks set; no message is sent",
	"paid.after-publish": "the paid checkout order's status and payment messages are sent; both outbox marks are still set",
	"stripe.after-open": "Stripe opened the payment's PaymentIntent; the payment does not record it",
	"capture.after-call": "the provider was asked to capture an authorisation; the payment still marks the change unsynced",
	"void.after-call": "the provider voided a cancelled order's authorisation; the payment still records it authorised",
	"return.after-record": "the order records the return; nothing is refunded or restocked",
	"return.after-refund": "the return is refunded; its stock is not given back",
	"return.after-restock": "the return's stock is given back; the order still marks the return unfinished",
	"aftercare.after-publish": "a payment or fulfilment message is sent; the order's outbox mark is still set",
	"fulfil.after-move": "a ship or deliver move is stored with its fulfilment record and both outbox marks; neither its status nor its fulfilment message is sent",
	// Checkout (services/orders/checkout.ts, payment-hold.ts), expiry, carts (services/carts/cart-book.ts)
	"checkout.after-open": "a checkout order is stored pending with its shipping method and the total the client showed; products has not been asked",
	"checkout.after-reserve": "products holds the checkout's stock; the order is still pending",
	"checkout.after-hold": "the order awaits payment, its stock held until the deadline; the cart is not emptied",
	"expire.after-flag": "an unpaid order past its deadline is flagged cancelling; its stock is not released",
	"expire.after-release": "the expired order's stock is released; the order still awaits payment",
	"cart.after-merge": "a guest cart's lines are merged into the customer's cart; the guest cart is not removed",
	// The stock ledger (services/products/stock-ledger.ts)
	"reserve.after-take": "the first item is taken; the others and the outcome are not written",
	"reserve.after-failed-outcome": "a failed outcome is stored (stock ran out between the read and the takes); what the attempt took is not given back",
	"reserve.after-refused-outcome": "another attempt of the order stored its outcome first, not counting a take this attempt made after that outcome's marker was cleared; the take is not given back",
	"release.after-claim": "the reservation is releasing; nothing is given back",
	"release.after-give-back": "the first item is given back; the others are not",
	"release.after-all-give-backs": "every item is given back; the reservation is still releasing",
	"recover.after-expiring": "the settler failed an abandoned attempt; its takes are not given back",
	// Stock alerts (services/products/stock-alerts.ts)
	"alert.after-crossing": "a crossing and its message are stored in the product; the message is not sent",
	"alert.after-publish": "the stock alert is sent; it is still in the product's outbox",
	// Consumers of the durable channels
	"analytics.before-apply": "analytics received a status message and has not stored it",
	"alerts.before-raise": "alerts received a message and has not stored the alert",
	// Notifications (services/notifications/)
	"notify.after-event": "an event is stored; none of its deliveries is",
	"notify.after-deliveries": "an event's deliveries are stored; the event is not marked fanned out",
	"deliver.after-claim": "a delivery is taken for an attempt; nothing is sent",
	"deliver.after-send": "a webhook or mail is sent; its delivery is still pending",
	"reset.after-end-earlier": "a new reset was asked for (and answered): the account's earlier reset tokens are ended; the new one is not stored",
	"reset.after-issue": "a new reset token is stored; its mail is not queued",
	"reset.after-consume": "a reset token is used up; the password is not set",
	// Store formats (lib/db/formats.ts), as a node starts
	"format.after-migration": "a migration's writes are done; the store's format record does not say so",
	// npm run restore (bin/lib/data-dir-backup.ts)
	"restore.after-aside": "what DATA_DIR held is moved aside; nothing of the backup is in place",
	"restore.after-first-file": "the backup's first file is in place; the others are not",
} as const;

export type CrashPoint = keyof typeof CRASH_POINTS;

/** Dies here when the settings name this point. */
export function crashPoint(name: CrashPoint): void {
	if (settings.crashPoint === name) process.kill(process.pid, "SIGKILL");
}

/**
 * Named pause points: where a race between two requests can only be
 * entered by chance, a test (PAUSE_POINT) makes the process wait there, so
 * that a second request reaches the same place before the first goes on.
 */
export const PAUSE_POINTS = {
	"reserve.after-read": "a reserve has read its products and taken nothing",
	"settle.before-round": "the orders settler is about to look for stale orders (products' settler goes first meanwhile)",
} as const;

export type PausePoint = keyof typeof PAUSE_POINTS;

const PAUSE_MS = 500;

/** True when the settings name this point; then `await pause()`. Checked synchronously: free when off. */
export function pausesAt(name: PausePoint): boolean {
	return settings.pausePoint === name;
}

export function pause(): Promise<void> {
	return new Promise(resolve => setTimeout(resolve, PAUSE_MS));
}
