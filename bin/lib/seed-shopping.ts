/**
 * The seed's shopping of today, done as the customers and a guest do it
 * through the API: each checkout fills the customer's cart, asks for the
 * quote, checks out at its total (Idempotency-Key) and chooses a bank
 * transfer; the paid ones are marked paid by the admin with the transfer's
 * reference, then shipped. Carts are left with lines: a guest's (its token
 * is reported, the only way to reach it) and some customers'.
 */
import type { Customer, Order, Product } from "../../lib/contracts/types";
import type { Payment } from "../../lib/contracts/payments";
import { CARTS, CHECKOUTS, CUSTOMERS, DEMO_PASSWORD, ORDERS, trackingOf, type SeedCheckout } from "./seed-data";
import { ApiError, ShopClient } from "./shop-client";

export interface ShoppingCounts {
	checkouts: { created: number; awaitingPayment: number; refused: number };
	carts: { filled: number; refused: number; guestToken?: string };
}

type Log = (line: string) => void;
type Lines = ReadonlyArray<[sku: string, quantity: number]>;

interface CartAnswer {
	lines: Array<{ productId: string; quantity: number }>;
}

/** What one run shops with: the admin's client, the catalog by sku, and the seed customers who had no orders before it. */
export interface Shopping {
	admin: ShopClient;
	products: ReadonlyMap<string, Product>;
	fresh: ReadonlySet<string>;
	counts: ShoppingCounts;
	log: Log;
}

/** A refusal the seed reports and goes on after: stock or prices another catalog does not have, a customer who does not use the demo password. */
function refused(err: unknown): err is ApiError {
	return err instanceof ApiError && [401, 409, 422].includes(err.status);
}

/** Each fresh customer signed in once, with the demo password; undefined (and said) when that is not their password. */
function signedIn(shop: Shopping): (email: string) => Promise<ShopClient | undefined> {
	const clients = new Map<string, Promise<ShopClient | undefined>>();
	const signIn = async (email: string) => {
		const client = new ShopClient(shop.admin.baseUrl);
		try {
			client.token = (await client.post<{ token: string; customer: Customer }>("/auth/login", { email, password: DEMO_PASSWORD })).token;
			return client;
		} catch (err) {
			if (!(err instanceof ApiError && err.status === 401)) throw err;
			shop.log(`  ${email} does not sign in with the demo password: their checkout and cart are left out.`);
			return undefined;
		}
	};
	return email => {
		if (!clients.has(email)) clients.set(email, signIn(email));
		return clients.get(email)!;
	};
}

/** Add the lines the cart lacks (a run cut short and started again adds no unit twice). */
async function fill(client: ShopClient, shop: Shopping, items: Lines, headers: Record<string, string> = {}): Promise<void> {
	const cart = await client.request<CartAnswer>("GET", "/cart", undefined, headers);
	for (const [sku, quantity] of items) {
		const product = shop.products.get(sku);
		if (!product || cart.lines.some(l => l.productId === product.id)) continue;
		await client.post("/cart/items", { productId: product.id, quantity }, headers);
	}
}

async function checkOut(client: ShopClient, shop: Shopping, spec: SeedCheckout, index: number): Promise<void> {
	const { address } = CUSTOMERS.find(c => c.email === spec.customer)!;
	const body = { shippingAddress: address, shippingMethod: spec.shippingMethod };
	const before = await client.get<CartAnswer>("/cart");
	if (before.lines.length) {
		shop.log(`  the checkout of ${spec.customer} is left out: their cart already holds lines the seed did not put there.`);
		shop.counts.checkouts.refused++;
		return;
	}
	await fill(client, shop, spec.items);
	const quote = await client.post<{ totalCents: number; currency: string }>("/checkout/quote", body);
	const order = await client.post<Order>("/checkout", { ...body, expectedTotalCents: quote.totalCents, currency: quote.currency }, { "idempotency-key": `demo-seed-checkout-${index + 1}` });
	const payment = await client.post<Payment>(`/orders/${order.id}/payment`, { provider: "manual" });
	shop.counts.checkouts.created++;
	if (spec.status === "awaiting_payment") {
		shop.counts.checkouts.awaitingPayment++;
		return;
	}
	await shop.admin.post(`/orders/${order.id}/mark-paid`, { reference: payment.reference });
	if (spec.status === "shipped" || spec.status === "delivered") await shop.admin.post(`/orders/${order.id}/ship`, trackingOf(ORDERS.length + index));
	if (spec.status === "delivered") await shop.admin.post(`/orders/${order.id}/deliver`, {});
}

/**
 * The checkouts, then the carts, of the customers who had no orders
 * before this run; the guest's cart only in a run that gave some customer
 * their orders, so a second run adds none.
 */
export async function seedShopping(shop: Shopping): Promise<void> {
	const customer = signedIn(shop);
	for (const [index, spec] of CHECKOUTS.entries()) {
		if (!shop.fresh.has(spec.customer)) continue;
		const client = await customer(spec.customer);
		if (!client) {
			shop.counts.checkouts.refused++;
			continue;
		}
		try {
			await checkOut(client, shop, spec, index);
		} catch (err) {
			if (!refused(err)) throw err;
			shop.log(`  checkout ${index + 1} of ${spec.customer} left out: ${err.message}`);
			shop.counts.checkouts.refused++;
		}
	}
	for (const cart of CARTS) {
		if (cart.customer ? !shop.fresh.has(cart.customer) : shop.fresh.size === 0) continue;
		try {
			if (cart.customer) {
				const client = await customer(cart.customer);
				if (!client) {
					shop.counts.carts.refused++;
					continue;
				}
				await fill(client, shop, cart.items);
			} else {
				const guest = new ShopClient(shop.admin.baseUrl);
				const { token } = await guest.post<{ token: string }>("/cart");
				await fill(guest, shop, cart.items, { "x-cart-token": token });
				shop.counts.carts.guestToken = token;
			}
			shop.counts.carts.filled++;
		} catch (err) {
			if (!refused(err)) throw err;
			shop.log(`  the cart of ${cart.customer ?? "a guest"} left out: ${err.message}`);
			shop.counts.carts.refused++;
		}
	}
}
