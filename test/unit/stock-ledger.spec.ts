import type { DbAdapter } from "../../lib/db/adapter";
import { REJECTION, type ReserveItem } from "../../lib/contracts/reservations";
import { PRODUCT_INDEXES, RESERVATION_INDEXES, type ProductDoc, type ReservationDoc } from "../../services/products/documents";
import { StockLedger } from "../../services/products/stock-ledger";
import { clock, Gate, memoryStore, NodeKilled, outcome, productDoc, through } from "../helpers/stepped-store";

/**
 * The stock ledger driven directly, one write at a time. Each "node" is a
 * StockLedger of its own over the same in-memory stores (as products
 * nodes share one database), reaching them through its own gate: the test
 * holds a node's writes, steps them through one by one and reads the
 * stored products and reservations between steps. Killing a node stands
 * for kill -9 at that write. Only Date is faked: the test moves the clock
 * past the pending timeout.
 */

const TIMEOUT = 1_000;
/** recover() removes failed outcomes and release markers this long after: ten pending timeouts. */
const GRACE = 10 * TIMEOUT;

let products: DbAdapter<ProductDoc>;
let reservations: DbAdapter<ReservationDoc>;

interface Node {
	ledger: StockLedger;
	gate: Gate;
	/** The product ids of each stockMoved call, in order. */
	moved: string[][];
}

function node(): Node {
	const gate = new Gate();
	const moved: string[][] = [];
	const ledger = new StockLedger(through(products, gate, "products"), through(reservations, gate, "reservations"), { pendingTimeoutMs: TIMEOUT }, async ids => void moved.push(ids));
	return { ledger, gate, moved };
}

const item = (productId: string, quantity: number): ReserveItem => ({ productId, quantity });
const line = (productId: string, quantity: number, unitPriceCents = 250) => ({ productId, sku: `SKU-${productId}`, name: `Product ${productId}`, unitPriceCents, quantity });

/** Each product's stock, by id: every read also checks it never went below zero. */
async function stocks(...ids: string[]): Promise<Record<string, number>> {
	const out: Record<string, number> = {};
	for (const id of ids) {
		const { stock } = (await products.findById(id))!;
		expect(stock).toBeGreaterThanOrEqual(0);
		out[id] = stock;
	}
	return out;
}

/** The markers a product carries (`r_<order>` for a take, `g_<order>` for a give-back). */
async function markers(id: string): Promise<string[]> {
	return Object.keys((await products.findById(id))!.holds).sort();
}

const reservation = (orderId: string) => reservations.findById(orderId);

beforeEach(async () => {
	clock.start();
	products = await memoryStore<ProductDoc>("products", PRODUCT_INDEXES);
	reservations = await memoryStore<ReservationDoc>("reservations", RESERVATION_INDEXES);
});
afterEach(async () => {
	clock.stop();
	await products.disconnect();
	await reservations.disconnect();
});

