import { query } from "./api.js";
import { byId, debounce, el, fillRows, money, shortId, showError, timeElement } from "./format.js";
import { itemsSummary, statusBadge } from "./orders.js";
import { createPager } from "./pager.js";

const PAGE_SIZE = 20;
const STATUSES = ["pending", "awaiting_payment", "confirmed", "shipped", "delivered", "cancelled"];
/** A burst of new orders reloads the first page once. */
const RELOAD_MS = 300;

/**
 * Every order, paged through the API (so nothing is limited to what arrived
 * since loading), filtered by status, rows kept current by the pushes.
 * Each row has an actions cell; `orderActions` (a list of
 * `(order, api, reload) => element | null`) fills it, so payment and
 * fulfilment buttons are one addition each.
 */
export function createOrdersAdmin(api, customerCell, orderActions = []) {
	const rows = byId("order-rows");
	const error = byId("order-rows-error");
	const pager = createPager(byId("orders-pager"), "Order pages", page => load(page));
	const select = byId("orders-status");
	select.append(...STATUSES.map(s => el("option", { value: s }, s.replace(/_/g, " "))));
	let current = { page: 1, status: "" };
	let shown = new Map();

	function row(order) {
		return el(
			"tr",
			{ "data-order-id": order.id, "data-status": order.status },
			el("td", {}, timeElement(order.createdAt)),
			el("td", { class: "optional" }, el("code", { title: order.id }, shortId(order.id))),
			el("td", {}, customerCell(order)),
			el("td", { class: "optional" }, itemsSummary(order)),
			el("td", { class: "num" }, money(order.totalCents)),
			el("td", {}, statusBadge(order.status)),
			el("td", { class: "actions", "data-order-actions": "" }, ...orderActions.map(action => action(order, api, () => load())).filter(Boolean)),
		);
	}

	async function load(page = current.page, status = current.status) {
		try {
			const list = await api.get(`/orders${query({ page, pageSize: PAGE_SIZE, status })}`);
			current = { page: list.page, status };
			shown = new Map(list.rows.map(o => [o.id, o]));
			fillRows(rows, list.rows.map(row), byId("order-rows-empty"));
			pager.show(list);
			showError(error, "");
		} catch (err) {
			showError(error, `Could not load the orders: ${err.message}`);
		}
	}

	const reloadFirstPage = debounce(() => load(1), RELOAD_MS);

	/** An `order.updated` push: its row changes in place; a new order brings the first page back when it is shown. */
	function orderChanged(order) {
		if (shown.has(order.id)) {
			shown.set(order.id, order);
			rows.querySelector(`tr[data-order-id="${CSS.escape(order.id)}"]`)?.replaceWith(row(order));
		} else if (current.page === 1 && (!current.status || current.status === order.status)) {
			reloadFirstPage();
		}
	}

	byId("orders-filter").addEventListener("submit", event => {
		event.preventDefault();
		load(1, select.value);
	});

	return { load: () => load(), orderChanged };
}
