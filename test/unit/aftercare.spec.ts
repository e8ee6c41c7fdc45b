import type { LoggerInstance } from "moleculer";
import type { OrderStatusMessage } from "../../lib/contracts/channels";
import type { PaymentUpdate } from "../../lib/contracts/payments";
import type { Order } from "../../lib/contracts/types";
import type { DbAdapter } from "../../lib/db/adapter";
import { AFTERCARE_INDEXES, Aftercare, withAftercareDefaults, type AftercareDoc } from "../../services/orders/aftercare";
import { ORDER_INDEXES } from "../../services/orders/placement";
import { waitFor } from "../helpers/broker";
import { Gate, memoryStore, through } from "../helpers/stepped-store";

/**
 * The order's side of a payment, driven directly on an in-memory store
 * (its writes counted at a gate): a payment that pays a checkout order
 * awaiting payment confirms it in the same write, and its two messages
 * (the status, the payment) leave the outbox in one write.
 */

const AT = "2030-01-01T00:00:00.000Z";
const logger = { warn: () => undefined } as unknown as LoggerInstance;

let orders: DbAdapter<AftercareDoc>;
let gate: Gate;
let published: OrderStatusMessage[];
let aftercare: Aftercare;

const toPublic = (doc: AftercareDoc) => withAftercareDefaults({ ...doc, id: doc._id } as unknown as Order);

beforeEach(async () => {
	orders = await memoryStore<AftercareDoc>("orders", [...ORDER_INDEXES, ...AFTERCARE_INDEXES]);
	gate = new Gate();
	published = [];
	const store = through(orders, gate, "orders");
	aftercare = new Aftercare({
		orders: store,
		toPublic,
		publish: async message => void published.push(message),
		publishStatus: async doc => {
			published.push({ order: toPublic(doc) });
			await store.updateMany({ _id: doc._id, statusHistory: { $size: doc.statusHistory.length } }, { $unset: { outbox: true } });
		},
		emit: () => undefined,
		logger,
		finishWaitMs: 200,
	});
});
afterEach(() => orders.disconnect());

async function awaitingPayment(id: string, extra: Partial<AftercareDoc> = {}): Promise<AftercareDoc> {
	return orders.insert({
		_id: id,
		customerId: "c1",
		items: [{ productId: "A", sku: "A", name: "A", unitPriceCents: 500, quantity: 2, lineTotalCents: 1000 }],
		totalCents: 1499,
		status: "awaiting_payment",
		statusHistory: [
			{ status: "pending", at: AT },
			{ status: "awaiting_payment", at: AT },
		],
		shippingAddress: null,
		checkout: { shippingMethod: "standard", expectedTotalCents: 1499 },
		awaitingPayment: true,
		paymentDeadline: "2030-01-01T00:15:00.000Z",
		createdAt: AT,
		updatedAt: AT,
		...extra,
	});
}

const paid = (orderId: string): PaymentUpdate => ({ orderId, provider: "manual", status: "paid", paidCents: 1499, version: 1, history: [{ status: "paid", at: AT, amountCents: 1499 }] });

/** The announcements run after the answer: wait until nothing is under way. */
async function settled(): Promise<void> {
	for (let i = 0; i < 5; i++) await gate.idle();
}