describe("reserve", () => {
	it("lets exactly one of two reserves racing for the last units win; the loser gives back what it took, and stock never goes below zero", async () => {
		await products.insert(productDoc("A", 5, 250));
		await products.insert(productDoc("B", 3, 250));
		const x = node();
		const y = node();
		x.gate.hold();
		y.gate.hold();
		const xs = outcome(x.ledger.reserve("X", [item("A", 1), item("B", 3)]));
		const ys = outcome(y.ledger.reserve("Y", [item("A", 1), item("B", 3)]));

		// Both have read enough of each product; neither has taken anything.
		await Promise.all([x.gate.next(), y.gate.next()]);
		expect(await stocks("A", "B")).toEqual({ A: 5, B: 3 });

		expect(await x.gate.step()).toMatchObject({ op: "updateMany", id: "A", update: { $inc: { stock: -1 } } });
		expect(await stocks("A", "B")).toEqual({ A: 4, B: 3 });
		await y.gate.step();
		expect(await stocks("A", "B")).toEqual({ A: 3, B: 3 });
		expect(await markers("A")).toEqual(["r_X", "r_Y"]);

		// X takes the last units of B; Y's take of B then matches nothing.
		await x.gate.step();
		expect(await stocks("A", "B")).toEqual({ A: 3, B: 0 });
		expect(await y.gate.step()).toMatchObject({ op: "updateMany", id: "B", update: { $inc: { stock: -3 } } });
		expect(await stocks("A", "B")).toEqual({ A: 3, B: 0 });
		expect(await markers("B")).toEqual(["r_X"]);

		// Y stores its failed outcome first (the crash window reserve.after-failed-outcome: its unit of A is still taken)...
		expect(await y.gate.step()).toMatchObject({ collection: "reservations", op: "insert", id: "Y" });
		expect(await reservation("Y")).toMatchObject({ state: "failed", failed: true, reason: REJECTION.insufficientStock, short: [{ productId: "B", requested: 3, available: 0 }] });
		expect(await stocks("A", "B")).toEqual({ A: 3, B: 0 });
		// ...then gives it back.
		expect(await y.gate.step()).toMatchObject({ op: "updateMany", id: "A", update: { $inc: { stock: 1 } } });
		expect(await stocks("A", "B")).toEqual({ A: 4, B: 0 });
		expect(await markers("A")).toEqual(["r_X"]);
		y.gate.open();
		expect(await ys).toMatchObject({ error: { code: 409, type: REJECTION.insufficientStock, data: { items: [{ productId: "B", requested: 3, available: 0 }] } } });

		expect(await x.gate.step()).toMatchObject({ collection: "reservations", op: "insert", id: "X" });
		expect(await xs).toEqual({ value: { orderId: "X", state: "reserved", lines: [line("A", 1), line("B", 3)] } });
		expect(await reservation("X")).toMatchObject({ state: "reserved", lines: [line("A", 1), line("B", 3)] });
		expect(await stocks("A", "B")).toEqual({ A: 4, B: 0 });
	});

	it("takes once for two attempts of the same order interleaved write by write, and answers both with the same lines", async () => {
		await products.insert(productDoc("A", 10, 250));
		await products.insert(productDoc("B", 10, 250));
		const first = node();
		const retry = node();
		first.gate.hold();
		retry.gate.hold();
		const items = [item("A", 2), item("B", 1)];
		const firstDone = outcome(first.ledger.reserve("X", items));
		const retryDone = outcome(retry.ledger.reserve("X", items));
		await Promise.all([first.gate.next(), retry.gate.next()]);

		await first.gate.step(); // takes A
		await retry.gate.step(); // A carries X's marker: taken already, nothing moves
		expect(await stocks("A", "B")).toEqual({ A: 8, B: 10 });
		await retry.gate.step(); // takes B
		await first.gate.step(); // B carries X's marker
		expect(await stocks("A", "B")).toEqual({ A: 8, B: 9 });

		expect(await first.gate.step()).toMatchObject({ collection: "reservations", op: "insert", id: "X" });
		// The retry's outcome is refused by the unique id: it answers from the stored one.
		expect(await retry.gate.step()).toMatchObject({ collection: "reservations", op: "insert", id: "X" });
		const answer = { orderId: "X", state: "reserved", lines: [line("A", 2), line("B", 1)] };
		expect(await firstDone).toEqual({ value: answer });
		expect(await retryDone).toEqual({ value: answer });
		expect(await stocks("A", "B")).toEqual({ A: 8, B: 9 });

		// A repeat once the outcome is stored answers it and writes nothing.
		const later = node();
		expect(await later.ledger.reserve("X", items)).toEqual(answer);
		expect(later.gate.passed).toEqual([]);
		expect(await stocks("A", "B")).toEqual({ A: 8, B: 9 });
	});

	it("takes nothing for a retry that read before the first attempt stored its outcome, even once that attempt's markers are cleared", async () => {
		await products.insert(productDoc("A", 10, 250));
		const first = node();
		const retry = node();
		retry.gate.hold();
		const retried = outcome(retry.ledger.reserve("X", [item("A", 2)]));
		// The retry has read: no outcome yet, enough stock; its take waits.
		await retry.gate.next();

		await first.ledger.reserve("X", [item("A", 2)]);
		expect(await stocks("A")).toEqual({ A: 8 });
		// The reserved order's take marker goes (with the product's next take, or by the flush).
		await first.ledger.flushMarkerClears();
		expect(await markers("A")).toEqual([]);

		retry.gate.open();
		expect(await retried).toEqual({ value: { orderId: "X", state: "reserved", lines: [line("A", 2)] } });
		expect(await stocks("A")).toEqual({ A: 8 });

		// Released, the order holds nothing, and nothing stays held after the settler's rounds.
		await first.ledger.release("X");
		clock.advance(GRACE);
		await first.ledger.recover();
		expect(await stocks("A")).toEqual({ A: 10 });
		expect(await markers("A")).toEqual([]);
	});
});

