import _ from "lodash";
import DbMixin from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { CHANNELS, type OrderStatusMessage } from "../lib/contracts/channels";
import { crashPoint } from "../lib/infra/crash-points";
import { ORDER_STATUSES } from "../lib/contracts/order-status";
import type { Page } from "../lib/contracts/pagination";
import { type Ctx, type LowStockProduct, type Order, defineService, state } from "../lib/contracts/types";
import { OrderFacts, type OrderFact } from "./analytics/order-facts";
import { dashboardOf, type Dashboard } from "./analytics/dashboard";

const AnalyticsService = defineService({
	name: "analytics",
	mixins: [
		// The dashboard also shows low-stock products and the customer count: their changes clear it too.
		DbMixin<OrderFact, OrderFact>({ collection: "order_facts", publicFields: [], cacheScope: ["products", "customers"] }),
		HealthMixin,
	],

	settings: {
		updateEventIntervalMs: 500,
		rebuildPageSize: 500,
	},

	state: state<{ facts: OrderFacts; ready: Promise<void>; dashboardChanged: _.DebouncedFunc<() => void> }>(),

	actions: {
		dashboard: {
			// Cleared on every change; the TTL bounds what a read racing a change could leave behind.
			cache: { keys: [], ttl: 2 },
			async handler(ctx: Ctx): Promise<Dashboard> {
				await this.ready;
				const [facts, lowStockProducts, customers] = await Promise.all([
					this.facts.all(),
					ctx.call<LowStockProduct[], object>("products.lowStock", {}).catch(() => null),
					ctx
						.call<{ total: number }, object>("customers.count", {})
						.then(r => r.total)
						.catch(() => null),
				]);
				return dashboardOf(facts, { lowStockProducts, customers });
			},
		},

		sales: {
			cache: { keys: ["interval", "from", "to"], ttl: 2 },
			params: {
				interval: { type: "enum", values: ["day", "month"], optional: true, default: "day" },
				from: { type: "date", convert: true, optional: true },
				to: { type: "date", convert: true, optional: true },
			},
			async handler(ctx: Ctx<{ interval: "day" | "month"; from?: Date; to?: Date }>) {
				await this.ready;
				return this.facts.sales(ctx.params.interval, ctx.params.from, ctx.params.to);
			},
		},
	},

	channels: {
		[CHANNELS.orderStatus]: {
			group: "analytics",
			async handler(msg: OrderStatusMessage) {
				const order = msg?.order;
				if (!order?.id || !ORDER_STATUSES.includes(order.status) || !Array.isArray(order.statusHistory)) throw new Error("Malformed order status message");
				crashPoint("analytics.before-apply");
				if (await this.facts.apply(order, msg.change)) this.dashboardChanged();
			},
		},
	},

	methods: {
		/** Clear the dashboard's cached answers, then announce it. */
		async refreshDashboard(): Promise<void> {
			try {
				await this.entityChanged("updated", null, null);
				const dashboard = await this.broker.call("analytics.dashboard", {}, { nodeID: this.broker.nodeID });
				await this.broker.emit("analytics.updated", { dashboard });
			} catch (err) {
				this.logger.warn("Could not refresh the dashboard; its cached answer lives at most its TTL", (err as Error).message);
			}
		},

		/** A node with an empty store first reads every order, so its first answer is right. */
		async rebuildIfEmpty(): Promise<void> {
			if (!(await this.facts.isEmpty())) return;
			try {
				await this.broker.waitForServices(["orders"], 10_000);
			} catch {
				this.logger.warn("No orders service to rebuild from; starting empty.");
				return;
			}
			for (let page = 1; ; page++) {
				const res = await this.broker.call<Page<Order>, object>("orders.all", { page, pageSize: this.settings.rebuildPageSize });
				for (const order of res.rows) await this.facts.apply(order);
				if (page >= res.totalPages) break;
			}
			await this.entityChanged("updated", null, null);
			this.logger.info("Analytics rebuilt from the orders service.");
		},
	},

	created() {
		this.facts = new OrderFacts(this.adapter);
		// The dashboard follows the orders within an interval: cleared and announced at once, then at most once per interval
		// (one clean of the shared cache, and one push, per interval under load instead of one per order).
		this.dashboardChanged = _.throttle(() => void this.refreshDashboard(), this.settings.updateEventIntervalMs);
	},

	started() {
		this.ready = this.rebuildIfEmpty().catch((err: Error) => this.logger.error("Rebuild failed", err));
	},

	stopped() {
		this.dashboardChanged.cancel();
	},
});

export default AnalyticsService;
