import { Errors, type LoggerInstance } from "moleculer";
import type { OrderStatusMessage } from "../../lib/contracts/channels";
import type { DbAdapter } from "../../lib/db/adapter";
import { REJECTION, type ReserveItem } from "../../lib/contracts/reservations";
import type { Order } from "../../lib/contracts/types";
import { ORDER_INDEXES, Placement, type OrderDoc, type Via } from "../../services/orders/placement";
import { PRODUCT_INDEXES, RESERVATION_INDEXES, type ProductDoc, type ReservationDoc } from "../../services/products/documents";
import { StockLedger } from "../../services/products/stock-ledger";
import { clock, Gate, memoryStore, NodeKilled, outcome, productDoc, through, valueOf } from "../helpers/stepped-store";

/**
 * The placement saga and its settler driven directly, one step at a time.
 * Each orders "node" is a Placement of its own over the same in-memory
 * orders store, and reaches it, products and the status channel through
 * its own gate: the test holds a node's steps (each write, each call to
 * products, each status message), lets them through one by one and reads
 * the stored orders, reservations and stock between steps; killing a node
 * stands for kill -9 there. Products is a real StockLedger on in-memory
 * stores, or a scripted answer (a timeout after the reserve was done, say).
 * Only Date is faked: the test moves the clock past the pending timeout.
 */

const TIMEOUT = 1_000;

let orders: DbAdapter<OrderDoc>;
let productDocs: DbAdapter<ProductDoc>;
let reservations: DbAdapter<ReservationDoc>;

/** A products node: the stock ledger over the shared stores, through its own gate. */
function productsNode(): { ledger: StockLedger; gate: Gate } {
	const gate = new Gate();
	const ledger = new StockLedger(through(productDocs, gate, "products"), through(reservations, gate, "reservations"), { pendingTimeoutMs: TIMEOUT }, async () => undefined);
	return { ledger, gate };
}

interface Call {
	orderId: string;
	items?: ReserveItem[];
}
/** Answers a call in place of products; `real` makes the call products would have answered. */
type Script = (params: Call, real: () => Promise<unknown>) => Promise<unknown>;

/** The request's context, or the settler's broker: calls to products and events, through the node's gate. */
class FakeVia implements Via {
	readonly emitted: string[] = [];
	private readonly scripts = new Map<string, Script[]>();

	constructor(
		private readonly gate: Gate,
		private readonly products: { ledger: StockLedger },
	) {}

	/** The next call of this action is answered by `script`. */
	once(action: string, script: Script): void {
		this.scripts.set(action, [...(this.scripts.get(action) ?? []), script]);
	}

	call<T>(action: string, params?: object): Promise<T> {
		const p = params as Call;
		const real = () => this.route(action, p);
		const script = this.scripts.get(action)?.shift();
		return this.gate.write({ collection: "products", op: "call", id: action }, () => (script ? script(p, real) : real())) as Promise<T>;
	}

	emit(event: string): void {
		if (!this.gate.killed) this.emitted.push(event);
	}

	private route(action: string, p: Call): Promise<unknown> {
		if (action === "products.reserve") return this.products.ledger.reserve(p.orderId, p.items ?? []);
		if (action === "products.release") return this.products.ledger.release(p.orderId);
		if (action === "products.reservation") return this.products.ledger.view(p.orderId);
		throw new Error(`No such action: ${action}`);
	}
}

interface OrdersNode {
	placement: Placement;
	gate: Gate;
	via: FakeVia;
	/** The status messages this node handed to the durable channel. */
	published: OrderStatusMessage[];
	warnings: string[];
}

/** The products node every orders node calls unless a test scripts another answer. */
let products: { ledger: StockLedger; gate: Gate };

function ordersNode(): OrdersNode {
	const gate = new Gate();
	const published: OrderStatusMessage[] = [];
	const warnings: string[] = [];
	const logger = { warn: (message: string) => void warnings.push(message) } as unknown as LoggerInstance;
	const placement = new Placement({
		orders: through(orders, gate, "orders"),
		settlement: { pendingTimeoutMs: TIMEOUT, recoveryIntervalMs: TIMEOUT },
		toPublic,
		publish: message => gate.write({ collection: "orders.status", op: "publish", id: message.order.id }, async () => void published.push(message)),
		logger,
	});
	return { placement, gate, via: new FakeVia(gate, products), published, warnings };
}

