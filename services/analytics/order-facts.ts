import _ from "lodash";
import { isDuplicateKeyError, type DbAdapter, type Doc } from "../../lib/db/adapter";
import type { OrderChange } from "../../lib/contracts/channels";
import type { OrderStatus } from "../../lib/contracts/order-status";
import type { Order } from "../../lib/contracts/types";

/** The statuses whose orders count as sales. */
export const REVENUE_STATUSES: readonly OrderStatus[] = ["confirmed", "shipped", "delivered"];

/** What analytics keeps of an order: its latest known state. */
export interface OrderFact extends Doc {
	customerId: string;
	status: OrderStatus;
	totalCents: number;
	items: Array<{ productId: string; name: string; quantity: number; lineTotalCents: number }>;
	createdAt: string;
	/** The length of the order's status history: a message older than what is stored changes nothing. */
	version: number;
}

export interface SalesPeriod {
	period: string;
	orders: number;
	revenueCents: number;
}

/** The fact an order's state makes; none for a pending order, which is not placed yet: it may still be refused and vanish. */
export function factOf(order: Order): OrderFact | null {
	if (order.status === "pending") return null;
	return {
		_id: order.id,
		customerId: order.customerId,
		status: order.status,
		totalCents: order.totalCents,
		items: (order.items ?? []).map(l => _.pick(l, ["productId", "name", "quantity", "lineTotalCents"])),
		createdAt: order.createdAt,
		version: order.statusHistory.length,
	};
}

/** The orders as analytics knows them, one fact per order, each at the newest state a message told. */
export class OrderFacts {
	constructor(private readonly store: DbAdapter<OrderFact>) {}

	/**
	 * Record an order's state if it is newer than what is stored. Idempotent;
	 * true when something changed. A payment's or a fulfilment's message
	 * (`change`) changes no fact: what a fact keeps moves only with the
	 * status, and every status move has its own durable message.
	 */
	async apply(order: Order, change: OrderChange = "status"): Promise<boolean> {
		const fact = change === "status" ? factOf(order) : null;
		if (!fact) return false;
		const { _id, ...fields } = fact;
		const newer = async () => (await this.store.updateMany({ _id, version: { $lt: fact.version } }, { $set: fields })) === 1;
		const inserted = async () => {
			try {
				await this.store.insert(fact);
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
	}

	/** Every fact, read-only (the dashboard reads them all every interval under load: the store answers them uncopied where it can). */
	all(): Promise<ReadonlyArray<Readonly<OrderFact>>> {
		return this.store.readAll();
	}

	async isEmpty(): Promise<boolean> {
		return (await this.store.count({ query: {} })) === 0;
	}

	/** Orders and revenue that count as sales, per day (`2026-12-07`) or month (`2026-12`), oldest first. */
	async sales(interval: "day" | "month", from?: Date, to?: Date): Promise<SalesPeriod[]> {
		const query: Record<string, unknown> = { status: { $in: REVENUE_STATUSES } };
		const range: Record<string, string> = {};
		if (from) range.$gte = from.toISOString();
		if (to) range.$lte = to.toISOString();
		if (from || to) query.createdAt = range;
		const facts = await this.store.find({ query });
		const width = interval === "month" ? 7 : 10;
		const groups = _.groupBy(facts, f => f.createdAt.slice(0, width));
		return Object.keys(groups)
			.sort()
			.map(period => ({ period, orders: groups[period].length, revenueCents: _.sumBy(groups[period], "totalCents") }));
	}
}
