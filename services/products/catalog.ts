import _ from "lodash";
import { isDuplicateKeyError, type DbAdapter, type Query } from "../../lib/db/adapter";
import { newId } from "../../lib/db/ids";
import { ConflictError, NotFoundError } from "../../lib/contracts/errors";
import type { Product } from "../../lib/contracts/types";
import type { ProductDoc } from "./documents";
import { assertEachProductOnce } from "./stock-ledger";

export const DEFAULT_LOW_STOCK_THRESHOLD = 5;

/**
 * How long a return's once-only marker stays on a product: far beyond a
 * repeated call (seconds) or the orders settler finishing a return a crash
 * cut (its next rounds), so a restock is repeated only if orders could not
 * finish that return for a week.
 */
export const RETURN_MARKER_KEEP_MS = 7 * 24 * 3600_000;

/** In the catalog: not removed. */
const LIVE = { deleted: { $ne: true } };

export type NewProduct = Pick<Product, "sku" | "name" | "category" | "priceCents" | "stock"> & Partial<Pick<Product, "description" | "lowStockThreshold" | "images">>;
export type ProductChanges = Partial<Pick<Product, "name" | "description" | "category" | "priceCents" | "lowStockThreshold" | "images">>;

export interface ListParams {
	page: number;
	pageSize: number;
	search?: string;
	category?: string;
	ids?: string;
	sort: string;
}

/** The fields a product can be changed in (stock is not one of them). */
export const CHANGEABLE_FIELDS = ["name", "description", "category", "priceCents", "lowStockThreshold", "images"] as const;

/** A new product as stored: in the catalog (its sku reserved), no markers, no crossings yet. */
export function newProductDoc(p: NewProduct): ProductDoc {
	const at = new Date().toISOString();
	return {
		_id: newId(),
		sku: p.sku,
		activeSku: p.sku,
		name: p.name,
		description: p.description ?? "",
		category: p.category,
		priceCents: p.priceCents,
		stock: p.stock,
		lowStockThreshold: p.lowStockThreshold ?? DEFAULT_LOW_STOCK_THRESHOLD,
		images: p.images ?? [],
		lowStockNotified: false,
		outOfStockNotified: false,
		holds: {},
		createdAt: at,
		updatedAt: at,
	};
}

/** The products in the catalog matching a list's filters. */
export function listQuery(params: Pick<ListParams, "search" | "category" | "ids">): Query {
	const query: Query = { ...LIVE };
	if (params.category) query.category = params.category;
	if (params.ids !== undefined) query._id = { $in: _.uniq(params.ids.split(",").filter(Boolean)).slice(0, 100) };
	if (params.search) {
		const re = new RegExp(_.escapeRegExp(params.search), "i");
		query.$or = [{ name: re }, { sku: re }, { description: re }];
	}
	return query;
}

/** The catalog's writes and reads: each write one conditional update of a product in the catalog. */
export class Catalog {
	constructor(
		private readonly products: DbAdapter<ProductDoc>,
		private readonly now: () => number = Date.now,
	) {}

	async create(p: NewProduct): Promise<ProductDoc> {
		const doc = newProductDoc(p);
		try {
			return await this.products.insert(doc);
		} catch (err) {
			if (isDuplicateKeyError(err)) throw new ConflictError(`SKU ${p.sku} is already taken`, "SKU_TAKEN", { sku: p.sku });
			throw err;
		}
	}

	/** A product in the catalog, or 404. */
	async get(id: string): Promise<ProductDoc> {
		const doc = await this.products.findById(id);
		if (!doc || doc.deleted) throw new NotFoundError("Product", id);
		return doc;
	}

	async update(id: string, changes: ProductChanges): Promise<void> {
		const set = _.pickBy(_.pick(changes, CHANGEABLE_FIELDS), v => v !== undefined);
		await this.applyOrNotFound(id, { $set: { ...set, updatedAt: new Date().toISOString() } });
	}

	async restock(id: string, quantity: number): Promise<void> {
		await this.applyOrNotFound(id, { $inc: { stock: quantity }, $set: { updatedAt: new Date().toISOString() } });
	}

	/**
	 * A return's quantities back into stock: each product once per return
	 * (a `returned.<returnId>` marker, the time of the restock, set in the
	 * same update). Answers the products that moved now; a product listed
	 * twice is refused. The same update forgets the product's markers older
	 * than RETURN_MARKER_KEEP_MS, so that a product's document does not grow
	 * with every return it ever had (markers stored as a quantity, before
	 * they carried a time, are kept).
	 */
	async restockReturn(returnId: string, items: Array<{ productId: string; quantity: number }>): Promise<string[]> {
		assertEachProductOnce(items);
		const moved: string[] = [];
		const at = new Date(this.now()).toISOString();
		for (const { productId, quantity } of items) {
			const marker = `returned.${returnId}`;
			// This return's own marker is never among them: a repeat a week late finds it and changes nothing.
			const forget = this.staleMarkers(await this.products.findById(productId)).filter(path => path !== marker);
			const n = await this.products.updateMany(
				{ _id: productId, [marker]: { $exists: false } },
				{ $inc: { stock: quantity }, $set: { [marker]: at, updatedAt: at }, ...(forget.length ? { $unset: Object.fromEntries(forget.map(k => [k, true])) } : {}) },
			);
			if (n === 1) moved.push(productId);
		}
		return moved;
	}

	/** Out of the catalog; its sku free again. The document stays for the reservations still held. */
	async remove(id: string): Promise<ProductDoc> {
		const at = new Date().toISOString();
		return this.applyOrNotFound(id, { $set: { deleted: true, deletedAt: at, updatedAt: at }, $unset: { activeSku: true } });
	}

	async categories(): Promise<Array<{ name: string; productCount: number }>> {
		const counts = _.countBy(await this.products.find({ query: LIVE }), d => d.category);
		return Object.keys(counts)
			.sort()
			.map(name => ({ name, productCount: counts[name] }));
	}

	/** The product's return markers past keeping, as paths to unset. */
	private staleMarkers(doc: ProductDoc | null): string[] {
		const before = this.now() - RETURN_MARKER_KEEP_MS;
		return Object.entries(doc?.returned ?? {})
			.filter(([, at]) => typeof at === "string" && Date.parse(at) < before)
			.map(([id]) => `returned.${id}`);
	}

	/** The product after the update, in one step; 404 when it is not in the catalog. */
	private async applyOrNotFound(id: string, update: Parameters<DbAdapter["updateOne"]>[1]): Promise<ProductDoc> {
		const doc = await this.products.updateOne({ _id: id, ...LIVE }, update);
		if (!doc) throw new NotFoundError("Product", id);
		return doc;
	}
}
