import type { HttpClient } from "./http";

/** The statuses whose orders hold their items' stock. */
export const HOLDING = ["pending", "awaiting_payment", "confirmed", "shipped", "delivered"];

interface OrderRow {
	id: string;
	status: string;
	totalCents: number;
	paidCents?: number;
	paymentStatus?: string;
	items: Array<{ productId: string; quantity: number }>;
	returns?: Array<{ items: Array<{ productId: string; quantity: number; restock: boolean }> }>;
	statusHistory: Array<{ status: string }>;
	paymentHistory?: Array<{ status: string }>;
}

export interface TrackedProduct {
	id: string;
	initial: number;
	restocked: number;
}

/** Every order, as an admin lists them. */
export async function allOrders(http: HttpClient, admin: string): Promise<OrderRow[]> {
	const rows: OrderRow[] = [];
	for (let page = 1; ; page++) {
		const res = await http.get(`/orders?page=${page}&pageSize=100`, admin);
		rows.push(...(res.body.rows as OrderRow[]));
		if (page >= res.body.totalPages) return rows;
	}
}

/**
 * The stock invariant with returns: for each product,
 * `initial + restocks − held + returned to stock == stock`, where held
 * counts the items of orders that hold stock and returned the quantities
 * of returns that restock. Answers what is off, or null.
 */
export async function stockImbalance(http: HttpClient, orders: OrderRow[], products: TrackedProduct[]): Promise<string | null> {
	for (const p of products) {
		const held = orders.filter(o => HOLDING.includes(o.status)).reduce((sum, o) => sum + o.items.filter(l => l.productId === p.id).reduce((s, l) => s + l.quantity, 0), 0);
		const returned = orders.reduce(
			(sum, o) =>
				sum +
				(o.returns ?? [])
					.flatMap(r => r.items)
					.filter(l => l.productId === p.id && l.restock)
					.reduce((s, l) => s + l.quantity, 0),
			0,
		);
		const stock = (await http.get(`/products/${p.id}`)).body.stock;
		if (stock !== p.initial + p.restocked - held + returned) return `product ${p.id}: stock ${stock}, expected ${p.initial} + ${p.restocked} - ${held} + ${returned}`;
	}
	return null;
}

/**
 * The money invariant: captured − refunded, summed over payments, equals
 * the paid amounts recorded on orders (order by order, which implies the
 * sums); no payment captured twice (one `paid` in its history, captured at
 * most its amount); no cancelled (expired) order still paid. Answers what
 * is off, or null.
 */
export async function moneyImbalance(http: HttpClient, admin: string, orders: OrderRow[]): Promise<string | null> {
	let captured = 0;
	let recorded = 0;
	for (const o of orders) {
		if (o.status === "pending") continue;
		const p = (await http.get(`/orders/${o.id}/payment`, admin)).body;
		const net = p.capturedCents - p.refundedCents;
		captured += net;
		recorded += o.paidCents ?? 0;
		if (net !== (o.paidCents ?? 0)) return `order ${o.id}: payment nets ${net}, the order records ${o.paidCents}`;
		if (p.status !== (o.paymentStatus ?? "unpaid")) return `order ${o.id}: payment ${p.status}, the order says ${o.paymentStatus}`;
		if ((o.paymentHistory ?? []).filter(c => c.status === "paid").length > 1) return `order ${o.id}: captured twice`;
		if (p.capturedCents > p.amountCents) return `order ${o.id}: captured ${p.capturedCents} of ${p.amountCents}`;
		if (p.refunds.some((r: { state: string }) => r.state !== "issued")) return `order ${o.id}: a refund is still being issued`;
		if (o.status === "cancelled" && net > 0) return `order ${o.id}: cancelled and still paid ${net}`;
	}
	return captured === recorded ? null : `payments net ${captured}, orders record ${recorded}`;
}
