import _ from "lodash";
import { ORDER_STATUSES, type OrderStatus } from "../../lib/contracts/order-status";
import type { LowStockProduct } from "../../lib/contracts/types";
import { REVENUE_STATUSES, type OrderFact } from "./order-facts";

const TOP_PRODUCTS = 10;

export interface TopProduct {
	productId: string;
	name: string;
	quantity: number;
	revenueCents: number;
}

export interface Dashboard {
	totalOrders: number;
	ordersByStatus: Record<OrderStatus, number>;
	revenueCents: number;
	averageOrderValueCents: number;
	topProducts: TopProduct[];
	lowStockProducts: LowStockProduct[] | null;
	customers: number | null;
	updatedAt: string;
}

/** What the other services add to the figures; null when the service did not answer. */
export interface DashboardExtras {
	lowStockProducts: LowStockProduct[] | null;
	customers: number | null;
}

/** The dashboard's figures from every order fact. */
export function dashboardOf(facts: ReadonlyArray<Readonly<OrderFact>>, extras: DashboardExtras, now = new Date()): Dashboard {
	const ordersByStatus = Object.fromEntries(ORDER_STATUSES.map(s => [s, 0])) as Record<OrderStatus, number>;
	for (const f of facts) ordersByStatus[f.status]++;
	const paid = facts.filter(f => REVENUE_STATUSES.includes(f.status));
	const revenueCents = _.sumBy(paid, "totalCents");
	return {
		totalOrders: facts.length,
		ordersByStatus,
		revenueCents,
		averageOrderValueCents: paid.length ? Math.round(revenueCents / paid.length) : 0,
		topProducts: topProducts(paid),
		...extras,
		updatedAt: now.toISOString(),
	};
}

/** The best sellers among paid orders: most units first, then most revenue. */
export function topProducts(paid: ReadonlyArray<Readonly<OrderFact>>): TopProduct[] {
	const byProduct = new Map<string, TopProduct>();
	for (const line of paid.flatMap(f => f.items)) {
		const entry = byProduct.get(line.productId) ?? { productId: line.productId, name: line.name, quantity: 0, revenueCents: 0 };
		entry.quantity += line.quantity;
		entry.revenueCents += line.lineTotalCents;
		byProduct.set(line.productId, entry);
	}
	return _.orderBy([...byProduct.values()], ["quantity", "revenueCents"], ["desc", "desc"]).slice(0, TOP_PRODUCTS);
}
