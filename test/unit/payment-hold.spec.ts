import { Errors, type LoggerInstance } from "moleculer";
import type { PricingRules } from "../../lib/contracts/checkout";
import type { DbAdapter } from "../../lib/db/adapter";
import type { ReserveItem } from "../../lib/contracts/reservations";
import { holdPricer } from "../../services/orders/checkout";
import { PaymentHold } from "../../services/orders/payment-hold";
import { ORDER_INDEXES, type OrderDoc, type Via } from "../../services/orders/placement";
import { PRODUCT_INDEXES, RESERVATION_INDEXES, type ProductDoc, type ReservationDoc } from "../../services/products/documents";
import { StockLedger } from "../../services/products/stock-ledger";
import { clock, Gate, memoryStore, outcome, productDoc, through } from "../helpers/stepped-store";
import { withAftercareDefaults } from "../../services/orders/aftercare";
import type { Order } from "../../lib/contracts/types";

/**
 * Checkout's steps of the placement saga, driven directly on in-memory
 * stores with a real stock ledger: the hold with its deadline, the payment
 * that confirms it, and the expiry that gives the stock back, one write at
 * a time where two of them race. A killed node stands for kill -9.
 */

const TIMEOUT = 1_000;
const DEADLINE = 15 * 60_000;
const RULES: PricingRules = { currency: "USD", pricesIncludeTax: false, taxRatesBp: { US: 0, DE: 1900 }, shippingMethods: [{ id: "standard", priceCents: 499, freeOverCents: 5000 }] };
const ADDRESS = { line1: "1 Main St", city: "Springfield", postalCode: "1", country: "DE" };
const ITEMS: ReserveItem[] = [
	{ productId: "A", quantity: 2 },
	{ productId: "B", quantity: 1 },
];
// A: 2 × 250, B: 400 → 900; shipping 499; tax 95 + 76 + 94.81 → 95.
const TOTAL = 900 + 499 + 95 + 76 + 95;

let orders: DbAdapter<OrderDoc>;
let productDocs: DbAdapter<ProductDoc>;
let reservations: DbAdapter<ReservationDoc>;
let ledger: StockLedger;

interface Node {
	saga: PaymentHold;
	gate: Gate;
	via: Via;
}

function node(): Node {
	const gate = new Gate();
	const logger = { warn: () => undefined } as unknown as LoggerInstance;
	const saga = new PaymentHold(
		{
			orders: through(orders, gate, "orders"),
			settlement: { pendingTimeoutMs: TIMEOUT, recoveryIntervalMs: TIMEOUT },
			toPublic: doc => withAftercareDefaults({ ...doc, id: doc._id } as Order),
			publish: async () => undefined,
			logger,
		},
		holdPricer({ pricing: RULES, paymentDeadlineMs: DEADLINE, cartTtlMs: DEADLINE }),
	);
	const via: Via = {
		call: <T>(action: string, params?: object) => {
			const p = params as { orderId: string; items?: ReserveItem[] };
			const route = (): Promise<unknown> => {
				if (action === "products.reserve") return ledger.reserve(p.orderId, p.items ?? []);
				if (action === "products.release") return ledger.release(p.orderId);
				if (action === "products.reservation") return ledger.view(p.orderId);
				throw new Error(`No such action: ${action}`);
			};
			return gate.write({ collection: "products", op: "call", id: action }, route) as Promise<T>;
		},
		emit: () => undefined,
	};
	return { saga, gate, via };
}

async function stocks(): Promise<{ A: number; B: number }> {
	return { A: (await productDocs.findById("A"))!.stock, B: (await productDocs.findById("B"))!.stock };
}

async function held(n: Node, expectedTotalCents = TOTAL): Promise<OrderDoc> {
	const { order } = await n.saga.open("alice", undefined, ITEMS, ADDRESS, undefined, { request: { shippingMethod: "standard", expectedTotalCents }, hash: "h" });
	return n.saga.place(n.via, order);
}

beforeEach(async () => {
	clock.start();
	orders = await memoryStore<OrderDoc>("orders", ORDER_INDEXES);
	productDocs = await memoryStore<ProductDoc>("products", PRODUCT_INDEXES);
	reservations = await memoryStore<ReservationDoc>("reservations", RESERVATION_INDEXES);
	ledger = new StockLedger(productDocs, reservations, { pendingTimeoutMs: TIMEOUT }, async () => undefined);
	await productDocs.insert(productDoc("A", 10, 250));
	await productDocs.insert(productDoc("B", 10, 400));
});
afterEach(async () => {
	clock.stop();
	await Promise.all([orders.disconnect(), productDocs.disconnect(), reservations.disconnect()]);
});

