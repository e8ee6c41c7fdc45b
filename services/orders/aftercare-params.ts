import { ID, ORDER_ID, QUANTITY, TOTAL_CENTS } from "../../lib/contracts/params";
import { PAYMENT_PROVIDERS, PAYMENT_STATUSES } from "../../lib/contracts/payments";

/** The order fields clients see beside placement's: payment, fulfilment, returns. */
export const AFTERCARE_FIELDS = ["paymentStatus", "paidCents", "paymentHistory", "fulfilment", "returns"] as const;

const LABEL = { type: "string", trim: true, min: 1, max: 100 } as const;

/** The params of the orders actions for the order's life after placement. */
export const AFTERCARE_PARAMS = {
	ship: { id: ID, carrier: LABEL, trackingNumber: { ...LABEL, max: 64 } },
	deliver: { id: ID },
	recordReturn: {
		id: ID,
		items: {
			type: "array",
			min: 1,
			max: 50,
			items: { type: "object", props: { productId: ID, quantity: QUANTITY, restock: { type: "boolean" } } },
		},
		refundCents: { ...TOTAL_CENTS, optional: true },
	},
	applyPayment: {
		orderId: ORDER_ID,
		provider: { type: "enum", values: PAYMENT_PROVIDERS },
		status: { type: "enum", values: PAYMENT_STATUSES },
		paidCents: TOTAL_CENTS,
		version: { type: "number", integer: true, min: 1, max: 1000 },
		history: {
			type: "array",
			max: 1000,
			items: { type: "object", props: { status: { type: "enum", values: PAYMENT_STATUSES }, at: { type: "string", max: 40 }, amountCents: TOTAL_CENTS } },
		},
	},
} as const;
