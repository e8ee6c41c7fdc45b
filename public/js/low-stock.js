import { byId, el } from "./format.js";
import { markPanel } from "./service-notes.js";

const DEFAULT_RESTOCK = 10;

/** The dashboard lists `{ productId, threshold }`, a `product.updated` push the product `{ id, lowStockThreshold }`. */
function fromDashboard(entry) {
	return { id: entry.productId, sku: entry.sku, name: entry.name, stock: entry.stock, lowStockThreshold: entry.threshold };
}

function isLow(product) {
	return product.stock <= product.lowStockThreshold;
}

function stockText(product) {
	return product.stock === 0 ? `out of stock (threshold ${product.lowStockThreshold})` : `${product.stock} left (threshold ${product.lowStockThreshold})`;
}

/** Products at or below their threshold, each with a restock form. */
export function createLowStockPanel(api) {
	const list = byId("low-stock");
	const status = byId("low-stock-status");
	const products = new Map();
	const items = new Map();

	async function restock(product, form) {
		const input = form.elements.quantity;
		const button = form.querySelector("button");
		const message = form.querySelector(".form-message");
		const quantity = Number(input.value);
		if (!Number.isInteger(quantity) || quantity < 1) {
			message.textContent = "Enter a whole number of at least 1.";
			input.focus();
			return;
		}
		button.disabled = true;
		message.textContent = "Restocking…";
		try {
			const updated = await api.post(`/products/${encodeURIComponent(product.id)}/restock`, { quantity });
			status.textContent = `${updated.name}: ${updated.stock} in stock after adding ${quantity}.`;
			message.textContent = `Added ${quantity}.`;
			productChanged(updated);
		} catch (err) {
			message.textContent = `Could not restock: ${err.message}`;
		} finally {
			button.disabled = false;
		}
	}

	function item(product) {
		const inputId = `restock-${product.id}`;
		const form = el(
			"form",
			{ class: "restock", onsubmit: event => (event.preventDefault(), restock(products.get(product.id) ?? product, event.currentTarget)) },
			el("label", { for: inputId }, "Quantity"),
			el("input", { id: inputId, name: "quantity", type: "number", min: 1, step: 1, value: DEFAULT_RESTOCK, required: true, inputmode: "numeric" }),
			el("button", { type: "submit", "aria-label": `Restock ${product.name}` }, "Restock"),
			el("span", { class: "form-message", role: "status" }),
		);
		return el("li", { "data-product-id": product.id }, el("div", {}, el("strong", { class: "product-name" }, product.name), " ", el("code", {}, product.sku)), el("div", { class: "stock" }), form);
	}

	function updateItem(li, product) {
		li.dataset.stock = String(product.stock);
		li.querySelector(".product-name").textContent = product.name;
		const stock = li.querySelector(".stock");
		stock.textContent = stockText(product);
		stock.classList.toggle("out", product.stock === 0);
	}

	/** Rows are kept and updated in place, so a quantity being typed survives a push. */
	function render() {
		const lowest = [...products.values()].sort((a, b) => a.stock - b.stock || a.name.localeCompare(b.name));
		const rows = lowest.map(product => {
			const li = items.get(product.id) ?? item(product);
			items.set(product.id, li);
			updateItem(li, product);
			return li;
		});
		for (const id of items.keys()) if (!products.has(id)) items.delete(id);
		const sameOrder = rows.length === list.children.length && rows.every((li, i) => list.children[i] === li);
		if (!sameOrder) list.replaceChildren(...rows);
		byId("low-stock-empty").hidden = rows.length > 0;
		byId("low-stock-title").textContent = `Low stock (${rows.length})`;
	}

	/** The dashboard's list is the whole truth when it comes. */
	function show(lowStockProducts) {
		// null: analytics could not ask products. What was shown stays, said to be possibly out of date.
		if (!Array.isArray(lowStockProducts)) {
			markPanel("low-stock-panel", true, "The product service is down: this list may be out of date.");
			return;
		}
		markPanel("low-stock-panel", false);
		products.clear();
		for (const product of lowStockProducts.map(fromDashboard)) products.set(product.id, product);
		render();
	}

	/** A `product.updated` push: it joins or leaves the list as its stock crosses the threshold. */
	function productChanged(product) {
		const known = products.has(product.id);
		if (product.deleted) products.delete(product.id);
		else if (isLow(product)) products.set(product.id, product);
		else products.delete(product.id);
		if (known || (!product.deleted && isLow(product))) render();
	}

	return { show, productChanged };
}