/**
 * Order X reserved by a first attempt while a late attempt of it has read
 * (no outcome yet) and waits at its first take; the first attempt's take
 * markers are cleared, as its node clears them with the next take or the flush.
 */
async function lateAttempt(items: ReserveItem[]) {
	const first = node();
	const late = node();
	late.gate.hold();
	const ended = outcome(late.ledger.reserve("X", items));
	await late.gate.next();
	await first.ledger.reserve("X", items);
	await first.ledger.flushMarkerClears();
	return { first, late, ended };
}

describe("a late attempt's take once the counted takes' markers are cleared", () => {
	it("is given back once by recover when the late attempt dies right after it, and the order's release gives back the rest", async () => {
		await products.insert(productDoc("A", 10, 250));
		const { first, late, ended } = await lateAttempt([item("A", 2)]);
		expect(await stocks("A")).toEqual({ A: 8 });
		expect(await late.gate.step()).toMatchObject({ op: "updateMany", id: "A", update: { $inc: { stock: -2 } } });
		expect(await stocks("A")).toEqual({ A: 6 });
		expect(await late.gate.next()).toMatchObject({ collection: "reservations", op: "insert", id: "X" });
		late.gate.kill(); // kill -9 after its extra take (the crash point reserve.after-take)
		expect(await ended).toEqual({ error: expect.any(NodeKilled) });

		// The reservation counts the first attempt's take: the other marker is an extra take, given back at once.
		const settler = node();
		await settler.ledger.recover();
		expect(await stocks("A")).toEqual({ A: 8 });
		expect(await markers("A")).toEqual([]);
		expect(settler.moved).toEqual([["A"]]);
		await settler.ledger.recover();
		clock.advance(GRACE);
		await settler.ledger.recover();
		expect(await stocks("A")).toEqual({ A: 8 });
		expect(settler.moved).toEqual([["A"]]);

		await first.ledger.release("X");
		expect(await stocks("A")).toEqual({ A: 10 });
	});

	it("is given back once by recover when the late attempt dies between its give-backs, its outcome refused (the crash point reserve.after-refused-outcome and after)", async () => {
		await products.insert(productDoc("A", 10, 250));
		await products.insert(productDoc("B", 10, 250));
		const { first, late, ended } = await lateAttempt([item("A", 2), item("B", 1)]);
		await late.gate.step(); // takes A again
		await late.gate.step(); // takes B again
		expect(await stocks("A", "B")).toEqual({ A: 6, B: 8 });
		expect(await late.gate.step()).toMatchObject({ collection: "reservations", op: "insert", id: "X" }); // refused: the first outcome is there
		expect(await reservation("X")).toMatchObject({ state: "reserved", lines: [line("A", 2), line("B", 1)] });
		expect(await late.gate.step()).toMatchObject({ op: "updateMany", id: "A", update: { $inc: { stock: 2 } } });
		expect(await stocks("A", "B")).toEqual({ A: 8, B: 8 });
		expect(await late.gate.next()).toMatchObject({ op: "updateMany", id: "B", update: { $inc: { stock: 1 } } });
		late.gate.kill();
		expect(await ended).toEqual({ error: expect.any(NodeKilled) });

		const settler = node();
		await settler.ledger.recover();
		await settler.ledger.recover();
		expect(await stocks("A", "B")).toEqual({ A: 8, B: 9 });
		expect([await markers("A"), await markers("B")]).toEqual([[], []]);
		expect(settler.moved).toEqual([["B"]]);

		await first.ledger.release("X");
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 10 });
	});

	it("is given back once when recover and the late attempt both come to give it back", async () => {
		await products.insert(productDoc("A", 10, 250));
		const { late, ended } = await lateAttempt([item("A", 2)]);
		await late.gate.step(); // takes A again
		await late.gate.step(); // its outcome refused
		expect(await stocks("A")).toEqual({ A: 6 });
		await node().ledger.recover();
		expect(await stocks("A")).toEqual({ A: 8 });

		// Its own give-back, guarded on its attempt, finds the take gone.
		expect(await late.gate.step()).toMatchObject({ op: "updateMany", id: "A", update: { $inc: { stock: 2 } } });
		late.gate.open();
		expect(await ended).toEqual({ value: { orderId: "X", state: "reserved", lines: [line("A", 2)] } });
		expect(await stocks("A")).toEqual({ A: 8 });
		expect(late.moved).toEqual([]);
	});

	it("is given back by a late attempt that finds the order released, which it answers closed", async () => {
		await products.insert(productDoc("A", 10, 250));
		const { first, late, ended } = await lateAttempt([item("A", 2)]);
		await first.ledger.release("X");
		expect(await stocks("A")).toEqual({ A: 10 });
		late.gate.open();
		expect(await ended).toMatchObject({ error: { code: 409, type: REJECTION.closed } });
		expect(await stocks("A")).toEqual({ A: 10 });
		expect(await markers("A")).toEqual(["g_X"]);
		expect(late.moved).toEqual([["A"]]);
	});

	it("cannot happen while the storing node's queued clear may still land: recover leaves a counted marker to it until the pending timeout", async () => {
		await products.insert(productDoc("A", 10, 250));
		const first = node();
		const late = node();
		late.gate.hold();
		const ended = outcome(late.ledger.reserve("X", [item("A", 2)]));
		await late.gate.next();
		await first.ledger.reserve("X", [item("A", 2)]); // its clear of r_X is queued, not yet sent

		// Another node's recover leaves the counted marker: the late take finds it and takes nothing.
		await node().ledger.recover();
		expect(await markers("A")).toEqual(["r_X"]);
		await late.gate.step();
		expect(await stocks("A")).toEqual({ A: 8 });
		// The queued clear lands (unconditional): only the counted marker was there to remove.
		await first.ledger.flushMarkerClears();
		late.gate.open();
		expect(await ended).toEqual({ value: { orderId: "X", state: "reserved", lines: [line("A", 2)] } });
		expect(await stocks("A")).toEqual({ A: 8 });
		expect(await markers("A")).toEqual([]);
	});

	it("is not removed by a queued clear that waited too long: it is dropped once recover may have cleared the counted marker", async () => {
		await products.insert(productDoc("A", 10, 250));
		const first = node();
		const late = node();
		late.gate.hold();
		const ended = outcome(late.ledger.reserve("X", [item("A", 2)]));
		await late.gate.next();
		await first.ledger.reserve("X", [item("A", 2)]); // its clear of r_X is queued, and waits (a stalled node)

		clock.advance(TIMEOUT);
		await node().ledger.recover(); // clears the counted marker
		expect(await markers("A")).toEqual([]);
		await late.gate.step(); // takes A again
		expect(await stocks("A")).toEqual({ A: 6 });
		await first.ledger.flushMarkerClears(); // dropped: the late take's marker stays
		expect(await markers("A")).toEqual(["r_X"]);

		late.gate.open();
		expect(await ended).toEqual({ value: { orderId: "X", state: "reserved", lines: [line("A", 2)] } });
		expect(await stocks("A")).toEqual({ A: 8 });
		expect(await markers("A")).toEqual([]);
	});

	it("is told apart on documents stored before attempts were: a reservation without counted takes counts every take, a marker without an attempt counts when the reservation names none", async () => {
		await products.insert(productDoc("A", 6, 250));
		const at = new Date().toISOString();
		const reserved = { state: "reserved" as const, lines: [line("A", 2)], createdAt: at, updatedAt: at };
		await reservations.insert({ _id: "OLD", ...reserved });
		await reservations.insert({ _id: "MIXED", ...reserved, counted: { A: "f00dfeed0001" } });
		await reservations.insert({ _id: "NAMED", ...reserved, counted: { A: "" } });
		await products.updateMany({ _id: "A" }, { $set: { "holds.r_OLD": { q: 2, at: Date.now() }, "holds.r_MIXED": { q: 2, at: Date.now() }, "holds.r_NAMED": { q: 2, at: Date.now() } } });
		expect(await stocks("A")).toEqual({ A: 6 });

		// MIXED counted another attempt's take: its unnamed marker is an extra take, given back.
		const settler = node();
		await settler.ledger.recover();
		expect(await stocks("A")).toEqual({ A: 8 });
		expect(await markers("A")).toEqual(["r_NAMED", "r_OLD"]);
		clock.advance(TIMEOUT);
		await settler.ledger.recover();
		expect(await stocks("A")).toEqual({ A: 8 });
		expect(await markers("A")).toEqual([]);
	});
});

