import { createCart } from "./cart.js";
import { createCatalogue } from "./catalogue.js";
import { createCheckout } from "./checkout.js";
import { byId } from "./format.js";

/**
 * The customer's shop, for guests and signed-in customers: the catalogue,
 * the cart and, once signed in, checkout, with prices and stock kept
 * current by `live`. A guest who signs in keeps the page: `signIn` moves
 * the shop to their account.
 */
export function startShop(api, { guest, live = null, onPlaced = () => {} }) {
	byId("shop-view").hidden = false;
	let cart = null;
	const catalogue = createCatalogue(api, product => cart.add(product));

	function asCustomer(customerApi, customerLive, placed) {
		let checkout = null;
		cart = createCart(customerApi, { guest: false, onChange: current => checkout?.cartChanged(current) });
		checkout = createCheckout(customerApi, cart, order => {
			cart.load();
			catalogue.load();
			placed(order);
		});
		customerLive.on("product.updated", ({ product }) => catalogue.productChanged(product));
	}

	if (guest) cart = createCart(api, { guest: true });
	else asCustomer(api, live, onPlaced);
	const load = () => Promise.all([catalogue.load(), cart.load()]);
	load();
	return {
		reload: load,
		signIn(customerApi, customerLive, placed) {
			asCustomer(customerApi, customerLive, placed);
			return cart.load();
		},
	};
}
