import type { CheckoutTotals, PricedLine, PricingRules, ShippingMethod } from "../../lib/contracts/checkout";
import { UnprocessableError } from "../../lib/contracts/errors";

/** A line to price: a product's unit price now, and the quantity. */
export interface LineToPrice {
	productId: string;
	quantity: number;
	unitPriceCents: number;
}

export interface Priced {
	lines: PricedLine[];
	totals: CheckoutTotals;
	shippingMethod: ShippingMethod;
}

/** `num / den` rounded half up, for non-negative integers; in BigInt, since a line (10^12 cents) times a rate passes 2^53. */
function divRound(num: bigint, den: bigint): number {
	return Number((2n * num + den) / (2n * den));
}

/** The tax in an amount: on top of it (exclusive), or the part of it that the rate makes (inclusive); rounded half up. */
export function taxOf(amountCents: number, rateBp: number, included: boolean): number {
	const amount = BigInt(amountCents);
	const rate = BigInt(rateBp);
	if (!included) return divRound(amount * rate, 10_000n);
	return amountCents - divRound(amount * 10_000n, 10_000n + rate);
}

/**
 * The shop's calculator (pure, like Vendure's OrderCalculator): each line
 * priced and taxed on its own (tax rounded per line), shipping from the
 * method's flat rate or free from its threshold (compared with the items
 * total as the customer sees it) and taxed as a line of its own at the
 * destination's rate; the total includes shipping and tax. With prices
 * tax-inclusive, the tax is the part of the prices the rate makes and the
 * total is items plus shipping.
 */
export class PriceCalculator {
	constructor(private readonly rules: PricingRules) {}

	/** The destination's tax rate; 422 for a country the shop does not ship to. */
	rateFor(country: string): number {
		if (!Object.hasOwn(this.rules.taxRatesBp, country))
			throw new UnprocessableError(
				"The shop does not ship to this country",
				[{ field: "shippingAddress.country", type: "enumValue", message: `The shop ships to ${Object.keys(this.rules.taxRatesBp).join(", ")}.` }],
				"UNKNOWN_COUNTRY",
			);
		return this.rules.taxRatesBp[country];
	}

	/** The shipping method of that id; 422 when the table has none. */
	method(id: string): ShippingMethod {
		const method = this.rules.shippingMethods.find(m => m.id === id);
		if (!method)
			throw new UnprocessableError(
				"No shipping method has this id",
				[{ field: "shippingMethod", type: "enumValue", message: `The shipping methods are ${this.rules.shippingMethods.map(m => m.id).join(", ")}.` }],
				"UNKNOWN_SHIPPING_METHOD",
			);
		return method;
	}

	price(items: readonly LineToPrice[], country: string, shippingMethodId: string): Priced {
		const rate = this.rateFor(country);
		const method = this.method(shippingMethodId);
		const included = this.rules.pricesIncludeTax;
		const lines = items.map(i => {
			const lineTotalCents = i.unitPriceCents * i.quantity;
			return { productId: i.productId, quantity: i.quantity, unitPriceCents: i.unitPriceCents, lineTotalCents, taxCents: taxOf(lineTotalCents, rate, included) };
		});
		const itemsCents = lines.reduce((sum, l) => sum + l.lineTotalCents, 0);
		const shippingCents = method.freeOverCents !== undefined && itemsCents >= method.freeOverCents ? 0 : method.priceCents;
		const taxCents = lines.reduce((sum, l) => sum + l.taxCents, 0) + taxOf(shippingCents, rate, included);
		const totalCents = itemsCents + shippingCents + (included ? 0 : taxCents);
		return { lines, shippingMethod: method, totals: { currency: this.rules.currency, itemsCents, shippingCents, taxCents, totalCents, pricesIncludeTax: included } };
	}
}
