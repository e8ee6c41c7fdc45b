/**
 * Checkout beside P2, on the embedded default, interleaved on one system:
 * P2's two-item `POST /api/orders`, and the checkout flow: two cart lines
 * (`POST /api/cart/items`), `POST /api/checkout` at the quoted total, then
 * the manual payment (MANUAL_PAYMENT below). Each autocannon connection is
 * one customer of its own, going round the flow; checkouts/s counts the
 * 201 answers of `POST /api/checkout`.
 */
import { parseSettings } from "../../lib/infra/settings";
import { PriceCalculator } from "../../services/orders/pricing";
import { json, pool } from "../client";
import { settings } from "../config";
import { cannon, interleave, median, sum, type Run } from "../load";
import { waitUntilAllQuiet, assertRunning } from "../procs";
import { atLeast, fmt, rows } from "../report";
import { seed, startEmbedded, type System } from "../systems";
import { orderLoad } from "./orders";

/** The manual payment of an order awaiting payment, as a request of the flow. */
type PaymentRequest = (orderId: string, adminToken: string) => { method: "POST" | "PATCH"; path: string; body: object; token: string };

/** The payment step: the admin marks the checkout order paid (the manual provider: a bank transfer matched, cash taken). Null would leave cart and checkout only. */
export const MANUAL_PAYMENT: PaymentRequest | null = (orderId, adminToken) => ({ method: "POST", path: `/orders/${orderId}/mark-paid`, body: {}, token: adminToken });

const ADDRESS = { line1: "1 Bench Street", city: "Loadville", postalCode: "12345", country: "US" };

interface FlowContext {
	customer?: number;
	orderId?: string;
}

/** The checkout flow for autocannon: each connection a customer, going round add, add, checkout (and pay). */
function checkoutLoad(base: string, tokens: string[], productIds: string[], prices: Map<string, number>, admin: string, counter: { created: number; refused: Record<string, number> }) {
	const calc = new PriceCalculator(parseSettings({}).shop.pricing);
	let nextCustomer = 0;
	const lineOf = (ctx: FlowContext, k: 0 | 1) => ({ productId: productIds[(ctx.customer! + k * 7) % productIds.length], quantity: k + 1 });
	const auth = (ctx: FlowContext) => ({ "content-type": "application/json", authorization: `Bearer ${tokens[ctx.customer!]}` });
	const addLine = (k: 0 | 1) => (req: any, ctx: FlowContext) => {
		ctx.customer ??= nextCustomer++ % tokens.length;
		return { ...req, method: "POST", path: "/api/cart/items", headers: auth(ctx), body: JSON.stringify(lineOf(ctx, k)) };
	};
	const requests: any[] = [
		{ setupRequest: addLine(0) },
		{ setupRequest: addLine(1) },
		{
			setupRequest: (req: any, ctx: FlowContext) => {
				const lines = [lineOf(ctx, 0), lineOf(ctx, 1)].map(l => ({ ...l, unitPriceCents: prices.get(l.productId)! }));
				const expectedTotalCents = calc.price(lines, ADDRESS.country, "standard").totals.totalCents;
				return {
					...req,
					method: "POST",
					path: "/api/checkout",
					headers: auth(ctx),
					body: JSON.stringify({ shippingAddress: ADDRESS, shippingMethod: "standard", currency: "USD", expectedTotalCents }),
				};
			},
			onResponse: (status: number, body: string, ctx: FlowContext) => {
				if (status === 201) {
					counter.created++;
					ctx.orderId = (JSON.parse(body) as { id: string }).id;
				} else {
					const type = String((JSON.parse(body || "{}") as { type?: string }).type ?? status);
					counter.refused[type] = (counter.refused[type] ?? 0) + 1;
				}
			},
		},
	];
	if (MANUAL_PAYMENT) {
		const pay = MANUAL_PAYMENT;
		requests.push({
			setupRequest: (req: any, ctx: FlowContext) => {
				const r = pay(ctx.orderId ?? "none", admin);
				return { ...req, method: r.method, path: `/api${r.path}`, headers: { "content-type": "application/json", authorization: `Bearer ${r.token}` }, body: JSON.stringify(r.body) };
			},
		});
	}
	// One customer per connection: a cart is never filled by two connections at once.
	return { url: base, requests, connections: Math.min(settings.connections, tokens.length) };
}

