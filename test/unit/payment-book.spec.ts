import _ from "lodash";
import type { LoggerInstance } from "moleculer";
import type { DbAdapter } from "../../lib/db/adapter";
import type { PaymentUpdate } from "../../lib/contracts/payments";
import type { Order } from "../../lib/contracts/types";
import { PAYMENT_INDEXES, PaymentBook, type Caller, type PaymentDoc } from "../../services/payments/book";
import type { Provider, ProviderPayment } from "../../services/payments/providers";
import { Gate, memoryStore, through } from "../helpers/stepped-store";

/** The payments ledger driven directly, on an in-memory store, with a recording provider and a stand-in for orders. */

class RecordingProvider implements Provider {
	readonly name = "stripe" as const;
	readonly calls: string[] = [];
	/** The idempotency key of each refund asked for. */
	readonly keys: string[] = [];
	failRefunds = false;
	open(p: ProviderPayment) {
		this.calls.push(`open ${p.id}`);
		return Promise.resolve({ intentId: `pi_${p.id}`, clientSecret: "secret" });
	}
	capture(p: ProviderPayment) {
		this.calls.push(`capture ${p.id}`);
		return Promise.resolve();
	}
	void(p: ProviderPayment) {
		this.calls.push(`void ${p.id}`);
		return Promise.resolve();
	}
	refund(_p: ProviderPayment, refund: { id: string; key: string }, amountCents: number) {
		this.calls.push(`refund ${refund.id} ${amountCents}`);
		this.keys.push(refund.key);
		return this.failRefunds ? Promise.reject(new Error("provider away")) : Promise.resolve(`re_${refund.id}`);
	}
}

/** orders as payments sees it: applies each version once, answers the order with the status the test sets. */
class OrdersStandIn implements Caller {
	status: Order["status"] = "confirmed";
	expired = false;
	readonly applied: PaymentUpdate[] = [];
	readonly confirmed: string[] = [];
	call<T>(action: string, params: Record<string, unknown>): Promise<T> {
		if (action === "orders.applyPayment") {
			const update = params as unknown as PaymentUpdate;
			if (!this.applied.some(u => u.version >= update.version)) this.applied.push(update);
			return Promise.resolve({ id: update.orderId, status: this.status } as T);
		}
		if (action === "orders.confirmPaid") {
			if (this.expired) return Promise.reject(Object.assign(new Error("expired"), { type: "ORDER_EXPIRED" }));
			this.confirmed.push(String(params.id));
			return Promise.resolve({} as T);
		}
		return Promise.reject(new Error(`unexpected call ${action}`));
	}
	get last() {
		return this.applied[this.applied.length - 1];
	}
}

const logger = { warn: () => undefined } as unknown as LoggerInstance;
const ORDER = { id: "order-1", customerId: "c1", totalCents: 1000 } as Order;

let store: DbAdapter<PaymentDoc>;
let provider: RecordingProvider;
let orders: OrdersStandIn;
let book: PaymentBook;

beforeEach(async () => {
	store = await memoryStore<PaymentDoc>("payments", PAYMENT_INDEXES);
	provider = new RecordingProvider();
	orders = new OrdersStandIn();
	book = new PaymentBook({ payments: store, providers: { stripe: provider }, currency: "EUR", logger });
});

const stored = async () => (await book.find(ORDER.id))!;