describe("a payment applied to its order", () => {
	it("confirms a checkout order awaiting payment in the same write; its status and payment messages go out, and one write clears both marks", async () => {
		await awaitingPayment("o1");
		const answer = await aftercare.applyPayment(paid("o1"));
		expect(answer).toMatchObject({ status: "confirmed", paymentStatus: "paid", paidCents: 1499 });
		await settled();
		const writes = gate.passed.filter(w => w.collection === "orders");
		expect(writes).toHaveLength(2);
		expect(writes[0].update).toMatchObject({ $set: { status: "confirmed", paymentStatus: "paid", outbox: true, paymentOutbox: true } });
		expect(writes[1].update).toMatchObject({ $unset: { outbox: true, paymentOutbox: true } });
		const stored = (await orders.findById("o1"))!;
		expect(stored).toMatchObject({ status: "confirmed", paymentVersion: 1, paymentPublished: 1 });
		expect(stored.statusHistory.map(s => s.status)).toEqual(["pending", "awaiting_payment", "confirmed"]);
		for (const flag of ["outbox", "paymentOutbox", "awaitingPayment", "pending"] as const) expect(stored[flag]).toBeUndefined();
		expect(published.map(m => [m.change ?? "status", m.order.status, m.order.paymentHistory?.length])).toEqual([
			["status", "confirmed", 1],
			["payment", "confirmed", 1],
		]);
	});

	it("applies the same version once: sent again, it changes nothing and answers the order as it is", async () => {
		await awaitingPayment("o1");
		await aftercare.applyPayment(paid("o1"));
		await settled();
		const before = await orders.findById("o1");
		expect(await aftercare.applyPayment(paid("o1"))).toMatchObject({ status: "confirmed", paymentStatus: "paid" });
		expect(await orders.findById("o1")).toEqual(before);
		await expect(aftercare.applyPayment(paid("none"))).rejects.toMatchObject({ code: 404 });
	});

	it("leaves an order flagged by its expiry awaiting payment: the payment is recorded, the order is not confirmed (payments then refunds it)", async () => {
		await awaitingPayment("o1", { cancelling: true, cancelReason: "PAYMENT_EXPIRED" });
		const answer = await aftercare.applyPayment(paid("o1"));
		expect(answer).toMatchObject({ status: "awaiting_payment", paymentStatus: "paid" });
		await settled();
		expect(await orders.findById("o1")).toMatchObject({ status: "awaiting_payment", cancelling: true, paymentVersion: 1 });
		expect(published.map(m => m.change)).toEqual(["payment"]);
	});
});

describe("returns", () => {
	/** A delivered order of 2 A (paid 1000), and a caller that records what the return's steps ask of payments and products. */
	async function delivered(id: string): Promise<{ via: { call<T>(action: string, params?: object): Promise<T> }; calls: Array<{ action: string; params: { returnId?: string } }> }> {
		await awaitingPayment(id, { status: "delivered", paidCents: 1000, paymentStatus: "paid", awaitingPayment: undefined });
		const calls: Array<{ action: string; params: { returnId?: string } }> = [];
		// Payments refunds what it is asked.
		const via = {
			call: async <T>(action: string, params?: object): Promise<T> => {
				calls.push({ action, params: params as { returnId?: string } });
				return (action === "payments.refundReturn" ? { refundedCents: (params as { amountCents: number }).amountCents } : {}) as T;
			},
		};
		return { via, calls };
	}

	it("finishes each return once: a second return of the order does not ask payments or products again for the first", async () => {
		const { via, calls } = await delivered("o1");
		const one = (await aftercare.recordReturn(via, "o1", [{ productId: "A", quantity: 1, restock: true }])).order;
		const two = (await aftercare.recordReturn(via, "o1", [{ productId: "A", quantity: 1, restock: true }])).order;
		const [first, second] = two.returns.map(r => r.id);
		expect(one.returns.map(r => r.id)).toEqual([first]);
		expect(calls.map(c => `${c.action} ${c.params.returnId}`)).toEqual([
			`payments.refundReturn ${first}`,
			`products.restockReturn ${first}`,
			`payments.refundReturn ${second}`,
			`products.restockReturn ${second}`,
		]);
		expect(await orders.findById("o1")).not.toHaveProperty("returnPending");
	});

	it("a return left unfinished by a crash is finished by the settler, and the returns finished before it are not asked again", async () => {
		const { via, calls } = await delivered("o1");
		await aftercare.recordReturn(via, "o1", [{ productId: "A", quantity: 1, restock: true }]);
		// As a crash right after the second return's record leaves it: recorded, marked pending, nothing asked.
		const cut = { id: "ret-cut", items: [{ productId: "A", quantity: 1, restock: true }], refundCents: 500, at: AT };
		await orders.updateMany({ _id: "o1" }, { $push: { returns: cut }, $set: { returnPending: true } });
		calls.length = 0;
		await aftercare.recover(via, "2999-01-01T00:00:00.000Z");
		expect(calls.map(c => `${c.action} ${c.params.returnId}`)).toEqual(["payments.refundReturn ret-cut", "products.restockReturn ret-cut"]);
		expect(await orders.findById("o1")).not.toHaveProperty("returnPending");
	});
});

