import { byId, el, shortId } from "./format.js";
import { createOrderTable, itemsSummary, loadNewestOrders } from "./orders.js";
import { showPayment } from "./payment-note.js";

const ORDERS_SHOWN = 20;

/** The payment's state; an order awaiting payment offers its bank-transfer instructions again. */
function paymentCell(api) {
	return order => {
		const state = el("span", { "data-payment": order.paymentStatus ?? "unpaid" }, (order.paymentStatus ?? "unpaid").replace(/_/g, " "));
		if (order.status !== "awaiting_payment") return state;
		const error = el("span", { class: "error", role: "alert" });
		const howToPay = async () => {
			try {
				showPayment(order, await api.get(`/orders/${encodeURIComponent(order.id)}/payment`));
				error.textContent = "";
			} catch (err) {
				error.textContent = err.message;
			}
		};
		return [state, el("br"), el("button", { type: "button", class: "secondary", "aria-label": `How to pay order ${shortId(order.id)}`, onclick: howToPay }, "How to pay"), error];
	};
}

function shippingCell(order) {
	const f = order.fulfilment;
	if (!f) return el("span", { class: "muted" }, "not shipped");
	return el("span", { "data-shipping": f.deliveredAt ? "delivered" : "shipped" }, `${f.deliveredAt ? "Delivered" : "On its way"}: ${f.carrier} ${f.trackingNumber}`);
}

/** A customer's orders (the API shows them no other), with their status, payment and shipping live. */
export function startMyOrders(api, live) {
	byId("customer-view").hidden = false;
	const orders = createOrderTable(byId("my-orders"), byId("my-orders-empty"), itemsSummary, [paymentCell(api), shippingCell]);

	const load = () => loadNewestOrders(api, orders, ORDERS_SHOWN, byId("my-orders-error"), "Could not load your orders");

	live.on("order.updated", ({ order }) => orders.upsert(order));
	load();
	return { reload: load };
}