describe("the payment book", () => {
	it("captures once: a second capture of the same payment changes nothing, and orders gets each version once", async () => {
		const p = await book.start(ORDER, "stripe");
		expect(provider.calls).toEqual([`open ${p._id}`]);
		await book.capture(orders, p, 1000);
		await book.capture(orders, await stored(), 1000);
		await book.capture(orders, p, 1000);
		expect(await stored()).toMatchObject({ status: "paid", capturedCents: 1000, history: [expect.objectContaining({ status: "paid", amountCents: 1000 })] });
		expect(orders.applied.map(u => [u.version, u.status, u.paidCents])).toEqual([[1, "paid", 1000]]);
		expect((await stored()).sync).toBeUndefined();
	});

	it("marks a manual payment paid with one write when none is stored (the payment stored captured), then hands it to orders and clears its mark", async () => {
		const gate = new Gate();
		const gated = new PaymentBook({ payments: through(store, gate, "payments"), providers: { stripe: provider }, currency: "EUR", logger });
		orders.status = "awaiting_payment";
		const p = await gated.markPaid(orders, ORDER);
		expect(p).toMatchObject({ status: "paid", provider: "manual", capturedCents: 1000, amountCents: 1000 });
		expect(gate.passed.map(w => w.op)).toEqual(["insert", "updateMany"]);
		expect(await stored()).toMatchObject({ status: "paid", capturedCents: 1000, history: [expect.objectContaining({ status: "paid", amountCents: 1000 })] });
		expect((await stored()).sync).toBeUndefined();
		expect(orders.applied.map(u => [u.version, u.status, u.paidCents])).toEqual([[1, "paid", 1000]]);
		expect(orders.confirmed).toEqual([ORDER.id]);
		await expect(gated.markPaid(orders, ORDER)).rejects.toMatchObject({ type: "ALREADY_PAID" });
		await expect(gated.markPaid(orders, { ...ORDER, id: "order-2" }, "RFWRONG")).rejects.toMatchObject({ type: "REFERENCE_MISMATCH" });
		expect(await book.find("order-2")).toBeNull();
	});

	it("records a refund as issuing before asking the provider; a provider away leaves it to recover, which issues it once under the same id", async () => {
		await book.capture(orders, await book.start(ORDER, "stripe"), 1000);
		provider.failRefunds = true;
		await expect(book.refund(orders, await stored(), 300, "r1")).rejects.toThrow("provider away");
		expect(await stored()).toMatchObject({ refundedCents: 0, issuing: true, refunds: [expect.objectContaining({ id: "r1", state: "issuing" })] });
		expect(orders.last.paidCents).toBe(1000);
		// The room left counts the refund being issued: 700, not 1000.
		await expect(book.refund(orders, await stored(), 701, "r2")).rejects.toMatchObject({ type: "REFUND_EXCEEDS_CAPTURED" });

		provider.failRefunds = false;
		await book.recover(orders, new Date(Date.now() + 1000).toISOString());
		await book.recover(orders, new Date(Date.now() + 1000).toISOString());
		expect(provider.calls.filter(c => c.startsWith("refund"))).toEqual(["refund r1 300", "refund r1 300"]);
		expect(await stored()).toMatchObject({ status: "partially_refunded", refundedCents: 300, refunds: [expect.objectContaining({ state: "issued" })] });
		expect((await stored()).issuing).toBeUndefined();
		expect(orders.last).toMatchObject({ status: "partially_refunded", paidCents: 700, version: 2 });
	});

	it("asks the provider for a refund under a key of the payment's and the refund's; one recorded before keys were kept keeps its old key", async () => {
		const p = await book.capture(orders, await book.start(ORDER, "stripe"), 1000);
		await book.refund(orders, await stored(), 100, "goodwill");
		expect(provider.keys).toEqual([`refund-${p._id}-goodwill`]);

		provider.failRefunds = true;
		await expect(book.refund(orders, await stored(), 100, "older")).rejects.toThrow("provider away");
		const legacy = (await stored()).refunds.map(r => (r.id === "older" ? _.omit(r, "key") : r));
		await store.updateOne({ _id: p._id }, { $set: { refunds: legacy } });
		provider.failRefunds = false;
		await book.recover(orders, new Date(Date.now() + 1000).toISOString());
		expect(provider.keys).toEqual([`refund-${p._id}-goodwill`, `refund-${p._id}-older`, "refund-older"]);
		expect(await stored()).toMatchObject({ refundedCents: 200 });
	});

	it("a refund sent again under its id refunds once", async () => {
		await book.capture(orders, await book.start(ORDER, "stripe"), 1000);
		await book.refund(orders, await stored(), 400, "return-1");
		await book.refund(orders, await stored(), 400, "return-1");
		expect(await stored()).toMatchObject({ refundedCents: 400, refunds: [expect.objectContaining({ id: "return-1" })] });
		expect(provider.calls.filter(c => c.startsWith("refund"))).toEqual(["refund return-1 400"]);
	});

	it("a cancelled order's authorisation is voided, its capture refunded whole, once", async () => {
		const authorised = await book.authorise(orders, await book.start(ORDER, "stripe"), 1000);
		expect(provider.calls).toContain(`capture ${authorised._id}`);
		orders.status = "cancelled";
		await book.settleCancelled(orders, await stored());
		expect(provider.calls).toContain(`void ${authorised._id}`);
		expect((await stored()).status).toBe("unpaid");

		await book.capture(orders, await stored(), 1000);
		expect(await stored()).toMatchObject({ status: "refunded", capturedCents: 1000, refundedCents: 1000 });
		await book.settleCancelled(orders, await stored());
		expect(provider.calls.filter(c => c.startsWith("refund"))).toHaveLength(1);
		expect(orders.last).toMatchObject({ status: "refunded", paidCents: 0 });
	});

	it("a capture confirms an order awaiting payment; one that expired first is refunded", async () => {
		orders.status = "awaiting_payment";
		await book.capture(orders, await book.start(ORDER, "stripe"), 1000);
		expect(orders.confirmed).toEqual([ORDER.id]);

		const late = { ...ORDER, id: "order-2" };
		orders.expired = true;
		await book.capture(orders, await book.start(late, "stripe"), 1000);
		expect(await book.find(late.id)).toMatchObject({ status: "refunded", refundedCents: 1000 });
	});

	it("forward only: a failure after the capture, or an authorisation after it, changes nothing", async () => {
		await book.capture(orders, await book.start(ORDER, "stripe"), 1000);
		await book.fail(orders, await stored());
		await book.authorise(orders, await stored(), 1000);
		expect((await stored()).history.map(c => c.status)).toEqual(["paid"]);
	});
});
