import type { CheckoutFields } from "../../lib/contracts/checkout";
import { TOTAL_CENTS } from "../../lib/contracts/params";
import type { OrderDoc } from "./order-doc";

const LINE = { type: "string", trim: true, min: 1, max: 200 } as const;

/** A shipping address checkout accepts: every field required, the country an ISO 3166-1 alpha-2 code (the tax table says which). */
export const SHIPPING_ADDRESS = {
	type: "object",
	props: {
		line1: LINE,
		city: { ...LINE, max: 100 },
		postalCode: { type: "string", trim: true, min: 1, max: 20 },
		country: { type: "string", pattern: /^[A-Z]{2}$/, messages: { stringPattern: "The 'country' field must be an ISO 3166-1 alpha-2 code such as US or DE." } },
	},
} as const;

export const QUOTE_PARAMS = {
	shippingAddress: SHIPPING_ADDRESS,
	shippingMethod: { type: "string", min: 1, max: 32 },
} as const;

export const CHECKOUT_PARAMS = {
	...QUOTE_PARAMS,
	/** The total the client showed; a different total is 409. Bounded (a safe integer): 50 lines of 1000 units of at most 10^9 cents, doubled by tax, and shipping. */
	expectedTotalCents: TOTAL_CENTS,
	/** The currency the client showed: three capital letters; one that is not the shop's is 422. */
	currency: { type: "string", pattern: /^[A-Z]{3}$/ },
} as const;

/** What a checkout order shows beyond an order's fields, once it holds its stock (it has a payment deadline then). */
const CHECKOUT_FIELDS: ReadonlyArray<keyof CheckoutFields> = ["currency", "itemsCents", "shippingCents", "taxCents", "pricesIncludeTax", "shippingMethod", "paymentDeadline"];

export const checkoutFieldsOf = (doc: OrderDoc): ReadonlyArray<keyof CheckoutFields> => (doc.paymentDeadline === undefined ? [] : CHECKOUT_FIELDS);
