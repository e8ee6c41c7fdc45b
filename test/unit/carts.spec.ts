import type { DbAdapter } from "../../lib/db/adapter";
import { CART_INDEXES, CartBook, MAX_LINES, hashToken, type CartDoc } from "../../services/carts/cart-book";
import { clock, memoryStore } from "../helpers/stepped-store";

/** The cart book driven directly on an in-memory store: what a guest and a customer can do with their carts, and what they cannot. */

const TTL = 3_600_000;
const catalog = (prices: Record<string, number>) => new Map(Object.entries(prices).map(([id, priceCents]) => [id, { priceCents, stock: 10 }]));

describe("CartBook", () => {
	let store: DbAdapter<CartDoc>;
	let book: CartBook;
	const alice = { customerId: "cust-alice" };

	beforeEach(async () => {
		clock.start();
		store = await memoryStore<CartDoc>("carts", CART_INDEXES);
		book = new CartBook(store, TTL);
	});
	afterEach(() => clock.stop());

	const all = () => store.find({});

	it("gives a guest an unguessable token and keeps only its hash", async () => {
		const { cart, token } = await book.createGuest();
		expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
		const stored = await all();
		expect(stored).toHaveLength(1);
		expect(stored[0].tokenHash).toBe(hashToken(token));
		expect(JSON.stringify(stored)).not.toContain(token);
		expect((await book.get({ token }))._id).toBe(cart._id);
	});

	it("does not reach a cart with a token that is not its own (404), and changes nothing", async () => {
		const { token } = await book.createGuest();
		await book.add({ token }, "p1", 2, 100);
		const before = await all();
		for (const other of [token.slice(0, -1) + (token.endsWith("A") ? "B" : "A"), "", hashToken(token)]) {
			await expect(book.get({ token: other })).rejects.toMatchObject({ code: 404 });
			await expect(book.add({ token: other }, "p1", 1, 100)).rejects.toMatchObject({ code: 404 });
			await expect(book.merge(other, alice.customerId)).rejects.toMatchObject({ code: 404 });
		}
		expect(await all()).toEqual(before);
	});

	it("sums quantities of a product added twice, and refuses past 1000 units or 50 products (422), changing nothing", async () => {
		let cart = await book.add(alice, "p1", 600, 100);
		cart = await book.add(alice, "p1", 400, 100);
		expect(cart.lines).toEqual([{ productId: "p1", quantity: 1000, unitPriceCents: 100 }]);
		await expect(book.add(alice, "p1", 1, 100)).rejects.toMatchObject({ code: 422, type: "CART_LIMIT" });
		for (let i = 2; i <= MAX_LINES; i++) await book.add(alice, `p${i}`, 1, 100);
		const before = await all();
		await expect(book.add(alice, "one-too-many", 1, 100)).rejects.toMatchObject({ code: 422, type: "CART_LIMIT" });
		expect(await all()).toEqual(before);
	});

	it("sets and removes lines; a line the cart does not hold is 404", async () => {
		await book.add(alice, "p1", 2, 100);
		expect((await book.setQuantity(alice, "p1", 5, 120)).lines).toEqual([{ productId: "p1", quantity: 5, unitPriceCents: 120 }]);
		await expect(book.setQuantity(alice, "p2", 1, 100)).rejects.toMatchObject({ code: 404 });
		await expect(book.remove(alice, "p2")).rejects.toMatchObject({ code: 404 });
		expect((await book.remove(alice, "p1")).lines).toEqual([]);
	});

	it("gives a customer one cart, made at the first write", async () => {
		expect((await book.get(alice))._id).toBe("");
		expect(await all()).toHaveLength(0);
		await book.add(alice, "p1", 1, 100);
		await book.add(alice, "p2", 1, 100);
		expect(await all()).toHaveLength(1);
	});

	it("merges a guest cart into the customer's once: quantities summed and capped, the token ending", async () => {
		await book.add(alice, "p1", 900, 100);
		const { token } = await book.createGuest();
		await book.add({ token }, "p1", 200, 100);
		await book.add({ token }, "p2", 3, 250);
		const merged = await book.merge(token, alice.customerId);
		expect(merged.lines).toEqual([
			{ productId: "p1", quantity: 1000, unitPriceCents: 100 },
			{ productId: "p2", quantity: 3, unitPriceCents: 250 },
		]);
		await expect(book.get({ token })).rejects.toMatchObject({ code: 404 });
		await expect(book.merge(token, alice.customerId)).rejects.toMatchObject({ code: 404 });
		expect(await all()).toHaveLength(1);
	});

	it("never reaches a customer's cart through a merge of another's guest cart made into a customer cart", async () => {
		const { token } = await book.createGuest();
		await book.add({ token }, "p1", 1, 100);
		await book.merge(token, "cust-bob");
		await expect(book.merge(token, alice.customerId)).rejects.toMatchObject({ code: 404 });
		expect((await book.get(alice)).lines).toEqual([]);
	});

	it("finishes a merge cut after its first write without counting the lines twice", async () => {
		const { token } = await book.createGuest();
		await book.add({ token }, "p1", 2, 100);
		const remove = store.removeMany.bind(store);
		// Killed at the guest cart's removal, after the customer's cart took its lines.
		store.removeMany = query => ("tokenHash" in query ? Promise.reject(new Error("killed")) : remove(query));
		await expect(book.merge(token, alice.customerId)).rejects.toThrow("killed");
		expect((await book.get(alice)).lines).toEqual([{ productId: "p1", quantity: 2, unitPriceCents: 100 }]);
		store.removeMany = remove;
		expect((await book.merge(token, alice.customerId)).lines).toEqual([{ productId: "p1", quantity: 2, unitPriceCents: 100 }]);
		expect(await all()).toHaveLength(1);
	});

	it("lets a cart expire after its lifetime without a change, and sweeps it", async () => {
		const { token } = await book.createGuest();
		await book.add(alice, "p1", 1, 100);
		clock.advance(TTL / 2);
		await book.add(alice, "p1", 1, 100);
		clock.advance(TTL / 2 + 1);
		await expect(book.get({ token })).rejects.toMatchObject({ code: 404 });
		expect((await book.get(alice)).lines).toHaveLength(1);
		expect(await book.sweep()).toBe(1);
		clock.advance(TTL);
		expect((await book.get(alice)).lines).toEqual([]);
		expect(await book.sweep()).toBe(1);
		expect(await all()).toHaveLength(0);
	});

	it("keeps an empty guest cart an hour, not the carts' lifetime, so carts started and never filled do not pile up", async () => {
		const long = new CartBook(store, 72 * TTL);
		const empty = await long.createGuest();
		const filled = await long.createGuest();
		await long.add({ token: filled.token }, "p1", 1, 100);
		clock.advance(TTL + 1);
		await expect(long.get({ token: empty.token })).rejects.toMatchObject({ code: 404 });
		expect(await long.sweep()).toBe(1);
		expect((await long.get({ token: filled.token })).lines).toHaveLength(1);
		await long.remove({ token: filled.token }, "p1");
		clock.advance(TTL + 1);
		expect(await long.sweep()).toBe(1);
		expect(await all()).toHaveLength(0);
	});

	it("starts a customer afresh on a cart that expired before the sweep reached it", async () => {
		await book.add(alice, "p1", 3, 100);
		clock.advance(TTL + 1);
		expect((await book.add(alice, "p2", 1, 250)).lines).toEqual([{ productId: "p2", quantity: 1, unitPriceCents: 250 }]);
		expect((await book.get(alice)).lines).toEqual([{ productId: "p2", quantity: 1, unitPriceCents: 250 }]);
		expect(await all()).toHaveLength(1);
		expect(await book.sweep()).toBe(0);
	});

	it("records the prices shown, writing only when one changed", async () => {
		const cart = await book.add(alice, "p1", 1, 100);
		expect(await book.reprice(alice, catalog({ p1: 100 }))).toEqual(cart);
		expect((await book.reprice(alice, catalog({ p1: 90 }))).lines).toEqual([{ productId: "p1", quantity: 1, unitPriceCents: 90 }]);
		// A product that left the catalog keeps its line and price: checkout reports it unavailable.
		expect((await book.reprice(alice, catalog({}))).lines).toEqual([{ productId: "p1", quantity: 1, unitPriceCents: 90 }]);
	});

	it("empties a checked-out cart only when it has not changed since checkout read it", async () => {
		const read = await book.add(alice, "p1", 1, 100);
		clock.advance(1);
		await book.add(alice, "p2", 1, 100);
		expect(await book.checkedOut(alice.customerId, read.updatedAt)).toBe(false);
		const now = await book.get(alice);
		expect(await book.checkedOut(alice.customerId, now.updatedAt)).toBe(true);
		expect((await book.get(alice)).lines).toEqual([]);
	});
});
