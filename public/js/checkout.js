import { ApiError } from "./api.js";
import { fieldErrors } from "./field-errors.js";
import { byId, el, money, showError } from "./format.js";
import { showPayment } from "./payment-note.js";

function fact(term, value, attrs = {}) {
	return [el("dt", {}, term), el("dd", attrs, value)];
}

/**
 * Checkout for a signed-in customer: the address and the shipping method
 * priced by the API's quote (items, shipping, tax, total), the order placed
 * for exactly that total, then paid by bank transfer with the reference the
 * API gives. `onPlaced(order)` runs once it is placed.
 */
export function createCheckout(api, cart, onPlaced) {
	const panel = byId("checkout");
	const form = byId("checkout-form");
	const summary = byId("checkout-summary");
	const placeButton = byId("checkout-place");
	const errors = fieldErrors(form, field => form.elements[field.replace(/^shippingAddress\./, "")] ?? null);
	let quote = null;

	function body() {
		const f = form.elements;
		return {
			shippingAddress: { line1: f.line1.value, city: f.city.value, postalCode: f.postalCode.value, country: f.country.value.trim().toUpperCase() },
			shippingMethod: f.shippingMethod.value,
		};
	}

	/** A refusal beside the fields it names, else in `slot`. */
	function refused(err, slot) {
		const problems = err instanceof ApiError ? err.fieldErrors : [];
		const unplaced = problems.filter(({ field, message }) => !errors.show(field, message));
		if (problems.length && !unplaced.length) errors.focusFirst();
		else showError(slot, err.message);
	}

	function forgetQuote() {
		quote = null;
		summary.hidden = true;
	}

	async function priceIt(event) {
		event.preventDefault();
		errors.clear();
		showError(byId("checkout-error"), "");
		forgetQuote();
		try {
			quote = await api.post("/checkout/quote", body());
			byId("checkout-totals").replaceChildren(
				...fact("Items", money(quote.itemsCents), { "data-total": "items" }),
				...fact(`Shipping (${quote.shippingMethod})`, money(quote.shippingCents), { "data-total": "shipping" }),
				...fact(quote.pricesIncludeTax ? "Tax (included)" : "Tax", money(quote.taxCents), { "data-total": "tax" }),
				...fact(`Total (${quote.currency})`, money(quote.totalCents), { "data-total": "total" }),
			);
			summary.hidden = false;
			showError(byId("checkout-place-error"), "");
			placeButton.focus();
		} catch (err) {
			refused(err, byId("checkout-error"));
		}
	}

	async function place() {
		const slot = byId("checkout-place-error");
		showError(slot, "");
		placeButton.disabled = true;
		try {
			const order = await api.post("/checkout", { ...body(), expectedTotalCents: quote.totalCents, currency: quote.currency });
			const payment = await api.post(`/orders/${encodeURIComponent(order.id)}/payment`, { provider: "manual" });
			showPayment(order, payment);
			forgetQuote();
			panel.hidden = true;
			onPlaced(order);
		} catch (err) {
			// A price, stock or total that changed: the cart shows the new state, and the total is asked again.
			showError(slot, err.message);
			if (err instanceof ApiError && err.status === 409) cart.load();
		} finally {
			placeButton.disabled = false;
		}
	}

	form.addEventListener("submit", priceIt);
	form.addEventListener("input", forgetQuote);
	placeButton.addEventListener("click", place);

	return {
		/** Shown while the cart holds something. */
		cartChanged(current) {
			const any = (current?.lines?.length ?? 0) > 0;
			if (any && panel.hidden) byId("payment").hidden = true;
			panel.hidden = !any;
			forgetQuote();
		},
	};
}
