import { byId, el, fillRows, money } from "./format.js";
import { createPagedList } from "./pager.js";

const PAGE_SIZE = 12;

function picture(product) {
	const image = product.images?.[0];
	return image ? el("img", { src: image.url, alt: image.alt, loading: "lazy" }) : el("div", { class: "no-image", "aria-hidden": "true" });
}

/** The shop's catalogue: searched, by department (category), paged; each product added to the cart with one button. */
export function createCatalogue(api, addToCart) {
	const list = byId("catalogue");
	const select = byId("catalogue-category");
	const products = createPagedList(api, {
		path: "/products",
		pageSize: PAGE_SIZE,
		pager: [byId("catalogue-pager"), "Shop pages"],
		show: rows => fillRows(list, rows.map(card), byId("catalogue-empty")),
		error: byId("catalogue-error"),
		what: "the shop",
	});

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
		products.load({ page: 1, search: f.search.value.trim(), category: f.category.value });
	});

	return {
		load: () => Promise.all([products.load(), loadCategories()]),
		/** A `product.updated` push: its card shows the new price and stock. */
		productChanged(product) {
			list.querySelector(`li[data-product-id="${CSS.escape(product.id)}"]`)?.replaceWith(card(product));
		},
	};
}