interface Round {
	run: Run;
	checkouts?: number;
	refused?: Record<string, number>;
}

export async function checkoutScenario(): Promise<void> {
	let system: System | undefined;
	try {
		system = await startEmbedded("embedded");
		const s = system;
		const seeded = await seed(s.base, { products: settings.products, customers: settings.buyers * 2, concurrency: 10 });
		const p2Buyers = seeded.customers.slice(0, settings.buyers).map(c => c.token);
		const shoppers = seeded.customers.slice(settings.buyers).map(c => c.token);
		const listed = await json("GET", `${s.base}/products?ids=${seeded.productIds.join(",")}&pageSize=100`);
		const prices = new Map<string, number>((listed.rows as Array<{ id: string; priceCents: number }>).map(p => [p.id, p.priceCents]));
		const p2 = orderLoad(s.base, p2Buyers, seeded.productIds);
		const p2Once = async (seconds: number): Promise<Round> => {
			const run = await cannon(p2, seconds);
			assertRunning(s.children);
			return { run };
		};
		const flowOnce = async (seconds: number): Promise<Round> => {
			// A run ends in the middle of some customers' rounds: their carts start the next run empty.
			await pool(shoppers, 10, token => json("DELETE", `${s.base}/cart/items`, undefined, token));
			const counter = { created: 0, refused: {} as Record<string, number> };
			const load = checkoutLoad(s.origin, shoppers, seeded.productIds, prices, seeded.admin, counter);
			const run = await cannon(load, seconds);
			assertRunning(s.children);
			return { run, checkouts: counter.created / seconds, refused: counter.refused };
		};
		const settle = () => waitUntilAllQuiet(s.children);
		const results = await interleave(
			[
				{ key: "P2 orders", warmup: () => p2Once(settings.warmup), measure: () => p2Once(settings.duration), settle },
				{ key: "checkout", warmup: () => flowOnce(settings.warmup), measure: () => flowOnce(settings.duration), settle },
			],
			settings.rounds,
			(key, round, r) => {
				const what = r.checkouts === undefined ? `${fmt(r.run.rps).padStart(6)} orders/s` : `${fmt(r.checkouts).padStart(6)} checkouts/s (${fmt(r.run.rps)} requests/s)`;
				const refused = r.refused && Object.keys(r.refused).length ? `   refused ${JSON.stringify(r.refused)}` : "";
				console.log(`  checkout round ${round}  ${key.padEnd(10)} ${what}   p50 ${r.run.p50} ms   p99 ${r.run.p99} ms${r.run.errors ? `   errors ${r.run.errors}` : ""}${refused}`);
			},
		);
		const orders = median(results.get("P2 orders")!.map(r => r.run.rps));
		const flows = results.get("checkout")!;
		const checkouts = median(flows.map(r => r.checkouts!));
		const steps = MANUAL_PAYMENT
			? "2 cart lines, checkout, manual payment"
			: "2 cart lines, checkout (the manual payment step waits for the payments route: MANUAL_PAYMENT in bench/scenarios/checkout.ts)";
		rows.push({
			scenario: "checkout",
			figure: "P2 orders/s (201)",
			system: "embedded",
			values: results.get("P2 orders")!.map(r => r.run.rps),
			value: orders,
			notes: "P2's load, in the same rounds",
		});
		rows.push({
			scenario: "checkout",
			figure: "checkouts/s (201)",
			system: "embedded",
			values: flows.map(r => r.checkouts!),
			value: checkouts,
			ratio: `${(checkouts / orders).toFixed(2)} × P2`,
			target: atLeast(checkouts, orders / 2, "≥ 0.5 × P2"),
			notes: `${steps}; one customer per connection; ${fmt(sum(flows.map(r => r.run.requests)))} requests, p99 ${median(flows.map(r => r.run.p99))} ms per request`,
		});
	} finally {
		await system?.stop();
	}
}