describe("the hold", () => {
	it("holds a checkout's stock awaiting payment, priced from the reserved lines, until its deadline", async () => {
		const order = await held(node());
		expect(order).toMatchObject({
			status: "awaiting_payment",
			awaitingPayment: true,
			totalCents: TOTAL,
			itemsCents: 900,
			shippingCents: 499,
			taxCents: 266,
			currency: "USD",
			shippingMethod: "standard",
			paymentDeadline: new Date(Date.now() + DEADLINE).toISOString(),
			items: [
				{ productId: "A", unitPriceCents: 250, quantity: 2, lineTotalCents: 500, taxCents: 95 },
				{ productId: "B", unitPriceCents: 400, quantity: 1, lineTotalCents: 400, taxCents: 76 },
			],
		});
		expect(order.pending).toBeUndefined();
		expect(await stocks()).toEqual({ A: 8, B: 9 });
	});

	it("refuses the hold when the reserved prices give another total than the client showed: the stock goes back and nothing of the order stays", async () => {
		await expect(held(node(), TOTAL - 1)).rejects.toMatchObject({ code: 409, type: "TOTAL_MISMATCH", data: { expectedTotalCents: TOTAL - 1, totalCents: TOTAL } });
		expect(await orders.count({ query: {} })).toBe(0);
		expect(await stocks()).toEqual({ A: 10, B: 10 });
	});

	it("is finished by the settler when the node died after the reserve: the order awaits payment, priced", async () => {
		const n = node();
		const { order } = await n.saga.open("alice", undefined, ITEMS, ADDRESS, undefined, { request: { shippingMethod: "standard", expectedTotalCents: TOTAL }, hash: "h" });
		n.gate.hold();
		const placing = outcome(n.saga.place(n.via, order));
		await n.gate.step(); // the reserve
		await n.gate.next(); // the hold's write, held
		n.gate.kill();
		await placing;
		clock.advance(TIMEOUT + 1);
		const settler = node();
		await settler.saga.recoverStale(settler.via);
		expect(await orders.findById(order._id)).toMatchObject({ status: "awaiting_payment", totalCents: TOTAL, awaitingPayment: true });
		expect(await stocks()).toEqual({ A: 8, B: 9 });
	});

	it("answers the order the settler held meanwhile, when products' answer to the request was lost: placed, not a 503 to try again", async () => {
		const n = node();
		const { order } = await n.saga.open("alice", undefined, ITEMS, ADDRESS, undefined, { request: { shippingMethod: "standard", expectedTotalCents: TOTAL }, hash: "h" });
		const settler = node();
		const lostAnswer: Via = {
			...n.via,
			call: async <T>(action: string, params?: object) => {
				const answer = await n.via.call<T>(action, params);
				if (action !== "products.reserve") return answer;
				// The request waits past the pending timeout: the settler holds the order from products' view, then the answer is lost.
				clock.advance(TIMEOUT + 1);
				await settler.saga.recoverStale(settler.via);
				throw new Errors.RequestTimeoutError({ action, nodeID: "products-1" });
			},
		};
		expect(await n.saga.place(lostAnswer, order)).toMatchObject({ _id: order._id, status: "awaiting_payment", totalCents: TOTAL });
		expect(await stocks()).toEqual({ A: 8, B: 9 });
	});
});

describe("payment and expiry", () => {
	it("confirms a paid order once; again answers it as it is; the stock stays with the order", async () => {
		const n = node();
		const order = await held(n);
		const paid = await n.saga.confirmPaid(n.via, order);
		expect(paid).toMatchObject({ status: "confirmed", totalCents: TOTAL, paymentDeadline: order.paymentDeadline });
		expect(paid.awaitingPayment).toBeUndefined();
		expect(await n.saga.confirmPaid(n.via, order)).toMatchObject({ status: "confirmed", statusHistory: paid.statusHistory });
		clock.advance(DEADLINE + 1);
		await n.saga.recoverStale(n.via);
		expect(await orders.findById(order._id)).toMatchObject({ status: "confirmed" });
		expect(await stocks()).toEqual({ A: 8, B: 9 });
	});

	it("expires an unpaid order at its deadline, not before: cancelled PAYMENT_EXPIRED, its stock given back once; a late payment is 409 ORDER_EXPIRED", async () => {
		const n = node();
		const order = await held(n);
		clock.advance(DEADLINE - 1);
		await n.saga.recoverStale(n.via);
		expect(await orders.findById(order._id)).toMatchObject({ status: "awaiting_payment" });
		clock.advance(1);
		await n.saga.recoverStale(n.via);
		expect(await orders.findById(order._id)).toMatchObject({ status: "cancelled", cancelReason: "PAYMENT_EXPIRED" });
		expect(await n.saga.expire(n.via, order)).toBeNull();
		await n.saga.recoverStale(n.via);
		expect(await stocks()).toEqual({ A: 10, B: 10 });
		await expect(n.saga.confirmPaid(n.via, order)).rejects.toMatchObject({ code: 409, type: "ORDER_EXPIRED" });
	});

	it("lets no payment in once the expiry has flagged the order, though its stock is not yet back; the settler finishes the expiry once", async () => {
		const n = node();
		const order = await held(n);
		clock.advance(DEADLINE);
		n.gate.hold();
		const expiring = outcome(n.saga.expire(n.via, order));
		await n.gate.step(); // the flag
		await n.gate.next(); // the release, held
		n.gate.kill(); // the crash point expire.after-flag
		await expiring;
		const payer = node();
		await expect(payer.saga.confirmPaid(payer.via, order)).rejects.toMatchObject({ code: 409, type: "ORDER_EXPIRED" });
		expect(await stocks()).toEqual({ A: 8, B: 9 });
		clock.advance(TIMEOUT + 1);
		await payer.saga.recoverStale(payer.via);
		await payer.saga.recoverStale(payer.via);
		expect(await orders.findById(order._id)).toMatchObject({ status: "cancelled", cancelReason: "PAYMENT_EXPIRED" });
		expect(await stocks()).toEqual({ A: 10, B: 10 });
	});

	it("lets a payment confirmed first win over the expiry: the order stays confirmed and keeps its stock", async () => {
		const n = node();
		const order = await held(n);
		clock.advance(DEADLINE);
		const payer = node();
		payer.gate.hold();
		const paying = outcome(payer.saga.confirmPaid(payer.via, order));
		await payer.gate.step(); // the move to confirmed
		payer.gate.open();
		expect(await n.saga.expire(n.via, order)).toBeNull();
		expect(await paying).toMatchObject({ value: { status: "confirmed" } });
		expect(await stocks()).toEqual({ A: 8, B: 9 });
	});
});