describe("release before reserve", () => {
	it("leaves a tombstone that makes a reserve still on its way give back each take", async () => {
		await products.insert(productDoc("A", 10, 250));
		await products.insert(productDoc("B", 10, 250));
		const x = node();
		x.gate.hold();
		const reserving = outcome(x.ledger.reserve("X", [item("A", 2), item("B", 1)]));
		await x.gate.step(); // takes A
		expect(await stocks("A", "B")).toEqual({ A: 8, B: 10 });

		// The release comes first (say, the order gave up waiting): no reservation yet, so a tombstone.
		const releaser = node();
		expect(await releaser.ledger.release("X")).toEqual({ orderId: "X", state: "released", released: false });
		expect(await reservation("X")).toMatchObject({ state: "released", items: [], reason: "RELEASED_BEFORE_RESERVE" });
		expect(await stocks("A", "B")).toEqual({ A: 8, B: 10 });

		await x.gate.step(); // takes B
		expect(await stocks("A", "B")).toEqual({ A: 8, B: 9 });
		expect(await x.gate.step()).toMatchObject({ collection: "reservations", op: "insert", id: "X" }); // refused: the tombstone is there
		expect(await reservation("X")).toMatchObject({ state: "released", reason: "RELEASED_BEFORE_RESERVE" });
		await x.gate.step(); // gives back A
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 9 });
		await x.gate.step(); // gives back B
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 10 });
		expect(await reserving).toMatchObject({ error: { code: 409, type: REJECTION.closed } });
		expect([await markers("A"), await markers("B")]).toEqual([[], []]);
		expect(x.moved).toEqual([["A", "B"]]);

		// Another release and another attempt change nothing.
		expect(await releaser.ledger.release("X")).toEqual({ orderId: "X", state: "released", released: false });
		expect(await outcome(node().ledger.reserve("X", [item("A", 2), item("B", 1)]))).toMatchObject({ error: { code: 409, type: REJECTION.closed } });
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 10 });
	});
});

