import { ApiError } from "./api.js";
import { fieldErrors } from "./field-errors.js";
import { byId, el, fillRows, money, showError, toCents } from "./format.js";
import { createPagedList } from "./pager.js";

const IMAGES_MAX = 10;
/** lib/contracts/params.ts's IMAGE_URL_PATTERN. */
const IMAGE_URL = /^(?:https:\/\/[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?(?:[/?#][^\s\\"'<>]*)?|\/(?![/\\])[^\s\\"'<>]*)$/;

function thumbnail(product) {
	const image = product.images?.[0];
	return image ? el("img", { class: "thumb", src: image.url, alt: image.alt, width: 48, height: 48, loading: "lazy" }) : el("span", { class: "muted" }, "none");
}

/**
 * The admin's products: a list paged and searched through the API, a form
 * that creates and edits (price, stock, threshold, category, images), with
 * the API's validation errors next to their fields, and removal. Rows follow
 * `product.updated` pushes, so an edit made elsewhere shows here at once.
 */
export function createProductsAdmin(api) {
	const rows = byId("product-rows");
	const error = byId("products-error");
	const status = byId("products-status");
	const editor = byId("product-editor");
	const form = byId("product-form");
	const imageList = byId("product-images");
	const formError = byId("product-form-error");
	const formStatus = byId("product-form-status");
	const products = createPagedList(api, {
		path: "/products",
		pager: [byId("products-pager"), "Product pages"],
		show: render,
		error,
		what: "the products",
	});
	let editing = null;

	const errors = fieldErrors(form, field => {
		const image = /^images\[(\d+)\]\.(url|alt)$/.exec(field);
		if (image) return imageList.children[Number(image[1])]?.querySelector(`[name="${image[2]}"]`) ?? null;
		const name = { priceCents: "price", quantity: "restock" }[field] ?? (field.startsWith("images") ? null : field);
		return (name && form.elements[name]) || (field.startsWith("images") ? byId("product-image-add") : null);
	});

	function row(product) {
		return el(
			"tr",
			{ "data-product-id": product.id },
			el("td", {}, thumbnail(product)),
			el("th", { scope: "row" }, el("span", { class: "product-name" }, product.name), el("br"), el("code", {}, product.sku)),
			el("td", { class: "optional" }, product.category),
			el("td", { class: "num", "data-field": "price" }, money(product.priceCents)),
			el("td", { class: "num", "data-field": "stock" }, String(product.stock)),
			el("td", { class: "num optional" }, String(product.lowStockThreshold)),
			el(
				"td",
				{ class: "actions" },
				el("button", { type: "button", class: "secondary", "aria-label": `Edit ${product.name}`, onclick: () => edit(products.shown.get(product.id) ?? product) }, "Edit"),
				el("button", { type: "button", class: "danger", "aria-label": `Remove ${product.name}`, onclick: event => remove(product, event.currentTarget) }, "Remove"),
			),
		);
	}

	function render() {
		fillRows(rows, [...products.shown.values()].map(row), byId("products-empty"));
	}

	async function remove(product, button) {
		if (!confirm(`Remove ${product.name} (${product.sku}) from the catalog? Past orders keep it.`)) return;
		button.disabled = true;
		try {
			await api.delete(`/products/${encodeURIComponent(product.id)}`);
			status.textContent = `${product.name} removed.`;
			if (editing?.id === product.id) closeEditor();
			await products.load();
		} catch (err) {
			button.disabled = false;
			showError(error, `Could not remove ${product.name}: ${err.message}`);
		}
	}

	function imageRow(image = { url: "", alt: "" }) {
		const n = imageList.children.length + 1;
		const li = el("li", { class: "image-row" });
		const id = `product-image-${crypto.randomUUID()}`;
		// Its room is kept while empty: a preview appearing must not move the buttons under the pointer.
		const preview = el("img", { class: image.url ? "thumb" : "thumb empty", alt: "", width: 48, height: 48, src: image.url || null });
		const url = el("input", { id: `${id}-url`, name: "url", value: image.url, maxlength: 2048, autocomplete: "off", placeholder: "https://… or /images/…" });
		const alt = el("input", { id: `${id}-alt`, name: "alt", value: image.alt, maxlength: 300, autocomplete: "off" });
		// Previewed only when the API would take it (https, or a path on this site).
		url.addEventListener("change", () => {
			const valid = IMAGE_URL.test(url.value.trim());
			preview.classList.toggle("empty", !valid);
			if (valid) preview.src = url.value.trim();
			else preview.removeAttribute("src");
		});
		const move = delta => {
			const sibling = delta < 0 ? li.previousElementSibling : li.nextElementSibling;
			if (sibling) delta < 0 ? sibling.before(li) : sibling.after(li);
			renumber();
		};
		li.append(
			preview,
			el("div", { class: "field" }, el("label", { for: url.id, class: "image-url-label" }, `Image ${n} URL`), url),
			el("div", { class: "field" }, el("label", { for: alt.id, class: "image-alt-label" }, `Image ${n} description (alt text)`), alt),
			el(
				"div",
				{ class: "image-buttons" },
				el("button", { type: "button", class: "secondary move-up", onclick: () => move(-1) }, "Up"),
				el("button", { type: "button", class: "secondary move-down", onclick: () => move(1) }, "Down"),
				el("button", { type: "button", class: "danger remove-image", onclick: () => (li.remove(), renumber()) }, "Remove"),
			),
		);
		return li;
	}

	/** Labels say each image's place, and the buttons which image they move. */
	function renumber() {
		[...imageList.children].forEach((li, i) => {
			li.querySelector(".image-url-label").textContent = `Image ${i + 1} URL`;
			li.querySelector(".image-alt-label").textContent = `Image ${i + 1} description (alt text)`;
			li.querySelector(".move-up").setAttribute("aria-label", `Move image ${i + 1} up`);
			li.querySelector(".move-down").setAttribute("aria-label", `Move image ${i + 1} down`);
			li.querySelector(".remove-image").setAttribute("aria-label", `Remove image ${i + 1}`);
		});
		byId("product-image-add").disabled = imageList.children.length >= IMAGES_MAX;
	}

	function openEditor(product) {
		editing = product;
		errors.clear();
		showError(formError, "");
		formStatus.textContent = "";
		form.reset();
		const f = form.elements;
		byId("product-editor-title").textContent = product ? `Edit ${product.name}` : "New product";
		byId("product-save").textContent = product ? "Save changes" : "Create product";
		f.sku.value = product?.sku ?? "";
		f.sku.disabled = !!product;
		f.name.value = product?.name ?? "";
		f.category.value = product?.category ?? "";
		f.price.value = product ? (product.priceCents / 100).toFixed(2) : "";
		f.stock.value = product ? String(product.stock) : "0";
		f.stock.disabled = !!product;
		byId("product-restock-field").hidden = !product;
		f.restock.value = "0";
		f.lowStockThreshold.value = String(product?.lowStockThreshold ?? 5);
		f.description.value = product?.description ?? "";
		imageList.replaceChildren(...(product?.images ?? []).map(image => imageRow(image)));
		renumber();
		editor.hidden = false;
		(product ? f.name : f.sku).focus();
	}

	function edit(product) {
		openEditor(product);
	}

	function closeEditor() {
		editing = null;
		editor.hidden = true;
	}

	function images() {
		return [...imageList.children].map(li => ({ url: li.querySelector('[name="url"]').value.trim(), alt: li.querySelector('[name="alt"]').value.trim() }));
	}

	/** What the form says, checked as far as the browser can; the API checks the rest. */
	function readForm() {
		const f = form.elements;
		const body = { name: f.name.value, category: f.category.value, description: f.description.value, images: images() };
		const problems = [];
		const priceCents = toCents(f.price.value);
		if (Number.isNaN(priceCents)) problems.push({ field: "price", message: "Enter a price such as 12.50." });
		else body.priceCents = priceCents;
		const threshold = Number(f.lowStockThreshold.value);
		if (f.lowStockThreshold.value === "" || !Number.isInteger(threshold) || threshold < 0) problems.push({ field: "lowStockThreshold", message: "Enter a whole number, 0 or more." });
		else body.lowStockThreshold = threshold;
		if (!editing) {
			body.sku = f.sku.value;
			const stock = Number(f.stock.value);
			if (f.stock.value === "" || !Number.isInteger(stock) || stock < 0) problems.push({ field: "stock", message: "Enter a whole number, 0 or more." });
			else body.stock = stock;
		}
		const restock = Number(f.restock.value || "0");
		if (editing && (!Number.isInteger(restock) || restock < 0)) problems.push({ field: "restock", message: "Enter a whole number, 0 or more." });
		return { body, problems, restock: editing ? restock : 0 };
	}

	function showProblems(problems) {
		for (const { field, message } of problems) if (!errors.show(field, message)) showError(formError, message);
		errors.focusFirst();
	}

	async function save(event) {
		event.preventDefault();
		errors.clear();
		showError(formError, "");
		const { body, problems, restock } = readForm();
		if (problems.length) return showProblems(problems);
		const button = byId("product-save");
		button.disabled = true;
		formStatus.textContent = "Saving…";
		try {
			let product = editing ? await api.patch(`/products/${encodeURIComponent(editing.id)}`, body) : await api.post("/products", body);
			if (restock > 0) product = await api.post(`/products/${encodeURIComponent(product.id)}/restock`, { quantity: restock });
			status.textContent = `${product.name} saved.`;
			closeEditor();
			await products.load(editing ? {} : { page: 1 });
			rows.querySelector(`tr[data-product-id="${CSS.escape(product.id)}"] button`)?.focus();
		} catch (err) {
			formStatus.textContent = "";
			if (err instanceof ApiError && err.status === 409) showProblems([{ field: "sku", message: err.message }]);
			else if (err instanceof ApiError && err.fieldErrors.length) showProblems(err.fieldErrors);
			else showError(formError, `Could not save: ${err.message}`);
		} finally {
			button.disabled = false;
		}
	}

	/** A `product.updated` push: a row on this page shows the product as it is now, or goes when it was removed. */
	function productChanged(product) {
		if (!products.shown.has(product.id)) return;
		const old = rows.querySelector(`tr[data-product-id="${CSS.escape(product.id)}"]`);
		if (product.deleted) {
			products.shown.delete(product.id);
			old?.remove();
			byId("products-empty").hidden = products.shown.size > 0;
			status.textContent = `${product.name} was removed from the catalog.`;
			return;
		}
		products.shown.set(product.id, product);
		old?.replaceWith(row(product));
	}

	byId("product-new").addEventListener("click", () => openEditor(null));
	byId("product-cancel").addEventListener("click", closeEditor);
	byId("product-image-add").addEventListener("click", () => {
		imageList.append(imageRow());
		renumber();
		imageList.lastElementChild.querySelector('[name="url"]').focus();
	});
	form.addEventListener("submit", save);
	byId("product-search").addEventListener("submit", event => {
		event.preventDefault();
		products.load({ page: 1, search: event.currentTarget.elements.search.value.trim() });
	});

	return { load: () => products.load(), productChanged };
}
