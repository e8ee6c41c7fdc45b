import crypto from "crypto";
import type { CartLine } from "../../lib/contracts/checkout";
import { ConflictError, NotFoundError, UnprocessableError } from "../../lib/contracts/errors";
import { ORDER_ITEMS, QUANTITY } from "../../lib/contracts/params";
import { isDuplicateKeyError, type DbAdapter, type Doc, type IndexSpec } from "../../lib/db/adapter";
import { newId } from "../../lib/db/ids";
import { crashPoint } from "../../lib/infra/crash-points";

/** A cart as carts stores it: a guest's (reached by its token's hash) or a customer's. */
export interface CartDoc extends Doc {
	/** A guest cart: the SHA-256 of its token (the token itself is never stored). */
	tokenHash?: string;
	/** A customer's cart. */
	customerId?: string;
	lines: CartLine[];
	/** Guest carts already merged into this one: a merge cut by a crash is finished, never counted twice. */
	mergedFrom?: string[];
	createdAt: string;
	updatedAt: string;
	/** Gone after this (CART_TTL_HOURS of inactivity). */
	expiresAt: string;
}

export const CART_INDEXES: IndexSpec[] = [{ field: "tokenHash", unique: true, sparse: true }, { field: "customerId", unique: true, sparse: true }, { field: "expiresAt" }];

/** At most this many lines, as an order (lib/contracts/params.ts). */
export const MAX_LINES = ORDER_ITEMS.max;
export const MAX_QUANTITY = QUANTITY.max;
const MAX_MERGED = 20;

/** The products a cart shows, as the catalog answers now; a product not listed has left the catalog. */
export type CatalogView = ReadonlyMap<string, { priceCents: number; stock: number }>;

/** Who owns the cart asked for: a signed-in customer, or a guest holding a token. */
export type CartOwner = { customerId: string } | { token: string };

export const hashToken = (token: string) => crypto.createHash("sha256").update(token).digest("base64url");
/** 32 random bytes: unguessable, and only its hash is kept. */
export const newCartToken = () => crypto.randomBytes(32).toString("base64url");

const now = () => new Date().toISOString();
const EMPTY_CART_TTL_MS = 3_600_000;

/**
 * Carts: lines of product and quantity, bounded in count and quantity,
 * each with the unit price the customer last saw (checkout compares it
 * with the price then). A guest cart is reached only through its token; a
 * customer's through the customer id. A cart expires after `ttlMs` without
 * a change, an empty one after an hour.
 */
export class CartBook {
	constructor(
		private readonly carts: DbAdapter<CartDoc>,
		private readonly ttlMs: number,
	) {}

	/** A new, empty guest cart and its token (shown once). */
	async createGuest(): Promise<{ cart: CartDoc; token: string }> {
		const token = newCartToken();
		const cart = await this.carts.insert({ ...this.fresh({ tokenHash: hashToken(token) }), _id: newId() });
		return { cart, token };
	}

	/** The owner's live cart, or null. A token that is no cart's, or an expired cart, is none. */
	async find(owner: CartOwner): Promise<CartDoc | null> {
		const doc = await this.carts.findOne("customerId" in owner ? { customerId: owner.customerId } : { tokenHash: hashToken(owner.token) });
		return doc && this.live(doc) ? doc : null;
	}

	/** The owner's cart; 404 for a guest whose token reaches none (never saying whether it ever existed). */
	async get(owner: CartOwner): Promise<CartDoc> {
		const doc = await this.find(owner);
		if (doc) return doc;
		if ("token" in owner) throw new NotFoundError("Cart");
		return this.fresh({ customerId: owner.customerId });
	}

	/** Add `quantity` of a product (summed with a line already there); 422 past the bounds. */
	/** `read`: the owner's cart as the caller just read it (one read less); the write is a compare-and-set on it anyway. */
	async add(owner: CartOwner, productId: string, quantity: number, unitPriceCents: number, read?: CartDoc): Promise<CartDoc> {
		const cart = read ?? (await this.get(owner));
		const line = cart.lines.find(l => l.productId === productId);
		const total = (line?.quantity ?? 0) + quantity;
		if (total > MAX_QUANTITY) throw tooMany("quantity", `A line holds at most ${MAX_QUANTITY} units; this one would hold ${total}.`);
		if (!line && cart.lines.length >= MAX_LINES) throw tooMany("productId", `A cart holds at most ${MAX_LINES} products.`);
		const lines = line ? cart.lines.map(l => (l === line ? { productId, quantity: total, unitPriceCents } : l)) : [...cart.lines, { productId, quantity, unitPriceCents }];
		return this.save(owner, cart, lines);
	}

	/** Set a line's quantity; 404 when the cart has no such line. */
	async setQuantity(owner: CartOwner, productId: string, quantity: number, unitPriceCents: number, read?: CartDoc): Promise<CartDoc> {
		const cart = read ?? (await this.get(owner));
		if (!cart.lines.some(l => l.productId === productId)) throw new NotFoundError("Cart line", productId);
		return this.save(
			owner,
			cart,
			cart.lines.map(l => (l.productId === productId ? { productId, quantity, unitPriceCents } : l)),
		);
	}

	async remove(owner: CartOwner, productId: string): Promise<CartDoc> {
		const cart = await this.get(owner);
		if (!cart.lines.some(l => l.productId === productId)) throw new NotFoundError("Cart line", productId);
		return this.save(
			owner,
			cart,
			cart.lines.filter(l => l.productId !== productId),
		);
	}