function toPublic(doc: OrderDoc): Order {
	const { _id, customerId, items, totalCents, status, statusHistory, shippingAddress, createdAt, updatedAt } = doc;
	return {
		id: _id,
		customerId,
		items,
		totalCents,
		status,
		statusHistory,
		shippingAddress,
		paymentStatus: "unpaid",
		paidCents: 0,
		paymentHistory: [],
		fulfilment: null,
		returns: [],
		createdAt,
		updatedAt,
	};
}

const ITEMS: ReserveItem[] = [
	{ productId: "A", quantity: 2 },
	{ productId: "B", quantity: 1 },
];
/** The price snapshot of ITEMS: A at 250, B at 400. */
const SNAPSHOT = [
	{ productId: "A", sku: "SKU-A", name: "Product A", unitPriceCents: 250, quantity: 2, lineTotalCents: 500 },
	{ productId: "B", sku: "SKU-B", name: "Product B", unitPriceCents: 400, quantity: 1, lineTotalCents: 400 },
];

async function stocks(): Promise<{ A: number; B: number }> {
	const [a, b] = [await productDocs.findById("A"), await productDocs.findById("B")];
	return { A: a!.stock, B: b!.stock };
}

const stored = (id: string) => orders.findById(id);
const statuses = (node: OrdersNode) => node.published.map(m => m.order.status);
const timeout = () => new Errors.RequestTimeoutError({ action: "products.reserve", nodeID: "products-1" });

function deferred(): { promise: Promise<void>; resolve(): void } {
	let resolve = () => {};
	const promise = new Promise<void>(r => (resolve = r));
	return { promise, resolve };
}

/** A confirmed order of ITEMS, its status published. */
async function confirmedOrder(): Promise<OrderDoc> {
	const node = ordersNode();
	const { order } = await node.placement.open("alice", undefined, ITEMS, null);
	const placed = await node.placement.place(node.via, order);
	await node.gate.idle();
	expect(placed).toMatchObject({ status: "confirmed" });
	expect((await stored(order._id))!.outbox).toBeUndefined();
	return placed;
}

beforeEach(async () => {
	clock.start();
	orders = await memoryStore<OrderDoc>("orders", ORDER_INDEXES);
	productDocs = await memoryStore<ProductDoc>("products", PRODUCT_INDEXES);
	reservations = await memoryStore<ReservationDoc>("reservations", RESERVATION_INDEXES);
	products = productsNode();
	await productDocs.insert(productDoc("A", 10, 250));
	await productDocs.insert(productDoc("B", 10, 400));
});
afterEach(async () => {
	clock.stop();
	await Promise.all([orders.disconnect(), productDocs.disconnect(), reservations.disconnect()]);
});

describe("open", () => {
	it("is idempotent per customer and Idempotency-Key; the key sent with another body is 422 and stores nothing", async () => {
		const node = ordersNode();
		const first = await node.placement.open("alice", "key-1", ITEMS, null);
		expect(first.created).toBe(true);
		expect(first.order).toMatchObject({ customerId: "alice", idemKey: "alice:key-1", status: "pending", pending: true, requested: ITEMS, items: [], totalCents: 0 });

		// The same body, its items in another order: the same order.
		const again = await node.placement.open("alice", "key-1", [...ITEMS].reverse(), null);
		expect(again).toEqual({ order: first.order, created: false });

		await expect(node.placement.open("alice", "key-1", [{ productId: "A", quantity: 3 }], null)).rejects.toMatchObject({ code: 422, type: "IDEMPOTENCY_KEY_REUSED" });
		expect(await orders.count({ query: {} })).toBe(1);

		// Another customer's key is another key.
		expect(await node.placement.open("bob", "key-1", ITEMS, null)).toMatchObject({ created: true, order: { customerId: "bob" } });
		expect(await orders.count({ query: {} })).toBe(2);
	});

	it("makes one order out of two opens with the same key interleaved write by write", async () => {
		const one = ordersNode();
		const two = ordersNode();
		one.gate.hold();
		two.gate.hold();
		const first = outcome(one.placement.open("alice", "key-1", ITEMS, null));
		const second = outcome(two.placement.open("alice", "key-1", ITEMS, null));
		// Both found no order for the key; both inserts wait.
		await Promise.all([one.gate.next(), two.gate.next()]);

		await one.gate.step();
		expect(await orders.count({ query: {} })).toBe(1);
		await two.gate.step(); // refused by the unique key: it reads the first's order
		expect(await orders.count({ query: {} })).toBe(1);

		const [a, b] = [valueOf(await first), valueOf(await second)];
		expect(a.created).toBe(true);
		expect(b).toEqual({ order: a.order, created: false });
	});
});