describe("a return's answer and refund", () => {
	beforeEach(() => awaitingPayment("o1", { status: "delivered", paidCents: 1000, paymentStatus: "paid", awaitingPayment: undefined }));

	it("answers the recorded return when its refund cannot be made now (the record is committed); the settler makes it", async () => {
		let down = true;
		const asked: string[] = [];
		const via = {
			call: async <T>(action: string, params?: object): Promise<T> => {
				asked.push(action);
				if (down) throw new Error("payments is away");
				return (action === "payments.refundReturn" ? { refundedCents: (params as { amountCents: number }).amountCents } : {}) as T;
			},
		};
		const answer = (await aftercare.recordReturn(via, "o1", [{ productId: "A", quantity: 1, restock: true }])).order;
		expect(answer.returns).toHaveLength(1);
		expect(await orders.findById("o1")).toMatchObject({ returnPending: true });
		down = false;
		await aftercare.recover(via, "2999-01-01T00:00:00.000Z");
		expect(asked).toEqual(["payments.refundReturn", "payments.refundReturn", "products.restockReturn"]);
		expect(await orders.findById("o1")).not.toHaveProperty("returnPending");
	});

	it("answers the recorded return once its wait is over when payments is slow; the refund and restock follow from the same attempt", async () => {
		let release!: () => void;
		const slow = new Promise<void>(resolve => (release = resolve));
		const asked: string[] = [];
		const via = {
			call: async <T>(action: string, params?: object): Promise<T> => {
				if (action === "payments.refundReturn") await slow;
				asked.push(action);
				return (action === "payments.refundReturn" ? { refundedCents: (params as { amountCents: number }).amountCents } : {}) as T;
			},
		};
		const answer = (await aftercare.recordReturn(via, "o1", [{ productId: "A", quantity: 1, restock: true }])).order;
		expect(answer.returns).toHaveLength(1);
		expect(asked).toEqual([]);
		release();
		await waitFor(async () => (await orders.findById("o1"))?.returnsDone === 1, 5000, "the return finished");
		expect(asked).toEqual(["payments.refundReturn", "products.restockReturn"]);
		expect(await orders.findById("o1")).not.toHaveProperty("returnPending");
	});

	it("records the refund payments made: less than the return asked when an admin refunded part meanwhile", async () => {
		const via = { call: async <T>(action: string): Promise<T> => (action === "payments.refundReturn" ? { refundedCents: 300 } : {}) as T };
		const answer = (await aftercare.recordReturn(via, "o1", [{ productId: "A", quantity: 1, restock: false }])).order;
		expect(answer.returns[0].refundCents).toBe(300);
		expect(await orders.findById("o1")).toMatchObject({ returnsDone: 1, returns: [expect.objectContaining({ refundCents: 300 })] });
	});
});

describe("returns of orders stored before payments", () => {
	it("records a return of an order the format migration gave an empty list of returns", async () => {
		await awaitingPayment("o1", { status: "delivered", paidCents: 0, paymentStatus: "unpaid", awaitingPayment: undefined, returns: [] });
		const via = { call: async <T>(): Promise<T> => ({}) as T };
		const answer = (await aftercare.recordReturn(via, "o1", [{ productId: "A", quantity: 1, restock: true }])).order;
		expect(answer.returns).toHaveLength(1);
		expect(answer.returns[0]).toMatchObject({ refundCents: 0, items: [{ productId: "A", quantity: 1, restock: true }] });
	});
});