describe("an attempt that dies after a take", () => {
	it("is left alone until the pending timeout, then failed and given back once by recover, even when recover itself dies between its writes", async () => {
		await products.insert(productDoc("A", 10, 250));
		await products.insert(productDoc("B", 10, 250));
		const x = node();
		x.gate.hold();
		const reserving = outcome(x.ledger.reserve("X", [item("A", 3), item("B", 2)]));
		await x.gate.step(); // takes A
		expect(await x.gate.next()).toMatchObject({ op: "updateMany", id: "B" });
		x.gate.kill(); // kill -9 before the take of B (the crash point reserve.after-take)
		expect(await reserving).toEqual({ error: expect.any(NodeKilled) });
		expect(await stocks("A", "B")).toEqual({ A: 7, B: 10 });
		expect(await reservation("X")).toBeNull();

		// Before the timeout the attempt may still be running: recover leaves its take.
		const settler = node();
		await settler.ledger.recover();
		clock.advance(TIMEOUT - 1);
		await settler.ledger.recover();
		expect(await stocks("A", "B")).toEqual({ A: 7, B: 10 });
		expect(await markers("A")).toEqual(["r_X"]);
		expect(await reservation("X")).toBeNull();

		// Past it, a settler fails the attempt and dies before giving back (the crash point recover.after-expiring).
		clock.advance(1);
		const dying = node();
		dying.gate.hold();
		const recovering = outcome(dying.ledger.recover());
		expect(await dying.gate.step()).toMatchObject({ collection: "reservations", op: "insert", id: "X" });
		expect(await reservation("X")).toMatchObject({ state: "failed", reason: "EXPIRED", items: [item("A", 3)] });
		await dying.gate.next();
		dying.gate.kill();
		expect(await recovering).toEqual({ error: expect.any(NodeKilled) });
		expect(await stocks("A", "B")).toEqual({ A: 7, B: 10 });

		// The next round gives A back, once.
		await settler.ledger.recover();
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 10 });
		expect(await markers("A")).toEqual([]);
		expect(settler.moved).toEqual([["A"]]);
		await settler.ledger.recover();
		expect(settler.moved).toEqual([["A"]]);

		// The order's next attempt finds it closed and takes nothing.
		expect(await outcome(node().ledger.reserve("X", [item("A", 3), item("B", 2)]))).toMatchObject({ error: { code: 409, type: REJECTION.closed } });
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 10 });

		// The failed outcome goes once no attempt of it can still run.
		clock.advance(GRACE);
		await settler.ledger.recover();
		expect(await reservation("X")).toBeNull();
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 10 });
	});
});

