import type { LoggerInstance } from "moleculer";
import { CHECKOUT_REFUSAL, type CartChange, type CheckoutCart, type CheckoutTotals, type PricedLine } from "../../lib/contracts/checkout";
import { ConflictError, UnprocessableError } from "../../lib/contracts/errors";
import type { ReservedLine } from "../../lib/contracts/reservations";
import type { Product, ShippingAddress } from "../../lib/contracts/types";
import type { ShopSettings } from "../../lib/infra/settings";
import type { HoldOutcome, OrderDoc } from "./order-doc";
import type { PaymentHold } from "./payment-hold";
import type { Via } from "./placement";
import { requestDigest } from "./placement-rules";
import { PriceCalculator, type Priced } from "./pricing";

/** What a client sends to price its cart. */
export type QuoteRequest = {
	shippingAddress: ShippingAddress;
	shippingMethod: string;
};

/** What a client sends to check out: the total and currency it showed, so that nothing changes behind its back. */
export type CheckoutRequestBody = QuoteRequest & {
	expectedTotalCents: number;
	currency: string;
};

export interface Quote extends CheckoutTotals {
	shippingMethod: string;
	lines: PricedLine[];
}

export interface CheckoutDeps {
	saga: PaymentHold;
	shop: ShopSettings;
	logger: LoggerInstance;
}

/**
 * Checkout: the signed-in customer's cart becomes an order awaiting
 * payment. The cart's prices are read again from products: a price or an
 * availability that changed since the customer saw the cart is a 409 that
 * says what changed (and the cart then shows the new prices); the total the
 * client showed must be the order's (409), in the shop's currency (422).
 * The order then goes through placement's saga (./payment-hold.ts): stored
 * pending, one reserve, held awaiting payment with its deadline, priced
 * from the reserved lines. An Idempotency-Key shares POST /api/orders'
 * key space.
 */
export class Checkout {
	private readonly calc: PriceCalculator;

	constructor(private readonly deps: CheckoutDeps) {
		this.calc = new PriceCalculator(deps.shop.pricing);
	}

	/** The cart priced for an address and a method; the prices shown become the cart's. */
	async quote(via: Via, customerId: string, req: QuoteRequest): Promise<Quote> {
		this.assertDestination(req);
		const { priced } = await this.priceCart(via, customerId, req, false);
		return quoteOf(priced);
	}

	async checkout(via: Via, customerId: string, key: string | undefined, req: CheckoutRequestBody): Promise<{ order: OrderDoc; created: boolean }> {
		if (req.currency !== this.deps.shop.pricing.currency)
			throw new UnprocessableError(
				`The shop charges in ${this.deps.shop.pricing.currency}`,
				[{ field: "currency", type: "equal", message: `The 'currency' field must be ${this.deps.shop.pricing.currency}.` }],
				CHECKOUT_REFUSAL.currency,
			);
		this.assertDestination(req);
		const hash = hashCheckout(req);
		const replayed = await this.deps.saga.replay(customerId, key, hash);
		if (replayed) return { order: replayed.status === "pending" ? await this.deps.saga.place(via, replayed) : replayed, created: false };
		const { priced, cart } = await this.priceCart(via, customerId, req, true);
		if (priced.totals.totalCents !== req.expectedTotalCents) throw totalMismatch(req.expectedTotalCents, priced.totals);
		const items = cart.lines.map(l => ({ productId: l.productId, quantity: l.quantity }));
		const request = { shippingMethod: req.shippingMethod, expectedTotalCents: req.expectedTotalCents, ...(cart.version === null ? {} : { cartVersion: cart.version }) };
		const { order, created } = await this.deps.saga.open(customerId, key, items, req.shippingAddress, undefined, { request, hash });
		// The hold empties the cart (./payment-hold.ts), here or in the settler's round that finishes a cut checkout.
		const placed = order.status === "pending" ? await this.deps.saga.place(via, order) : order;
		return { order: placed, created };
	}

	/** 422 for a country the shop does not ship to or a method it does not have, before anything is read. */
	private assertDestination(req: QuoteRequest): void {
		this.calc.rateFor(req.shippingAddress.country);
		this.calc.method(req.shippingMethod);
	}

