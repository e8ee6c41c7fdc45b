import { el, fillRows, money, shortId, showError, timeElement } from "./format.js";

const FEED_LIMIT = 50;

/** Whether `a` is a later state of the same order than `b` (events and reloads can cross). */
export function isLaterState(a, b) {
	const steps = order => order.statusHistory?.length ?? 0;
	if (steps(a) !== steps(b)) return steps(a) > steps(b);
	return (a.updatedAt ?? "") >= (b.updatedAt ?? "");
}

function newestFirst(a, b) {
	return b.createdAt.localeCompare(a.createdAt);
}

export function statusBadge(status) {
	return el("span", { class: "status", "data-status": status }, status);
}

export function itemsSummary(order) {
	const count = order.items.reduce((sum, item) => sum + item.quantity, 0);
	const names = order.items.map(item => `${item.quantity} × ${item.name}`).join(", ");
	return el("span", { title: names }, `${count} item${count === 1 ? "" : "s"}`);
}

/**
 * An order's row: when it was placed and its id, the `middle` cells, its
 * total and status, then the `after` cells; a `changed` row flashes.
 */
export function orderRow(order, middle, after = [], changed = false) {
	return el(
		"tr",
		{ "data-order-id": order.id, "data-status": order.status, class: changed ? "changed" : null },
		el("td", {}, timeElement(order.createdAt)),
		el("td", { class: "optional" }, el("code", { title: order.id }, shortId(order.id))),
		...middle,
		el("td", { class: "num" }, money(order.totalCents)),
		el("td", {}, statusBadge(order.status)),
		...after,
	);
}

/** The newest `count` orders the caller may see, into an order table; `slot` says `failure` and why when they cannot be read. */
export async function loadNewestOrders(api, table, count, slot, failure) {
	try {
		table.load((await api.get(`/orders?pageSize=${count}`)).rows);
		showError(slot, "");
	} catch (err) {
		showError(slot, `${failure}: ${err.message}`);
	}
}

/**
 * A table of orders kept newest first, each row updated in place when a
 * later state of it arrives. `customerCell(order)` fills the third column;
 * `moreCells` (functions of the order) add columns after the status.
 */
export function createOrderTable(tbody, empty, customerCell, moreCells = []) {
	const orders = new Map();
	const changed = new Set();

	function row(order) {
		const more = moreCells.map(cell => el("td", {}, cell(order)));
		return orderRow(order, [el("td", {}, customerCell(order))], more, changed.has(order.id));
	}

	function render() {
		const shown = [...orders.values()].sort(newestFirst).slice(0, FEED_LIMIT);
		for (const order of orders.values()) if (!shown.includes(order)) orders.delete(order.id);
		fillRows(tbody, shown.map(row), empty);
		changed.clear();
	}

	return {
		/** An order from an event: added or updated, and marked as just changed. */
		upsert(order) {
			const known = orders.get(order.id);
			if (known && !isLaterState(order, known)) return;
			orders.set(order.id, order);
			changed.add(order.id);
			render();
		},
		/** A page from the REST API; states already newer from events are kept. */
		load(list) {
			for (const order of list) {
				const known = orders.get(order.id);
				if (!known || isLaterState(order, known)) orders.set(order.id, order);
			}
			render();
		},
	};
}
