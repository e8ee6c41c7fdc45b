import { byId, el, showError } from "./format.js";
import { createOrderTable, itemsSummary } from "./orders.js";

const ORDERS_SHOWN = 20;

function paymentCell(order) {
	const state = (order.paymentStatus ?? "unpaid").replace(/_/g, " ");
	return el("span", { "data-payment": order.paymentStatus ?? "unpaid" }, state);
}

function shippingCell(order) {
	const f = order.fulfilment;
	if (!f) return el("span", { class: "muted" }, "not shipped");
	return el("span", { "data-shipping": f.deliveredAt ? "delivered" : "shipped" }, `${f.deliveredAt ? "Delivered" : "On its way"}: ${f.carrier} ${f.trackingNumber}`);
}

/** A customer's orders (the API shows them no other), with their status, payment and shipping live. */
export function startMyOrders(api, live) {
	byId("customer-view").hidden = false;
	const orders = createOrderTable(byId("my-orders"), byId("my-orders-empty"), itemsSummary, [paymentCell, shippingCell]);

	async function load() {
		try {
			orders.load((await api.get(`/orders?pageSize=${ORDERS_SHOWN}`)).rows);
			showError(byId("my-orders-error"), "");
		} catch (err) {
			showError(byId("my-orders-error"), `Could not load your orders: ${err.message}`);
		}
	}

	live.on("order.updated", ({ order }) => orders.upsert(order));
	load();
	return { reload: load };
}
