import type { Currency } from "../../lib/contracts/checkout";
import type { Product } from "../../lib/contracts/types";
import type { CartDoc } from "./cart-book";

export interface CartLineView {
	productId: string;
	sku: string | null;
	name: string | null;
	quantity: number;
	unitPriceCents: number;
	lineTotalCents: number;
	/** False when the product left the catalog or has fewer units than the line asks. */
	available: boolean;
}

/** A cart as clients see it: priced now. Tax and shipping come with an address (POST /api/checkout/quote). */
export interface CartView {
	id: string | null;
	lines: CartLineView[];
	itemsCents: number;
	currency: Currency;
	updatedAt: string;
	expiresAt: string;
}

export function cartView(cart: CartDoc, catalog: ReadonlyMap<string, Product>, currency: Currency): CartView {
	const lines = cart.lines.map(l => {
		const product = catalog.get(l.productId);
		return {
			productId: l.productId,
			sku: product?.sku ?? null,
			name: product?.name ?? null,
			quantity: l.quantity,
			unitPriceCents: l.unitPriceCents,
			lineTotalCents: l.unitPriceCents * l.quantity,
			available: product !== undefined && product.stock >= l.quantity,
		};
	});
	return { id: cart._id || null, lines, itemsCents: lines.reduce((s, l) => s + l.lineTotalCents, 0), currency, updatedAt: cart.updatedAt, expiresAt: cart.expiresAt };
}
