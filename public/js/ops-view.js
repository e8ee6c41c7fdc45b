import { startAdminNav } from "./admin-nav.js";
import { createAlertsPanel } from "./alerts.js";
import { createClusterPanel } from "./cluster.js";
import { createDashboard } from "./dashboard.js";
import { byId, debounce, el } from "./format.js";
import { createCustomersAdmin } from "./customers-admin.js";
import { createLowStockPanel } from "./low-stock.js";
import { createOrderManager } from "./order-manage.js";
import { createOrdersAdmin } from "./orders-admin.js";
import { createOrderTable, loadNewestOrders } from "./orders.js";
import { startNotificationPanels } from "./notifications-panels.js";
import { pollWhileShown } from "./polling.js";
import { createProductsAdmin } from "./products-admin.js";
import { showServiceStates } from "./service-notes.js";

const ORDERS_SHOWN = 50;
/** Node joins and leaves come in bursts (a node's services arrive in a second INFO). */
const CLUSTER_REFRESH_MS = 300;
/** A service can fail while its node stays: health is read again this often besides the pushes. */
const HEALTH_POLL_MS = 30_000;
/** The gateway answers health from a report up to a second old: after a change, it is read again once that report is gone. */
const HEALTH_SETTLE_MS = 1_500;

/** The customer's name and email, asked once per customer. */
function customerNames(api) {
	const known = new Map();
	return customerId => {
		if (!known.has(customerId))
			known.set(
				customerId,
				api.get(`/customers/${encodeURIComponent(customerId)}`).catch(() => null),
			);
		return known.get(customerId);
	};
}

function customerCell(lookup) {
	return order => {
		const cell = el("span", { class: "customer", "data-customer-id": order.customerId }, el("code", {}, order.customerId));
		lookup(order.customerId).then(customer => {
			if (customer) cell.replaceChildren(el("span", {}, customer.name), el("small", { class: "muted" }, customer.email));
		});
		return cell;
	};
}

/** The admin's page: every panel loaded over REST, then kept current by the pushes. */
export function startOpsView(api, live) {
	const lookup = customerNames(api);
	const cluster = createClusterPanel(api);
	const dashboard = createDashboard(api);
	const alerts = createAlertsPanel(api);
	const lowStock = createLowStockPanel(api);
	const orders = createOrderTable(byId("order-feed"), byId("orders-empty"), customerCell(lookup));
	const products = createProductsAdmin(api);
	const orderManager = createOrderManager(api);
	const ordersAdmin = createOrdersAdmin(api, customerCell(lookup), [orderManager.button]);
	const customers = createCustomersAdmin(api);

	const loadOrders = () => loadNewestOrders(api, orders, ORDERS_SHOWN, byId("orders-error"), "Could not load the orders");

	async function refreshCluster() {
		const health = await cluster.refresh();
		showServiceStates(health?.services);
	}

	async function loadAll() {
		const [, , , dashboardNow] = await Promise.all([refreshCluster(), loadOrders(), alerts.load(), dashboard.load()]);
		if (dashboardNow) lowStock.show(dashboardNow.lowStockProducts);
	}

	live.on("order.updated", ({ order }) => {
		orders.upsert(order);
		ordersAdmin.orderChanged(order);
		orderManager.orderChanged(order);
	});
	live.on("alert", ({ alert }) => alerts.add(alert));
	live.on("product.updated", ({ product }) => {
		lowStock.productChanged(product);
		products.productChanged(product);
	});
	live.on("analytics.updated", ({ dashboard: figures }) => {
		dashboard.show(figures);
		lowStock.show(figures.lowStockProducts);
	});
	const refreshSoon = debounce(refreshCluster, CLUSTER_REFRESH_MS);
	const refreshSettled = debounce(refreshCluster, HEALTH_SETTLE_MS);
	live.on("cluster.changed", () => {
		refreshSoon();
		refreshSettled();
	});
	pollWhileShown(refreshCluster, HEALTH_POLL_MS);
	startNotificationPanels(api, byId("ops-view"));

	const nav = startAdminNav({
		overview: { section: byId("ops-view") },
		products: { section: byId("products-view"), open: products.load },
		orders: { section: byId("orders-view"), open: ordersAdmin.load },
		customers: { section: byId("customers-view"), open: customers.load },
	});
	loadAll();
	return {
		reload: () => {
			loadAll();
			nav.reload();
		},
	};
}
