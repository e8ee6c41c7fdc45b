import { ApiError } from "./api.js";
import { byId, el, money, showError } from "./format.js";

const TOKEN_KEY = "shop.cart-token";

/** A guest's cart token, kept across reloads (localStorage); null once merged or gone. */
export function guestCartToken() {
	return localStorage.getItem(TOKEN_KEY);
}

export function forgetGuestCart() {
	localStorage.removeItem(TOKEN_KEY);
}

/** The headers that reach a guest's cart: give them to the guest's Api. */
export function cartHeaders() {
	const token = guestCartToken();
	return token ? { "x-cart-token": token } : {};
}

/**
 * The cart panel. A guest's cart is reached through its token (started on
 * the first item added); a signed-in customer's through their sign-in.
 * `onChange(cart)` runs after each answer.
 */
export function createCart(api, { guest, onChange = () => {} }) {
	const list = byId("cart-lines");
	const error = byId("cart-error");
	const status = byId("cart-status");
	let cart = null;

	function line(item) {
		const id = `cart-quantity-${item.productId}`;
		const name = item.name ?? item.sku ?? "A product no longer sold";
		return el(
			"li",
			{ class: "cart-line", "data-product-id": item.productId },
			el("span", {}, name, el("br"), el("small", { class: "muted" }, `${money(item.unitPriceCents)} each${item.available ? "" : " · not available in this quantity"}`)),
			el("span", { class: "num" }, money(item.lineTotalCents)),
			el(
				"span",
				{ class: "form-actions" },
				el("label", { for: id, class: "visually-hidden" }, `Quantity of ${name}`),
				el("input", { id, type: "number", min: 1, max: 1000, step: 1, value: item.quantity, inputmode: "numeric", onchange: event => setQuantity(item, event.currentTarget.value) }),
				el(
					"button",
					{
						type: "button",
						class: "secondary",
						"aria-label": `Remove ${name} from the cart`,
						onclick: () => change(api.delete(`/cart/items/${encodeURIComponent(item.productId)}`), `${name} removed.`),
					},
					"Remove",
				),
			),
		);
	}

	function show(next) {
		cart = next;
		const lines = cart?.lines ?? [];
		list.replaceChildren(...lines.map(line));
		byId("cart-empty").hidden = lines.length > 0;
		byId("cart-total").textContent = lines.length ? `Items: ${money(cart.itemsCents)}` : "";
		byId("cart-guest-note").hidden = !guest || lines.length === 0;
		onChange(cart);
	}

	async function change(request, done) {
		showError(error, "");
		try {
			show(await request);
			status.textContent = done;
		} catch (err) {
			showError(error, err.message);
		}
	}

	function setQuantity(item, value) {
		const quantity = Number(value);
		if (!Number.isInteger(quantity) || quantity < 1) return change(api.delete(`/cart/items/${encodeURIComponent(item.productId)}`), "Line removed.");
		return change(api.patch(`/cart/items/${encodeURIComponent(item.productId)}`, { quantity }), "Quantity changed.");
	}

	async function load() {
		if (guest && !guestCartToken()) return show(null);
		try {
			show(await api.get("/cart"));
		} catch (err) {
			// A guest cart that expired: start afresh with the next item.
			if (guest && err instanceof ApiError && err.status === 404) {
				forgetGuestCart();
				return show(null);
			}
			showError(error, `Could not load your cart: ${err.message}`);
		}
	}

	async function add(product) {
		if (guest && !guestCartToken()) {
			try {
				const { token } = await api.post("/cart");
				localStorage.setItem(TOKEN_KEY, token);
			} catch (err) {
				showError(error, `Could not start a cart: ${err.message}`);
				return;
			}
		}
		await change(api.post("/cart/items", { productId: product.id, quantity: 1 }), `${product.name} added to your cart.`);
	}

	return { load, add, current: () => cart };
}
