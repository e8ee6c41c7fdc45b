import { byId, debounce, el, fillRows } from "./format.js";
import { itemsSummary, orderRow } from "./orders.js";
import { createPagedList } from "./pager.js";

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
	const select = byId("orders-status");
	select.append(...STATUSES.map(s => el("option", { value: s }, s.replace(/_/g, " "))));
	const orders = createPagedList(api, {
		path: "/orders",
		pager: [byId("orders-pager"), "Order pages"],
		show: list => fillRows(rows, list.map(row), byId("order-rows-empty")),
		error: byId("order-rows-error"),
		what: "the orders",
	});

	function row(order) {
		const actions = orderActions.map(action => action(order, api, () => orders.load())).filter(Boolean);
		return orderRow(order, [el("td", {}, customerCell(order)), el("td", { class: "optional" }, itemsSummary(order))], [el("td", { class: "actions", "data-order-actions": "" }, ...actions)]);
	}

	const reloadFirstPage = debounce(() => orders.load({ page: 1 }), RELOAD_MS);

	/** An `order.updated` push: its row changes in place; a new order brings the first page back when it is shown. */
	function orderChanged(order) {
		if (orders.shown.has(order.id)) {
			orders.shown.set(order.id, order);
			rows.querySelector(`tr[data-order-id="${CSS.escape(order.id)}"]`)?.replaceWith(row(order));
		} else if (orders.current.page === 1 && (!orders.current.status || orders.current.status === order.status)) {
			reloadFirstPage();
		}
	}

	byId("orders-filter").addEventListener("submit", event => {
		event.preventDefault();
		orders.load({ page: 1, status: select.value });
	});

	return { load: () => orders.load(), orderChanged };
}
