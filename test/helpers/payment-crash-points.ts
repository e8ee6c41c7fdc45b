import type { CrashPoint } from "../../lib/infra/crash-points";

/** The crash points of payments, fulfilment and returns: test/integration/payment-crash-points.spec.ts has a test for each. */
export const PAYMENT_CRASH_POINTS = [
	"capture.after-record",
	"refund.after-intent",
	"refund.after-issue",
	"refund.after-record",
	"payment.after-apply",
	"return.after-record",
	"return.after-refund",
	"return.after-restock",
	"aftercare.after-publish",
	"fulfil.after-move",
	"paid.after-move",
	"paid.after-publish",
	"stripe.after-open",
	"capture.after-call",
	"void.after-call",
] as const satisfies readonly CrashPoint[];

export type PaymentCrashPoint = (typeof PAYMENT_CRASH_POINTS)[number];
