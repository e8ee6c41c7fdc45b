import _ from "lodash";
import DbMixin, { type DbMethods, type DbSettings } from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { CHANNELS, type OrderStatusMessage } from "../lib/contracts/channels";
import { crashPoint } from "../lib/infra/crash-points";
import { isDuplicateKeyError, type Doc } from "../lib/db/adapter";
import { ORDER_STATUSES, type OrderStatus } from "../lib/contracts/order-status";
import type { Page } from "../lib/contracts/pagination";
import { type Ctx, type LowStockProduct, type Order, type ServiceBase, defineService } from "../lib/contracts/types";

const REVENUE_STATUSES: readonly OrderStatus[] = ["confirmed", "shipped", "delivered"];
const TOP_PRODUCTS = 10;

/** What analytics keeps of an order: its latest known state. */
interface OrderFact extends Doc {
	customerId: string;
	status: OrderStatus;
	totalCents: number;
	items: Array<{ productId: string; name: string; quantity: number; lineTotalCents: number }>;
	createdAt: string;
	/** The length of the order's status history: a message older than what is stored changes nothing. */
	version: number;
}

interface TopProduct {
	productId: string;
	name: string;
	quantity: number;
	revenueCents: number;
}

interface Dashboard {
	totalOrders: number;
	ordersByStatus: Record<OrderStatus, number>;
	revenueCents: number;
	averageOrderValueCents: number;
	topProducts: TopProduct[];
	lowStockProducts: LowStockProduct[] | null;
	customers: number | null;
	updatedAt: string;
}

interface AnalyticsSettings extends DbSettings {
	updateEventIntervalMs: number;
	rebuildPageSize: number;
}

/** What `this` is inside the analytics service. */
interface AnalyticsThis extends ServiceBase<AnalyticsSettings>, DbMethods<OrderFact, OrderFact> {
	ready: Promise<void>;
	dashboardChanged: _.DebouncedFunc<() => void>;
	applyOrder(order: Order): Promise<boolean>;
	refreshDashboard(): Promise<void>;
	allFacts(): Promise<OrderFact[]>;
	computeDashboard(ctx: Ctx): Promise<Dashboard>;
	topProducts(paid: OrderFact[]): TopProduct[];
	rebuildIfEmpty(): Promise<void>;
}