describe("place", () => {
	it("confirms with products' price snapshot, then publishes the status and clears the outbox mark, one step at a time", async () => {
		const node = ordersNode();
		const { order } = await node.placement.open("alice", undefined, ITEMS, null);
		node.gate.hold();
		const placing = outcome(node.placement.place(node.via, order));

		expect(await node.gate.step()).toMatchObject({ op: "call", id: "products.reserve" });
		// The crash window place.after-reserve: products holds the stock; the order is pending.
		expect(await stocks()).toEqual({ A: 8, B: 9 });
		expect(await reservations.findById(order._id)).toMatchObject({ state: "reserved" });
		expect(await stored(order._id)).toMatchObject({ status: "pending", pending: true });

		expect(await node.gate.step()).toMatchObject({ collection: "orders", op: "updateOne", id: order._id });
		const confirmed = await stored(order._id);
		expect(confirmed).toMatchObject({ status: "confirmed", items: SNAPSHOT, totalCents: 900, outbox: true });
		expect(confirmed!.statusHistory.map(h => h.status)).toEqual(["pending", "confirmed"]);
		expect(confirmed).not.toHaveProperty("pending");
		expect(confirmed).not.toHaveProperty("requested");
		expect(await placing).toEqual({ value: confirmed });

		// After the answer: the events, then the durable status message, then the mark goes.
		expect(await node.gate.step()).toMatchObject({ op: "publish", id: order._id });
		expect(node.via.emitted).toEqual(["order.created", "order.updated"]);
		expect(statuses(node)).toEqual(["confirmed"]);
		expect((await stored(order._id))!.outbox).toBe(true);
		await node.gate.step();
		expect((await stored(order._id))!.outbox).toBeUndefined();
	});

	it("keeps nothing of an order products refused: the key may be sent again", async () => {
		const node = ordersNode();
		const { order } = await node.placement.open("alice", "key-1", [{ productId: "A", quantity: 11 }], null);
		await expect(node.placement.place(node.via, order)).rejects.toMatchObject({ code: 409, type: REJECTION.insufficientStock });
		expect(await stored(order._id)).toBeNull();
		expect(await reservations.findById(order._id)).toBeNull();
		expect(await stocks()).toEqual({ A: 10, B: 10 });
		expect(node.via.emitted).toEqual([]);
		expect(await node.placement.open("alice", "key-1", [{ productId: "A", quantity: 11 }], null)).toMatchObject({ created: true });
	});
});

