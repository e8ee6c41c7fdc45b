import { byId, showError } from "./format.js";
import { createOrderTable, itemsSummary } from "./orders.js";

const ORDERS_SHOWN = 20;

/** A customer's page: their own orders (the API shows them no other), with live status. */
export function startMyOrders(api, live) {
	byId("customer-view").hidden = false;
	const orders = createOrderTable(byId("my-orders"), byId("my-orders-empty"), itemsSummary);

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