	async clear(owner: CartOwner): Promise<CartDoc> {
		return this.save(owner, await this.get(owner), []);
	}

	/**
	 * The prices the customer sees now become the recorded ones (a cart
	 * read, or a checkout that found them changed). Writes only when a price
	 * differs; a line whose product left the catalog keeps its price.
	 */
	async reprice(owner: CartOwner, catalog: CatalogView, read?: CartDoc): Promise<CartDoc> {
		const cart = read ?? (await this.get(owner));
		const changed = cart.lines.some(l => catalog.has(l.productId) && catalog.get(l.productId)!.priceCents !== l.unitPriceCents);
		if (!changed || !cart._id) return cart;
		const lines = cart.lines.map(l => (catalog.has(l.productId) ? { ...l, unitPriceCents: catalog.get(l.productId)!.priceCents } : l));
		return (await this.carts.updateOne({ _id: cart._id, updatedAt: cart.updatedAt }, { $set: { lines } })) ?? this.get(owner);
	}

	/**
	 * A guest cart, reached by its token, merged into the customer's: the
	 * quantities summed (each capped at the line bound; lines beyond the
	 * cart's bound are left out), in one write that also records the guest
	 * cart's id; then the guest cart goes. A crash between the two leaves
	 * the id recorded: the merge sent again only removes the guest cart.
	 * A token that reaches no guest cart is 404: a customer's cart, or
	 * another's, is never reached by a token.
	 */
	async merge(token: string, customerId: string): Promise<CartDoc> {
		const guest = await this.find({ token });
		if (!guest || guest.customerId !== undefined) throw new NotFoundError("Cart");
		let cart = await this.get({ customerId });
		if (!(cart.mergedFrom ?? []).includes(guest._id)) {
			const lines = mergeLines(cart.lines, guest.lines);
			const mergedFrom = [...(cart.mergedFrom ?? []), guest._id].slice(-MAX_MERGED);
			cart = await this.save({ customerId }, cart, lines, { mergedFrom });
			crashPoint("cart.after-merge");
		}
		await this.carts.removeMany({ _id: guest._id, tokenHash: guest.tokenHash });
		return cart;
	}

	/** The customer's cart became an order: emptied, unless it changed since checkout read it (then the customer decides). */
	async checkedOut(customerId: string, version: string): Promise<boolean> {
		const emptied = await this.carts.updateMany({ customerId, updatedAt: version }, { $set: { lines: [], updatedAt: now() } });
		return emptied === 1;
	}

	/** Remove every cart idle past its lifetime; answers how many went. */
	sweep(): Promise<number> {
		return this.carts.removeMany({ expiresAt: { $lte: now() } });
	}

	/**
	 * Store the lines: a compare-and-set on the cart's last change (two
	 * writes at once: the second is 409, to be sent again), or the
	 * customer's first write, which creates the cart (unique per customer).
	 */
	private async save(owner: CartOwner, cart: CartDoc, lines: CartLine[], extra: Partial<CartDoc> = {}): Promise<CartDoc> {
		const at = now();
		const expiresAt = this.expiry(lines);
		if (!cart._id) {
			// A customer's expired cart that the sweep has not reached gives way: its customerId is unique, so the new cart could not be stored beside it (every write was a 409).
			if (cart.customerId) await this.carts.removeMany({ customerId: cart.customerId, expiresAt: { $lte: at } });
			try {
				return await this.carts.insert({ ...cart, _id: newId(), lines, ...extra, updatedAt: at, expiresAt });
			} catch (err) {
				if (!isDuplicateKeyError(err)) throw err;
				throw concurrent();
			}
		}
		const saved = await this.carts.updateOne({ _id: cart._id, updatedAt: cart.updatedAt }, { $set: { lines, ...extra, updatedAt: at, expiresAt } });
		if (!saved) throw (await this.find(owner)) ? concurrent() : new NotFoundError("Cart");
		return saved;
	}

	/** A cart not stored yet (`_id` empty until its first write). */
	private fresh(owner: { customerId: string } | { tokenHash: string }): CartDoc {
		const at = now();
		return { _id: "", ...owner, lines: [], createdAt: at, updatedAt: at, expiresAt: this.expiry([]) };
	}

	/** When a cart holding `lines` expires if nothing changes: an empty one within the hour (a guest's POST /cart stores one; nobody misses it). */
	private expiry(lines: CartLine[]): string {
		return new Date(Date.now() + (lines.length ? this.ttlMs : Math.min(this.ttlMs, EMPTY_CART_TTL_MS))).toISOString();
	}

	private live(doc: CartDoc): boolean {
		return doc.expiresAt > now();
	}
}

function mergeLines(into: CartLine[], from: CartLine[]): CartLine[] {
	const lines = into.map(l => ({ ...l }));
	for (const g of from) {
		const line = lines.find(l => l.productId === g.productId);
		if (line) line.quantity = Math.min(MAX_QUANTITY, line.quantity + g.quantity);
		else if (lines.length < MAX_LINES) lines.push({ ...g });
	}
	return lines;
}

function tooMany(field: string, message: string): UnprocessableError {
	return new UnprocessableError(message, [{ field, type: "max", message }], "CART_LIMIT");
}

function concurrent(): ConflictError {
	return new ConflictError("The cart changed meanwhile; read it and try again", "CART_CONFLICT");
}