describe("a reserve whose answer is lost to a timeout", () => {
	it("is abandoned by the request: the order is claimed, released and removed; a reserve that lands after finds the tombstone and gives back", async () => {
		const node = ordersNode();
		const { order } = await node.placement.open("alice", undefined, ITEMS, null);
		// The call times out while the reserve is still on its way to a products node that is slow to take.
		const slow = productsNode();
		slow.gate.hold();
		let landing: Promise<unknown> = Promise.resolve();
		node.via.once("products.reserve", async params => {
			landing = outcome(slow.ledger.reserve(params.orderId, params.items ?? []));
			throw timeout();
		});
		node.gate.hold();
		const placing = outcome(node.placement.place(node.via, order));

		await node.gate.step(); // the reserve call: a timeout
		expect(await node.gate.step()).toMatchObject({ collection: "orders", op: "updateMany", id: order._id });
		expect(await stored(order._id)).toMatchObject({ status: "pending", cancelling: true });
		expect(await node.gate.step()).toMatchObject({ op: "call", id: "products.release" });
		expect(await reservations.findById(order._id)).toMatchObject({ state: "released", reason: "RELEASED_BEFORE_RESERVE" });
		expect(await node.gate.step()).toMatchObject({ collection: "orders", op: "removeMany", id: order._id });
		expect(await stored(order._id)).toBeNull();
		expect(await placing).toMatchObject({ error: { code: 503, type: "ORDER_NOT_PLACED" } });

		// The late reserve takes, finds the tombstone and gives back.
		slow.gate.open();
		expect(await landing).toMatchObject({ error: { code: 409, type: REJECTION.closed } });
		expect(await stocks()).toEqual({ A: 10, B: 10 });
		expect(node.via.emitted).toEqual([]);
	});

	it("is confirmed by the settler from products' view once the pending timeout has passed, when the request's node died before abandoning it", async () => {
		const node = ordersNode();
		const { order } = await node.placement.open("alice", undefined, ITEMS, null);
		node.via.once("products.reserve", async (_params, real) => {
			await real();
			throw timeout();
		});
		node.gate.hold();
		const placing = outcome(node.placement.place(node.via, order));
		await node.gate.step(); // reserved by products; the answer is lost
		expect(await node.gate.next()).toMatchObject({ collection: "orders", op: "updateMany" }); // its claim
		node.gate.kill();
		// Its abandon failed (logged): it answers 503, and leaves the order to the settler.
		expect(await placing).toMatchObject({ error: { code: 503, type: "ORDER_NOT_PLACED" } });
		expect(node.warnings).toEqual([`Order ${order._id} stays pending until the settler can reach products`]);
		expect(await stored(order._id)).toMatchObject({ status: "pending", pending: true });
		expect(await stored(order._id)).not.toHaveProperty("cancelling");
		expect(await stocks()).toEqual({ A: 8, B: 9 });

		const settler = ordersNode();
		await settler.placement.recoverStale(settler.via);
		expect(await stored(order._id)).toMatchObject({ status: "pending" });
		clock.advance(TIMEOUT);
		await settler.placement.recoverStale(settler.via);
		await settler.gate.idle();
		expect(await stored(order._id)).toMatchObject({ status: "confirmed", items: SNAPSHOT, totalCents: 900 });
		expect((await stored(order._id))!.outbox).toBeUndefined();
		expect(statuses(settler)).toEqual(["confirmed"]);
		expect(settler.via.emitted).toEqual(["order.created", "order.updated"]);
		expect(await stocks()).toEqual({ A: 8, B: 9 });

		await settler.placement.recoverStale(settler.via);
		await settler.gate.idle();
		expect(statuses(settler)).toEqual(["confirmed"]);
		expect(await stocks()).toEqual({ A: 8, B: 9 });
	});

	it("answers the order the settler confirmed meanwhile", async () => {
		const node = ordersNode();
		const { order } = await node.placement.open("alice", undefined, ITEMS, null);
		const reserved = deferred();
		const lost = deferred();
		node.via.once("products.reserve", async (_params, real) => {
			await real();
			reserved.resolve();
			await lost.promise;
			throw timeout();
		});
		const placing = outcome(node.placement.place(node.via, order));
		await reserved.promise;

		// The request is still waiting past the pending timeout: the settler confirms from products' view.
		clock.advance(TIMEOUT);
		const settler = ordersNode();
		await settler.placement.recoverStale(settler.via);
		expect(await stored(order._id)).toMatchObject({ status: "confirmed", totalCents: 900 });

		// The answer is lost: the request's claim finds the order confirmed, and answers it.
		lost.resolve();
		expect(await placing).toMatchObject({ value: { _id: order._id, status: "confirmed", items: SNAPSHOT } });
		await Promise.all([node.gate.idle(), settler.gate.idle()]);
		expect(await stored(order._id)).toMatchObject({ status: "confirmed" });
		expect(await reservations.findById(order._id)).toMatchObject({ state: "reserved" });
		expect(await stocks()).toEqual({ A: 8, B: 9 });
		expect([...statuses(node), ...statuses(settler)]).toEqual(["confirmed"]);
	});
});