const AnalyticsService = defineService<AnalyticsSettings, AnalyticsThis>({
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

	actions: {
		dashboard: {
			// Cleared on every change; the TTL bounds what a read racing a change could leave behind.
			cache: { keys: [], ttl: 2 },
			async handler(this: AnalyticsThis, ctx: Ctx): Promise<Dashboard> {
				await this.ready;
				return this.computeDashboard(ctx);
			},
		},

		sales: {
			cache: { keys: ["interval", "from", "to"], ttl: 2 },
			params: {
				interval: { type: "enum", values: ["day", "month"], optional: true, default: "day" },
				from: { type: "date", convert: true, optional: true },
				to: { type: "date", convert: true, optional: true },
			},
			async handler(this: AnalyticsThis, ctx: Ctx<{ interval: "day" | "month"; from?: Date; to?: Date }>) {
				await this.ready;
				const { interval, from, to } = ctx.params;
				const query: Record<string, unknown> = { status: { $in: REVENUE_STATUSES } };
				const range: Record<string, string> = {};
				if (from) range.$gte = from.toISOString();
				if (to) range.$lte = to.toISOString();
				if (from || to) query.createdAt = range;
				const facts = await this.adapter.find({ query });
				const width = interval === "month" ? 7 : 10;
				const groups = _.groupBy(facts, f => f.createdAt.slice(0, width));
				return Object.keys(groups)
					.sort()
					.map(period => ({ period, orders: groups[period].length, revenueCents: _.sumBy(groups[period], "totalCents") }));
			},
		},
	},

	channels: {
		[CHANNELS.orderStatus]: {
			group: "analytics",
			async handler(this: AnalyticsThis, msg: OrderStatusMessage) {
				const order = msg?.order;
				if (!order?.id || !ORDER_STATUSES.includes(order.status) || !Array.isArray(order.statusHistory)) throw new Error("Malformed order status message");
				crashPoint("analytics.before-apply");
				if (await this.applyOrder(order)) this.dashboardChanged();
			},
		},
	},

	methods: {
		/** Record an order's state if it is newer than what is stored. Idempotent; true when something changed. */
		async applyOrder(this: AnalyticsThis, order: Order): Promise<boolean> {
			// A pending order is not placed yet: it may still be refused and vanish (a rebuild reads it from orders.all).
			if (order.status === "pending") return false;
			const fact: OrderFact = {
				_id: order.id,
				customerId: order.customerId,
				status: order.status,
				totalCents: order.totalCents,
				items: (order.items ?? []).map(l => _.pick(l, ["productId", "name", "quantity", "lineTotalCents"])),
				createdAt: order.createdAt,
				version: order.statusHistory.length,
			};
			const { _id, ...fields } = fact;
			const newer = async () => (await this.adapter.updateMany({ _id, version: { $lt: fact.version } }, { $set: fields })) === 1;
			const inserted = async () => {
				try {
					await this.adapter.insert(fact);
					return true;
				} catch (err) {
					if (!isDuplicateKeyError(err)) throw err;
					return false;
				}
			};
			// The first move out of pending is nearly always the order's first fact: one write, not a missed update and an insert.
			if (fact.version <= 2) return (await inserted()) || (await newer());
			// Another message of this order (handled in parallel) may store it first: ours may still be newer.
			return (await newer()) || (await inserted()) || (await newer());
		},

		/** Every stored fact, read-only. */
		async allFacts(this: AnalyticsThis): Promise<OrderFact[]> {
			// NeDB's find copies each document: read its own array instead (the dashboard runs every 500 ms under load).
			const nedb = (this.adapter as unknown as { db?: { getAllData?(): OrderFact[] } }).db;
			if (typeof nedb?.getAllData === "function") return nedb.getAllData();
			return this.adapter.find({ query: {} });
		},

		async computeDashboard(this: AnalyticsThis, ctx: Ctx): Promise<Dashboard> {
			const facts = await this.allFacts();
			const ordersByStatus = Object.fromEntries(ORDER_STATUSES.map(s => [s, 0])) as Record<OrderStatus, number>;
			for (const f of facts) ordersByStatus[f.status]++;
			const paid = facts.filter(f => REVENUE_STATUSES.includes(f.status));
			const revenueCents = _.sumBy(paid, "totalCents");
			const [lowStockProducts, customers] = await Promise.all([
				ctx.call<LowStockProduct[], object>("products.lowStock", {}).catch(() => null),
				ctx
					.call<{ total: number }, object>("customers.count", {})
					.then(r => r.total)
					.catch(() => null),
			]);
			return {
				totalOrders: facts.length,
				ordersByStatus,
				revenueCents,
				averageOrderValueCents: paid.length ? Math.round(revenueCents / paid.length) : 0,
				topProducts: this.topProducts(paid),
				lowStockProducts,
				customers,
				updatedAt: new Date().toISOString(),
			};
		},

		topProducts(paid: OrderFact[]): TopProduct[] {
			const byProduct = new Map<string, TopProduct>();
			for (const line of paid.flatMap(f => f.items)) {
				const entry = byProduct.get(line.productId) ?? { productId: line.productId, name: line.name, quantity: 0, revenueCents: 0 };
				entry.quantity += line.quantity;
				entry.revenueCents += line.lineTotalCents;
				byProduct.set(line.productId, entry);
			}
			return _.orderBy([...byProduct.values()], ["quantity", "revenueCents"], ["desc", "desc"]).slice(0, TOP_PRODUCTS);
		},

		/** Clear the dashboard's cached answers, then announce it. */
		async refreshDashboard(this: AnalyticsThis): Promise<void> {
			try {
				await this.entityChanged("updated", null, null);
				const dashboard = await this.broker.call("analytics.dashboard", {}, { nodeID: this.broker.nodeID });
				await this.broker.emit("analytics.updated", { dashboard });
			} catch (err) {
				this.logger.warn("Could not refresh the dashboard; its cached answer lives at most its TTL", (err as Error).message);
			}
		},

		/** A node with an empty store first reads every order, so its first answer is right. */
		async rebuildIfEmpty(this: AnalyticsThis): Promise<void> {
			if ((await this.adapter.count({ query: {} })) > 0) return;
			try {
				await this.broker.waitForServices(["orders"], 10_000);
			} catch {
				this.logger.warn("No orders service to rebuild from; starting empty.");
				return;
			}
			for (let page = 1; ; page++) {
				const res = await this.broker.call<Page<Order>, object>("orders.all", { page, pageSize: this.settings.rebuildPageSize });
				for (const order of res.rows) await this.applyOrder(order);
				if (page >= res.totalPages) break;
			}
			await this.entityChanged("updated", null, null);
			this.logger.info("Analytics rebuilt from the orders service.");
		},
	},

	created(this: AnalyticsThis) {
		// The dashboard follows the orders within an interval: cleared and announced at once, then at most once per interval
		// (one clean of the shared cache, and one push, per interval under load instead of one per order).
		this.dashboardChanged = _.throttle(() => void this.refreshDashboard(), this.settings.updateEventIntervalMs);
	},

	started(this: AnalyticsThis) {
		this.ready = this.rebuildIfEmpty().catch((err: Error) => this.logger.error("Rebuild failed", err));
	},

	stopped(this: AnalyticsThis) {
		this.dashboardChanged.cancel();
	},
});

export default AnalyticsService;
