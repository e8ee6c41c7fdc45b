import { query } from "./api.js";
import { byId, el, fillRows, money, showError } from "./format.js";
import { createPager } from "./pager.js";

const PAGE_SIZE = 12;

function picture(product) {
	const image = product.images?.[0];
	return image ? el("img", { src: image.url, alt: image.alt, loading: "lazy" }) : el("div", { class: "no-image", "aria-hidden": "true" });
}

/** The shop's catalogue: searched, by department (category), paged; each product added to the cart with one button. */
export function createCatalogue(api, addToCart) {
	const list = byId("catalogue");
	const error = byId("catalogue-error");
	const select = byId("catalogue-category");
	const pager = createPager(byId("catalogue-pager"), "Shop pages", page => load(page));
	let current = { page: 1, search: "", category: "" };

	function card(product) {
		const out = product.stock <= 0;
		return el(
			"li",
			{ class: "product-card", "data-product-id": product.id },
			picture(product),
			el("h3", {}, product.name),
			el("span", { class: "muted" }, product.category),
			el("span", { class: "price" }, money(product.priceCents)),
			el("button", { type: "button", disabled: out, "aria-label": `${out ? "Sold out" : "Add to cart"}: ${product.name}`, onclick: () => addToCart(product) }, out ? "Sold out" : "Add to cart"),
		);
	}

	async function load(page = current.page, search = current.search, category = current.category) {
		try {
			const found = await api.get(`/products${query({ page, pageSize: PAGE_SIZE, search, category })}`);
			current = { page: found.page, search, category };
			fillRows(list, found.rows.map(card), byId("catalogue-empty"));
			pager.show(found);
			showError(error, "");
		} catch (err) {
			showError(error, `Could not load the shop: ${err.message}`);
		}
	}

	async function loadCategories() {
		try {
			const categories = await api.get("/categories");
			select.replaceChildren(el("option", { value: "" }, "All"), ...categories.map(c => el("option", { value: c.name }, `${c.name} (${c.productCount})`)));
		} catch {
			// The search still works without the list of departments.
		}
	}

	byId("catalogue-search").addEventListener("submit", event => {
		event.preventDefault();
		const f = event.currentTarget.elements;
		load(1, f.search.value.trim(), f.category.value);
	});

	return {
		load: () => Promise.all([load(), loadCategories()]),
		/** A `product.updated` push: its card shows the new price and stock. */
		productChanged(product) {
			list.querySelector(`li[data-product-id="${CSS.escape(product.id)}"]`)?.replaceWith(card(product));
		},
	};
}