describe("the settler", () => {
	it("removes a stale pending order products did not hold: claimed, then released (giving back a reserve that landed meanwhile), then removed", async () => {
		const node = ordersNode();
		const { order } = await node.placement.open("alice", "key-1", ITEMS, null);
		node.gate.hold();
		const placing = outcome(node.placement.place(node.via, order));
		await node.gate.next(); // the reserve call
		node.gate.kill(); // the crash point place.after-open
		await placing; // (the dead node's steps fail; no client hears its answer)
		expect(await stored(order._id)).toMatchObject({ status: "pending", pending: true });
		expect(await stored(order._id)).not.toHaveProperty("cancelling");

		const settler = ordersNode();
		settler.gate.hold();
		clock.advance(TIMEOUT);
		const settling = outcome(settler.placement.recoverStale(settler.via));
		expect(await settler.gate.step()).toMatchObject({ op: "call", id: "products.reservation" });
		expect(await settler.gate.step()).toMatchObject({ collection: "orders", op: "updateMany", id: order._id });
		expect(await stored(order._id)).toMatchObject({ status: "pending", cancelling: true });
		// The dead request's reserve lands now, after products answered "none": the release that follows gives it back.
		expect(await products.ledger.reserve(order._id, ITEMS)).toMatchObject({ state: "reserved" });
		expect(await stocks()).toEqual({ A: 8, B: 9 });
		expect(await settler.gate.step()).toMatchObject({ op: "call", id: "products.release" });
		expect(await stocks()).toEqual({ A: 10, B: 10 });
		expect(await settler.gate.step()).toMatchObject({ collection: "orders", op: "removeMany", id: order._id });
		settler.gate.open();
		expect(await settling).toEqual({ value: undefined });
		expect(await stored(order._id)).toBeNull();
		expect(settler.published).toEqual([]);
		expect(settler.via.emitted).toEqual([]);

		// Closed: another attempt takes nothing. Never announced, so never an order: the key makes a new one.
		await expect(products.ledger.reserve(order._id, ITEMS)).rejects.toMatchObject({ code: 409, type: REJECTION.closed });
		expect(await stocks()).toEqual({ A: 10, B: 10 });
		expect(await ordersNode().placement.open("alice", "key-1", ITEMS, null)).toMatchObject({ created: true });
	});
});

describe("the status outbox", () => {
	it("is sent once by the settler when the node died between the confirm and the publish", async () => {
		const node = ordersNode();
		const { order } = await node.placement.open("alice", undefined, ITEMS, null);
		node.gate.hold();
		const placing = outcome(node.placement.place(node.via, order));
		await node.gate.step(); // the reserve
		await node.gate.step(); // the confirm
		expect(await placing).toMatchObject({ value: { status: "confirmed" } });
		expect(await node.gate.next()).toMatchObject({ op: "publish" });
		node.gate.kill(); // the crash point status.after-move
		await node.gate.idle();
		expect(node.published).toEqual([]);
		expect(await stored(order._id)).toMatchObject({ status: "confirmed", outbox: true });

		const settler = ordersNode();
		await settler.placement.recoverStale(settler.via);
		expect(settler.published).toEqual([]);
		clock.advance(TIMEOUT);
		await settler.placement.recoverStale(settler.via);
		expect(settler.published).toEqual([{ order: toPublic((await stored(order._id))!), cancelReason: undefined }]);
		expect((await stored(order._id))!.outbox).toBeUndefined();
		await settler.placement.recoverStale(settler.via);
		expect(statuses(settler)).toEqual(["confirmed"]);
	});

	it("is sent again once by the settler when the node died between the publish and clearing the mark, then never", async () => {
		const node = ordersNode();
		const { order } = await node.placement.open("alice", undefined, ITEMS, null);
		node.gate.hold();
		void outcome(node.placement.place(node.via, order));
		await node.gate.step(); // the reserve
		await node.gate.step(); // the confirm
		await node.gate.step(); // the publish
		expect(statuses(node)).toEqual(["confirmed"]);
		expect(await node.gate.next()).toMatchObject({ collection: "orders", op: "updateMany" });
		node.gate.kill(); // the crash point status.after-publish
		await node.gate.idle();
		expect(await stored(order._id)).toMatchObject({ outbox: true });

		const settler = ordersNode();
		clock.advance(TIMEOUT);
		await settler.placement.recoverStale(settler.via);
		await settler.placement.recoverStale(settler.via);
		// At least once, then never again: a consumer gets the message twice (analytics applies an order's state by its version).
		expect(statuses(settler)).toEqual(["confirmed"]);
		expect((await stored(order._id))!.outbox).toBeUndefined();
	});
});

