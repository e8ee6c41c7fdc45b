/**
 * What carts, orders (checkout) and payments agree on about a checkout:
 * the shop's pricing rules (from the settings) and the money an order
 * carries beside its total. Money is integer cents in the shop's one
 * currency.
 */

/**
 * ISO 4217 currencies with two minor digits: the contract counts money in
 * cents, so a currency of zero (JPY) or three (BHD) decimals cannot be the
 * shop's.
 */
export const TWO_DECIMAL_CURRENCIES = [
	"AED", "AUD", "BGN", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EGP", "EUR", "GBP", "HKD", "ILS", "INR", "MAD", "MXN", "MYR",
	"NOK", "NZD", "PHP", "PLN", "RON", "SAR", "SEK", "SGD", "THB", "TRY", "TWD", "USD", "ZAR",
] as const; // prettier-ignore
export type Currency = (typeof TWO_DECIMAL_CURRENCIES)[number];

/** A shipping method of the settings' table: a flat rate, free when the items reach `freeOverCents`. */
export interface ShippingMethod {
	id: string;
	priceCents: number;
	/** Free shipping from this items total (inclusive); none when absent. */
	freeOverCents?: number;
}

/** The shop's pricing rules, from the settings. */
export interface PricingRules {
	currency: Currency;
	/** Catalog prices include tax (the tax is the part of them the rate makes), or tax is added on top. */
	pricesIncludeTax: boolean;
	/** Tax rate per destination country (ISO 3166-1 alpha-2), in basis points: 2000 = 20 %. A country not listed is not shipped to. */
	taxRatesBp: Readonly<Record<string, number>>;
	shippingMethods: readonly ShippingMethod[];
}

/** An order line as checkout prices it: the line's tax rounded on the line. */
export interface PricedLine {
	productId: string;
	quantity: number;
	unitPriceCents: number;
	lineTotalCents: number;
	taxCents: number;
}

/** The money of a checkout order, beside its `totalCents` (which includes shipping and tax). */
export interface CheckoutTotals {
	currency: Currency;
	itemsCents: number;
	shippingCents: number;
	taxCents: number;
	totalCents: number;
	pricesIncludeTax: boolean;
}

/** The fields a checkout order carries beyond an order's (null on orders placed by POST /api/orders). */
export interface CheckoutFields extends Omit<CheckoutTotals, "totalCents"> {
	shippingMethod: string;
	/** When an unpaid order expires and its stock goes back (ISO-8601). */
	paymentDeadline: string;
}

/** Why orders refuses a checkout, as the error's `type`. */
export const CHECKOUT_REFUSAL = {
	/** 409: a price or an availability changed since the cart was read; `data.changes` says what. */
	cartChanged: "CART_CHANGED",
	/** 409: the total the client showed is not the order's; `data` carries both and the breakdown. */
	totalMismatch: "TOTAL_MISMATCH",
	/** 409: nothing to check out. */
	cartEmpty: "CART_EMPTY",
	/** 422: a currency that is not the shop's. */
	currency: "CURRENCY_NOT_ACCEPTED",
	/** 409: payment came for an order that expired or was cancelled (orders.confirmPaid). */
	expired: "ORDER_EXPIRED",
} as const;

/** One change that CART_CHANGED reports. */
export type CartChange =
	| { productId: string; change: "price"; wasCents: number; nowCents: number }
	| { productId: string; change: "unavailable" }
	| { productId: string; change: "stock"; requested: number; available: number };

/** A cart line as carts keeps it: the unit price recorded when the customer last saw it. */
export interface CartLine {
	productId: string;
	quantity: number;
	unitPriceCents: number;
}

/** What orders asks of carts at checkout (`carts.checkoutLines`). */
export interface CheckoutCart {
	cartId: string | null;
	/** The cart's last change: `carts.checkedOut` empties it only if it is still this one. */
	version: string | null;
	lines: CartLine[];
}