	/**
	 * The cart's lines at products' prices now. A line whose product left
	 * the catalog or lacks stock is a change; so is, at checkout (`strict`),
	 * a price other than the one the cart showed: 409 CART_CHANGED, and the
	 * cart records the prices now, so that its next read shows them.
	 */
	private async priceCart(via: Via, customerId: string, req: QuoteRequest, strict: boolean): Promise<{ priced: Priced; cart: CheckoutCart }> {
		const cart = await via.call<CheckoutCart>("carts.checkoutLines", { customerId });
		if (cart.lines.length === 0) throw new ConflictError("The cart is empty", CHECKOUT_REFUSAL.cartEmpty);
		const page = await via.call<{ rows: Product[] }>("products.list", { ids: cart.lines.map(l => l.productId).join(","), pageSize: 100 });
		const catalog = new Map(page.rows.map(p => [p.id, p]));
		const changes = cartChanges(cart, catalog, strict);
		if (changes.some(c => c.change === "price") || (!strict && changes.length === 0)) await this.reprice(via, customerId);
		if (changes.length) throw new ConflictError("The cart changed since it was read; read it again", CHECKOUT_REFUSAL.cartChanged, { changes });
		const lines = cart.lines.map(l => ({ productId: l.productId, quantity: l.quantity, unitPriceCents: catalog.get(l.productId)!.priceCents }));
		return { priced: this.calc.price(lines, req.shippingAddress.country, req.shippingMethod), cart };
	}

	private async reprice(via: Via, customerId: string): Promise<void> {
		await via.call("carts.reprice", { customerId }).catch((err: Error) => this.deps.logger.warn("The cart's prices were not refreshed", err.message));
	}
}

/** What changed between the cart as the customer saw it and the catalog now. */
function cartChanges(cart: CheckoutCart, catalog: ReadonlyMap<string, Product>, withPrices: boolean): CartChange[] {
	const changes: CartChange[] = [];
	for (const line of cart.lines) {
		const product = catalog.get(line.productId);
		if (!product) changes.push({ productId: line.productId, change: "unavailable" });
		else if (product.stock < line.quantity) changes.push({ productId: line.productId, change: "stock", requested: line.quantity, available: product.stock });
		else if (withPrices && product.priceCents !== line.unitPriceCents) changes.push({ productId: line.productId, change: "price", wasCents: line.unitPriceCents, nowCents: product.priceCents });
	}
	return changes;
}

/**
 * How a checkout's reserved lines become its hold: priced at the reserve's
 * prices, with the deadline from now. A total other than the one the
 * client showed (a price changed between the check and the reserve) is
 * refused: the saga gives the stock back.
 */
export function holdPricer(shop: ShopSettings): (order: OrderDoc, lines: ReservedLine[]) => HoldOutcome {
	const calc = new PriceCalculator(shop.pricing);
	return (order, lines) => {
		const request = order.checkout!;
		let priced: Priced;
		try {
			priced = calc.price(lines, order.shippingAddress?.country ?? "", request.shippingMethod);
		} catch (err) {
			return { refused: err as Error };
		}
		if (priced.totals.totalCents !== request.expectedTotalCents) return { refused: totalMismatch(request.expectedTotalCents, priced.totals) };
		const items = lines.map((l, i) => ({ ...l, lineTotalCents: priced.lines[i].lineTotalCents, taxCents: priced.lines[i].taxCents }));
		const { totalCents, ...money } = priced.totals;
		const paymentDeadline = new Date(Date.now() + shop.paymentDeadlineMs).toISOString();
		return { fields: { items, totalCents, ...money, shippingMethod: request.shippingMethod, paymentDeadline, awaitingPayment: true } };
	};
}

function totalMismatch(expectedTotalCents: number, totals: CheckoutTotals): ConflictError {
	return new ConflictError(`The order's total is ${totals.totalCents}, not ${expectedTotalCents}; read the cart again`, CHECKOUT_REFUSAL.totalMismatch, { expectedTotalCents, ...totals });
}

function quoteOf(priced: Priced): Quote {
	return { ...priced.totals, shippingMethod: priced.shippingMethod.id, lines: priced.lines };
}

/** The same checkout request gives the same hash; a POST /api/orders body never gives a checkout's. */
function hashCheckout(req: CheckoutRequestBody): string {
	const { shippingAddress: a } = req;
	return requestDigest(["checkout", [a.line1, a.city, a.postalCode, a.country], req.shippingMethod, req.expectedTotalCents, req.currency]);
}
