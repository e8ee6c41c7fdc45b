import type { PricingRules } from "../../lib/contracts/checkout";
import { PriceCalculator, taxOf } from "../../services/orders/pricing";

/** The checkout calculator, driven directly: every figure is worked out by hand in the test. */

const RULES: PricingRules = {
	currency: "EUR",
	pricesIncludeTax: false,
	taxRatesBp: { DE: 1900, US: 0, FR: 550 },
	shippingMethods: [
		{ id: "standard", priceCents: 499, freeOverCents: 5000 },
		{ id: "express", priceCents: 1499 },
	],
};

const line = (productId: string, unitPriceCents: number, quantity: number) => ({ productId, unitPriceCents, quantity });

describe("PriceCalculator", () => {
	it("adds tax on top, rounded on each line, and taxes shipping as a line", () => {
		const priced = new PriceCalculator(RULES).price([line("a", 1999, 3), line("b", 333, 1)], "DE", "standard");
		// a: 5997, tax 1139.43 → 1139; b: 333, tax 63.27 → 63; shipping is free (5997 + 333 ≥ 5000).
		expect(priced.lines).toEqual([
			{ productId: "a", unitPriceCents: 1999, quantity: 3, lineTotalCents: 5997, taxCents: 1139 },
			{ productId: "b", unitPriceCents: 333, quantity: 1, lineTotalCents: 333, taxCents: 63 },
		]);
		expect(priced.totals).toEqual({ currency: "EUR", itemsCents: 6330, shippingCents: 0, taxCents: 1202, totalCents: 7532, pricesIncludeTax: false });
	});

	it("charges the flat rate under the threshold, and its tax", () => {
		const { totals } = new PriceCalculator(RULES).price([line("a", 1000, 2)], "DE", "standard");
		// 2000 + 499 shipping; tax 380 + 94.81 → 95.
		expect(totals).toMatchObject({ itemsCents: 2000, shippingCents: 499, taxCents: 475, totalCents: 2974 });
	});

	it("gives free shipping at exactly the threshold, and never for a method without one", () => {
		const calc = new PriceCalculator(RULES);
		expect(calc.price([line("a", 2500, 2)], "US", "standard").totals).toMatchObject({ shippingCents: 0, totalCents: 5000 });
		expect(calc.price([line("a", 2499, 2)], "US", "standard").totals).toMatchObject({ shippingCents: 499, totalCents: 5497 });
		expect(calc.price([line("a", 100_000, 1)], "US", "express").totals).toMatchObject({ shippingCents: 1499, totalCents: 101_499 });
	});

	it("with tax-inclusive prices, takes the tax out of each line and the total stays items plus shipping", () => {
		const { lines, totals } = new PriceCalculator({ ...RULES, pricesIncludeTax: true }).price([line("a", 1190, 1), line("b", 999, 1)], "DE", "express");
		// 1190 = 1000 net + 190; 999 / 1.19 = 839.496 → 839 net, tax 160; shipping 1499 / 1.19 = 1259.66 → 1260 net, tax 239.
		expect(lines.map(l => l.taxCents)).toEqual([190, 160]);
		expect(totals).toEqual({ currency: "EUR", itemsCents: 2189, shippingCents: 1499, taxCents: 190 + 160 + 239, totalCents: 2189 + 1499, pricesIncludeTax: true });
	});

	it("rounds half up, with a fractional rate", () => {
		expect(taxOf(10, 500, false)).toBe(1); // 0.5 → 1
		expect(taxOf(9, 550, false)).toBe(0); // 0.495 → 0
		expect(taxOf(1_000_000_000_000, 1900, false)).toBe(190_000_000_000); // past 2^53 in between
		expect(taxOf(105, 500, true)).toBe(5);
	});

	it("refuses a country without a tax rate, and an unknown shipping method, naming the field (422)", () => {
		const calc = new PriceCalculator(RULES);
		expect(() => calc.price([line("a", 1, 1)], "ZZ", "standard")).toThrow(expect.objectContaining({ code: 422, type: "UNKNOWN_COUNTRY" }));
		expect(() => calc.price([line("a", 1, 1)], "__proto__", "standard")).toThrow(expect.objectContaining({ code: 422 }));
		expect(() => calc.price([line("a", 1, 1)], "DE", "teleport")).toThrow(
			expect.objectContaining({ code: 422, type: "UNKNOWN_SHIPPING_METHOD", data: [expect.objectContaining({ field: "shippingMethod" })] }),
		);
	});
});