describe("cancel racing with ship", () => {
	it("refuses the ship once the cancel has flagged the order; the cancel finishes and gives the stock back once", async () => {
		const order = await confirmedOrder();
		expect(await stocks()).toEqual({ A: 8, B: 9 });
		const canceller = ordersNode();
		const shipper = ordersNode();
		canceller.gate.hold();
		const cancelling = outcome(canceller.placement.cancel(canceller.via, order, "CANCELLED_BY_CUSTOMER"));

		expect(await canceller.gate.step()).toMatchObject({ collection: "orders", op: "updateMany", id: order._id });
		expect(await stored(order._id)).toMatchObject({ status: "confirmed", cancelling: true, cancelReason: "CANCELLED_BY_CUSTOMER" });
		await expect(shipper.placement.move(shipper.via, order, "shipped")).rejects.toMatchObject({ code: 409, type: "INVALID_STATUS_TRANSITION" });
		expect(await stored(order._id)).toMatchObject({ status: "confirmed", cancelling: true });

		expect(await canceller.gate.step()).toMatchObject({ op: "call", id: "products.release" });
		expect(await stocks()).toEqual({ A: 10, B: 10 });
		canceller.gate.open();
		expect(await cancelling).toMatchObject({ value: { status: "cancelled", cancelReason: "CANCELLED_BY_CUSTOMER" } });
		await canceller.gate.idle();
		const cancelled = await stored(order._id);
		expect(cancelled).not.toHaveProperty("cancelling");
		expect(cancelled!.statusHistory.map(h => h.status)).toEqual(["pending", "confirmed", "cancelled"]);
		expect(canceller.published).toEqual([{ order: toPublic(cancelled!), cancelReason: "CANCELLED_BY_CUSTOMER" }]);
		await expect(shipper.placement.move(shipper.via, cancelled!, "shipped")).rejects.toMatchObject({ code: 409 });
		expect(await stocks()).toEqual({ A: 10, B: 10 });
	});

	it("refuses the cancel when the ship got there first; the stock stays held", async () => {
		const order = await confirmedOrder();
		const canceller = ordersNode();
		const shipper = ordersNode();
		canceller.gate.hold();
		const cancelling = outcome(canceller.placement.cancel(canceller.via, order, "CANCELLED_BY_CUSTOMER"));
		await canceller.gate.next(); // its flag waits

		expect(await shipper.placement.move(shipper.via, order, "shipped")).toMatchObject({ status: "shipped" });
		await canceller.gate.step(); // the flag matches nothing
		expect(await cancelling).toMatchObject({ error: { code: 409, type: "INVALID_STATUS_TRANSITION" } });
		canceller.gate.open();
		await canceller.gate.idle();
		expect(await stored(order._id)).toMatchObject({ status: "shipped" });
		expect(await stored(order._id)).not.toHaveProperty("cancelling");
		expect(canceller.gate.passed.map(w => w.op)).toEqual(["updateMany"]);
		expect(await reservations.findById(order._id)).toMatchObject({ state: "reserved" });
		expect(await stocks()).toEqual({ A: 8, B: 9 });
	});

	it("keeps an order whose cancel died after its release from shipping; the settler finishes the cancel, releasing nothing twice", async () => {
		const order = await confirmedOrder();
		const canceller = ordersNode();
		const shipper = ordersNode();
		canceller.gate.hold();
		const cancelling = outcome(canceller.placement.cancel(canceller.via, order, "CANCELLED_BY_ADMIN"));
		await canceller.gate.step(); // the flag
		await canceller.gate.step(); // the release
		await canceller.gate.next();
		canceller.gate.kill(); // the crash point cancel.after-release
		expect(await cancelling).toEqual({ error: expect.any(NodeKilled) });
		expect(await stored(order._id)).toMatchObject({ status: "confirmed", cancelling: true, cancelReason: "CANCELLED_BY_ADMIN" });
		expect(await stocks()).toEqual({ A: 10, B: 10 });

		await expect(shipper.placement.move(shipper.via, order, "shipped")).rejects.toMatchObject({ code: 409 });

		const settler = ordersNode();
		await settler.placement.recoverStale(settler.via);
		expect(await stored(order._id)).toMatchObject({ status: "confirmed", cancelling: true });
		clock.advance(TIMEOUT);
		await settler.placement.recoverStale(settler.via);
		await settler.gate.idle();
		expect(await stored(order._id)).toMatchObject({ status: "cancelled", cancelReason: "CANCELLED_BY_ADMIN" });
		expect(await stored(order._id)).not.toHaveProperty("cancelling");
		expect(statuses(settler)).toEqual(["cancelled"]);
		expect(await stocks()).toEqual({ A: 10, B: 10 });
		await settler.placement.recoverStale(settler.via);
		await settler.gate.idle();
		expect(statuses(settler)).toEqual(["cancelled"]);
		expect(await stocks()).toEqual({ A: 10, B: 10 });
	});
});