describe("release", () => {
	it("gives back once when two releases of one order interleave write by write", async () => {
		await products.insert(productDoc("A", 10, 250));
		await products.insert(productDoc("B", 10, 250));
		await node().ledger.reserve("X", [item("A", 3), item("B", 2)]);
		expect(await stocks("A", "B")).toEqual({ A: 7, B: 8 });
		const one = node();
		const two = node();
		one.gate.hold();
		two.gate.hold();
		const first = outcome(one.ledger.release("X"));
		const second = outcome(two.ledger.release("X"));
		await Promise.all([one.gate.next(), two.gate.next()]); // both read it reserved

		expect(await one.gate.step()).toMatchObject({ collection: "reservations", op: "updateMany", id: "X", update: { $set: { state: "releasing" } } });
		expect(await reservation("X")).toMatchObject({ state: "releasing", releasing: true });
		await two.gate.step(); // its claim matches nothing: it reads releasing and helps finish
		expect(await reservation("X")).toMatchObject({ state: "releasing" });
		expect(await stocks("A", "B")).toEqual({ A: 7, B: 8 });

		expect(await two.gate.step()).toMatchObject({ op: "updateMany", id: "A", update: { $inc: { stock: 3 } } });
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 8 });
		expect(await markers("A")).toEqual(["g_X", "r_X"]);
		await one.gate.step(); // A carries the give-back marker: nothing moves
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 8 });
		await one.gate.step(); // gives back B
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 10 });
		await two.gate.step(); // B carries the marker
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 10 });

		await one.gate.step();
		expect(await reservation("X")).toMatchObject({ state: "released", releasedAt: Date.now() });
		expect((await reservation("X"))!.releasing).toBeUndefined();
		await two.gate.step();
		expect(await first).toEqual({ value: { orderId: "X", state: "released", released: true } });
		expect(await second).toEqual({ value: { orderId: "X", state: "released", released: false } });

		// A third release reads it released and writes nothing.
		const third = node();
		expect(await third.ledger.release("X")).toEqual({ orderId: "X", state: "released", released: false });
		expect(third.gate.passed).toEqual([]);
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 10 });
	});

	it("stops a release that ran past the pending timeout before its next give-back; recover finishes it, each item once", async () => {
		await products.insert(productDoc("A", 10, 250));
		await products.insert(productDoc("B", 10, 250));
		await node().ledger.reserve("X", [item("A", 3), item("B", 2)]);
		const releaser = node();
		releaser.gate.hold();
		const releasing = outcome(releaser.ledger.release("X"));
		await releaser.gate.step(); // claims: releasing
		await releaser.gate.next(); // the give-back of A, checked in time, waits...
		clock.advance(TIMEOUT + 1); // ...until the release has run too long
		await releaser.gate.step();
		expect(await releasing).toMatchObject({ error: { code: 503, type: "RELEASE_UNFINISHED" } });
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 8 });
		expect(await reservation("X")).toMatchObject({ state: "releasing", releasing: true });

		const settler = node();
		await settler.ledger.recover();
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 10 });
		expect(await reservation("X")).toMatchObject({ state: "released" });
		await settler.ledger.recover();
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 10 });

		// Its give-back markers stay for the grace period, then go.
		expect([await markers("A"), await markers("B")]).toEqual([["g_X"], ["g_X"]]);
		clock.advance(GRACE);
		await settler.ledger.recover();
		expect([await markers("A"), await markers("B")]).toEqual([[], []]);
		expect(await stocks("A", "B")).toEqual({ A: 10, B: 10 });
	});
});
