import _ from "lodash";
import type { ServiceSchema } from "moleculer";
import DbMixin, { connectExtraAdapter, type DbAdapter } from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { ConflictError, InsufficientStockError, NotFoundError, UnprocessableError, isDuplicateKeyError, type ShortItem } from "../lib/errors";
import { pageParams, pageWindow, toPage } from "../lib/pagination";
import { settlementSettings } from "../lib/settlement";
import { CHANNELS, type StockAlertMessage } from "../lib/channels";
import type { Ctx, Product, ReserveItem, ReservedLine } from "../lib/types";

const PUBLIC_FIELDS = ["id", "sku", "name", "description", "category", "priceCents", "stock", "lowStockThreshold", "createdAt", "updatedAt"] as const;
const SORTS = ["priceCents", "-priceCents", "name", "-name", "createdAt", "-createdAt", "stock", "-stock", "sku", "-sku"];
const ID = { type: "string", min: 1, max: 64 } as const;
const ORDER_ID = { type: "string", min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/ } as const;
const CENTS = { type: "number", integer: true, min: 0, max: 1_000_000_000 } as const;
const TEXT = (max: number) => ({ type: "string", trim: true, min: 1, max }) as const;

/**
 * Reservations (one per order id) move through
 *   reserving -> reserved -> releasing -> released
 *   reserving -> failed
 * Stock moves only in single-document conditional updates on the product,
 * each of which also sets a marker (`holds.<op>_<orderId>`) in that same
 * document. The marker makes every step idempotent: a step whose marker is
 * already there is not applied twice, and a crash between steps leaves
 * markers that the settler finishes or undoes from the reservation's state.
 * NeDB runs each update alone in its executor, and MongoDB updates one
 * document atomically, so `stock >= q` and the decrement are one step in
 * both stores: no two buyers can take the last unit.
 */
type ReservationState = "reserving" | "reserved" | "releasing" | "released" | "failed";
interface Reservation {
	_id: string;
	state: ReservationState;
	items: ReserveItem[];
	lines?: ReservedLine[];
	short?: ShortItem[];
	reason?: string;
	open?: true;
	createdAt: string;
	updatedAt: string;
}

const takeKey = (orderId: string) => `holds.r_${orderId}`;
const giveKey = (orderId: string) => `holds.g_${orderId}`;

const ProductsService: ServiceSchema = {
	name: "products",
	mixins: [DbMixin("products", [{ field: "activeSku", unique: true, sparse: true }]), HealthMixin],

	settings: settlementSettings(),

	actions: {
		create: {
			params: {
				sku: { type: "string", trim: true, min: 1, max: 64, pattern: /^[A-Za-z0-9._-]+$/ },
				name: TEXT(200),
				description: { type: "string", trim: true, max: 5000, optional: true },
				category: TEXT(100),
				priceCents: CENTS,
				stock: { type: "number", integer: true, min: 0, max: 1_000_000_000 },
				lowStockThreshold: { type: "number", integer: true, min: 0, max: 1_000_000_000, optional: true },
			},
			async handler(ctx: Ctx<Omit<Product, "id" | "createdAt" | "updatedAt">>) {
				const now = new Date().toISOString();
				const p = ctx.params;
				const doc = {
					sku: p.sku,
					activeSku: p.sku,
					name: p.name,
					description: p.description ?? "",
					category: p.category,
					priceCents: p.priceCents,
					stock: p.stock,
					lowStockThreshold: p.lowStockThreshold ?? 5,
					lowStockNotified: false,
					outOfStockNotified: false,
					holds: {},
					createdAt: now,
					updatedAt: now,
				};
				let saved;
				try {
					saved = await this.adapter.insert(doc);
				} catch (err) {
					if (isDuplicateKeyError(err)) throw new ConflictError(`SKU ${p.sku} is already taken`, "SKU_TAKEN", { sku: p.sku });
					throw err;
				}
				const product = this.toPublic(saved);
				await this.productsChanged(ctx, [product]);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/products/${product.id}`;
				return product;
			},
		},

		get: {
			cache: { keys: ["id"] },
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>) {
				return this.toPublic(await this.findActive(ctx.params.id));
			},
		},

		list: {
			cache: { keys: ["page", "pageSize", "search", "category", "ids", "sort"] },
			params: {
				...pageParams,
				search: { type: "string", trim: true, max: 100, optional: true },
				category: { type: "string", trim: true, max: 100, optional: true },
				ids: { type: "string", max: 6500, pattern: /^[A-Za-z0-9_,-]*$/, optional: true },
				sort: { type: "enum", values: SORTS, optional: true, default: "-createdAt" },
			},
			async handler(ctx: Ctx<{ page: number; pageSize: number; search?: string; category?: string; ids?: string; sort: string }>) {
				const { page, pageSize, sort } = ctx.params;
				const query = this.listQuery(ctx.params);
				const [docs, total] = await Promise.all([
					this.adapter.find({ query, sort: [sort], ...pageWindow(page, pageSize) }),
					this.adapter.count({ query }),
				]);
				return toPage(docs.map((d: any) => this.toPublic(d)), total, page, pageSize);
			},
		},

		categories: {
			cache: true,
			async handler() {
				const docs = await this.adapter.find({ query: { deleted: { $ne: true } } });
				const counts = _.countBy(docs, (d: any) => d.category);
				return Object.keys(counts).sort().map(name => ({ name, productCount: counts[name] }));
			},
		},

		update: {
			params: {
				id: ID,
				name: { ...TEXT(200), optional: true },
				description: { type: "string", trim: true, max: 5000, optional: true },
				category: { ...TEXT(100), optional: true },
				priceCents: { ...CENTS, optional: true },
				lowStockThreshold: { type: "number", integer: true, min: 0, max: 1_000_000_000, optional: true },
			},
			async handler(ctx: Ctx<{ id: string } & Partial<Product>>) {
				const { id, ...changes } = ctx.params;
				const set = _.pickBy(_.pick(changes, ["name", "description", "category", "priceCents", "lowStockThreshold"]), v => v !== undefined);
				const n = await this.adapter.updateMany({ _id: id, deleted: { $ne: true } }, { $set: { ...set, updatedAt: new Date().toISOString() } });
				if (n === 0) throw new NotFoundError("Product", id);
				const product = this.toPublic(await this.adapter.findById(id));
				await this.productsChanged(ctx, [product]);
				return product;
			},
		},

		restock: {
			params: {
				id: ID,
				quantity: { type: "number", integer: true, min: 1, max: 1_000_000_000 },
			},
			async handler(ctx: Ctx<{ id: string; quantity: number }>) {
				const { id, quantity } = ctx.params;
				const n = await this.adapter.updateMany(
					{ _id: id, deleted: { $ne: true } },
					{ $inc: { stock: quantity }, $set: { updatedAt: new Date().toISOString() } },
				);
				if (n === 0) throw new NotFoundError("Product", id);
				const [product] = await this.afterStockChange(ctx, [id]);
				return product;
			},
		},

		remove: {
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>) {
				const { id } = ctx.params;
				const now = new Date().toISOString();
				// `activeSku` goes, so the sku can be used again; the document stays for reservations still held.
				const n = await this.adapter.updateMany({ _id: id, deleted: { $ne: true } }, { $set: { deleted: true, deletedAt: now, updatedAt: now }, $unset: { activeSku: true } });
				if (n === 0) throw new NotFoundError("Product", id);
				const product = this.toPublic(await this.adapter.findById(id));
				await this.productsChanged(ctx, [product]);
				return { ...product, deleted: true };
			},
		},

		/**
		 * Take every item's quantity, or nothing. Idempotent per orderId.
		 * Answers the price snapshot of each line; throws INSUFFICIENT_STOCK
		 * (409) with the short items, or 422 for unknown products.
		 */
		reserve: {
			visibility: "public",
			retryPolicy: { enabled: true },
			params: {
				orderId: ORDER_ID,
				items: {
					type: "array",
					min: 1,
					max: 50,
					items: { type: "object", props: { productId: ID, quantity: { type: "number", integer: true, min: 1, max: 1000 } } },
				},
			},
			async handler(ctx: Ctx<{ orderId: string; items: ReserveItem[] }>) {
				return this.reserve(ctx, ctx.params.orderId, ctx.params.items);
			},
		},

		/** Give back what an order holds, exactly once. Idempotent; a later reserve for the id fails. */
		release: {
			visibility: "public",
			retryPolicy: { enabled: true },
			params: { orderId: ORDER_ID },
			async handler(ctx: Ctx<{ orderId: string }>) {
				return this.release(ctx, ctx.params.orderId);
			},
		},

		/** Products at or below their low-stock threshold. Internal (the dashboard). */
		lowStock: {
			visibility: "public",
			cache: true,
			async handler() {
				return this.lowStockProducts();
			},
		},

		/** The state of an order's reservation, for the orders settler. */
		reservation: {
			visibility: "public",
			retryPolicy: { enabled: true },
			params: { orderId: ORDER_ID },
			async handler(ctx: Ctx<{ orderId: string }>) {
				const r: Reservation | null = await this.reservations.findById(ctx.params.orderId);
				return r ? { orderId: r._id, state: r.state, lines: r.lines ?? [] } : { orderId: ctx.params.orderId, state: "none", lines: [] };
			},
		},
	},

	methods: {
		toPublic(doc: any): Product {
			const entity = this.toEntity(doc);
			return _.pick(entity, PUBLIC_FIELDS) as Product;
		},

		listQuery(params: { search?: string; category?: string; ids?: string }) {
			const query: Record<string, unknown> = { deleted: { $ne: true } };
			if (params.category) query.category = params.category;
			if (params.ids !== undefined) query._id = { $in: _.uniq(params.ids.split(",").filter(Boolean)).slice(0, 100) };
			if (params.search) {
				const re = new RegExp(_.escapeRegExp(params.search), "i");
				query.$or = [{ name: re }, { sku: re }, { description: re }];
			}
			return query;
		},

		async findActive(id: string) {
			const doc = await this.adapter.findById(id);
			if (!doc || doc.deleted) throw new NotFoundError("Product", id);
			return doc;
		},

		/** Clear the caches before the answer; tell the others after it. */
		async productsChanged(ctx: Ctx, products: Product[]) {
			await this.entityChanged("updated", products, ctx);
			setImmediate(() => {
				for (const product of products) ctx.emit("product.updated", { product });
			});
		},

		/** Re-read products whose stock moved, clear caches, settle stock crossings; emit after the answer. */
		async afterStockChange(ctx: Ctx | null, ids: string[]): Promise<Product[]> {
			const emitter = ctx ?? this.broker;
			const docs = await this.adapter.findByIds(_.uniq(ids));
			const products = docs.map((d: any) => this.toPublic(d));
			await this.entityChanged("updated", products, ctx);
			const crossings: StockAlertMessage[] = [];
			for (const doc of docs) crossings.push(...(await this.stockCrossings(doc)));
			setImmediate(() => {
				for (const product of products) emitter.emit("product.updated", { product });
				for (const c of crossings) {
					if (c.type === "stock_low") emitter.emit("product.stock_low", _.pick(c, ["productId", "sku", "name", "stock", "threshold"]));
					this.broker.sendToChannel(CHANNELS.stockAlerts, c).catch((err: Error) => this.logger.error("Could not publish a stock alert", err.message));
				}
			});
			return products;
		},

		/**
		 * Crossings of the low-stock threshold and of zero, each once: a flag
		 * set by one conditional update (so one caller wins), armed again only
		 * when stock is back above the line.
		 */
		async stockCrossings(doc: any): Promise<StockAlertMessage[]> {
			const levels = [
				{ type: "stock_low" as const, flag: "lowStockNotified", counter: "lowStockCrossings", line: doc.lowStockThreshold },
				{ type: "out_of_stock" as const, flag: "outOfStockNotified", counter: "outOfStockCrossings", line: 0 },
			];
			const found: StockAlertMessage[] = [];
			for (const { type, flag, counter, line } of levels) {
				if (doc.stock <= line && !doc[flag]) {
					const won = await this.adapter.updateMany({ _id: doc._id, stock: { $lte: line }, [flag]: { $ne: true } }, { $set: { [flag]: true }, $inc: { [counter]: 1 } });
					if (won === 1) {
						found.push({ type, productId: String(doc._id), sku: doc.sku, name: doc.name, stock: doc.stock, threshold: doc.lowStockThreshold, crossing: (doc[counter] ?? 0) + 1 });
					}
				} else if (doc.stock > line && doc[flag]) {
					await this.adapter.updateMany({ _id: doc._id, stock: { $gt: line }, [flag]: true }, { $set: { [flag]: false } });
				}
			}
			return found;
		},

		/** Products at or below their threshold, for the dashboard. */
		async lowStockProducts() {
			const docs = await this.adapter.find({ query: { deleted: { $ne: true }, lowStockNotified: true } });
			return docs
				.filter((d: any) => d.stock <= d.lowStockThreshold)
				.map((d: any) => ({ productId: String(d._id), sku: d.sku, name: d.name, stock: d.stock, threshold: d.lowStockThreshold }));
		},

		async reserve(ctx: Ctx, orderId: string, items: ReserveItem[]) {
			if (new Set(items.map(i => i.productId)).size !== items.length) {
				throw new UnprocessableError("Each product may appear once", { field: "items" }, "DUPLICATE_PRODUCT");
			}
			const r = await this.openReservation(orderId, items);
			if (r.state === "reserved") return this.reservedAnswer(r);
			if (r.state !== "reserving") throw this.closedReservationError(r);

			const docs = await this.adapter.findByIds(items.map(i => i.productId));
			const byId = new Map(docs.map((d: any) => [String(d._id), d]));
			const unknown = items.filter(i => !byId.has(i.productId) || (byId.get(i.productId) as any).deleted).map(i => i.productId);
			if (unknown.length) return this.endAttempt(ctx, orderId, { reason: "UNKNOWN_PRODUCT", unknown });

			const short: ShortItem[] = [];
			for (const item of items) {
				if (!(await this.takeStock(orderId, item))) {
					const doc = await this.adapter.findById(item.productId);
					short.push({ productId: item.productId, requested: item.quantity, available: Math.max(0, doc?.stock ?? 0) });
				}
			}
			if (short.length) return this.endAttempt(ctx, orderId, { reason: "INSUFFICIENT_STOCK", short });

			const lines: ReservedLine[] = items.map(i => {
				const d = byId.get(i.productId) as any;
				return { productId: i.productId, sku: d.sku, name: d.name, unitPriceCents: d.priceCents, quantity: i.quantity };
			});
			if (!(await this.moveReservation(orderId, "reserving", "reserved", { lines }))) return this.endAttempt(ctx, orderId);
			await this.afterStockChange(ctx, items.map(i => i.productId));
			setImmediate(() => this.settle(orderId).catch((err: Error) => this.logger.warn("Settling failed; the settler retries.", err.message)));
			return { orderId, state: "reserved", lines };
		},

		/**
		 * End an attempt that could not complete the reservation: fail it
		 * (when `failure` is given and nobody moved it yet), then answer from
		 * the state it is in. Stock goes back only from a failed reservation:
		 * another attempt of the same order (a retry) may have completed it.
		 */
		async endAttempt(ctx: Ctx, orderId: string, failure?: Partial<Reservation> & { unknown?: string[] }) {
			if (failure) await this.moveReservation(orderId, "reserving", "failed", failure);
			const now: Reservation = await this.reservations.findById(orderId);
			if (now.state === "reserved") return this.reservedAnswer(now);
			if (now.state === "failed") {
				await this.giveBackTaken(now);
				await this.afterStockChange(ctx, now.items.map(i => i.productId));
			}
			throw this.closedReservationError(now);
		},

		async release(ctx: Ctx, orderId: string) {
			for (;;) {
				const r: Reservation | null = await this.reservations.findById(orderId);
				if (!r) {
					// A tombstone, so that a reserve arriving late for this id takes nothing.
					try {
						await this.reservations.insert({ _id: orderId, state: "released", items: [], reason: "RELEASED_BEFORE_RESERVE", ...this.stamps() });
						return { orderId, state: "released", released: false };
					} catch (err) {
						if (!isDuplicateKeyError(err)) throw err;
						continue;
					}
				}
				switch (r.state) {
					case "released":
					case "failed":
						return { orderId, state: r.state, released: false };
					case "reserving":
						if (await this.moveReservation(orderId, "reserving", "failed", { reason: "RELEASED_WHILE_RESERVING" })) {
							await this.giveBackTaken(r);
							await this.afterStockChange(ctx, r.items.map(i => i.productId));
							await this.settle(orderId);
							return { orderId, state: "failed", released: true };
						}
						continue;
					case "reserved":
					case "releasing": {
						const won = r.state === "reserved" && (await this.moveReservation(orderId, "reserved", "releasing"));
						if (r.state === "reserved" && !won) continue;
						// Finishing another caller's release is harmless: each give-back is applied once.
						await this.finishRelease(r);
						await this.afterStockChange(ctx, r.items.map(i => i.productId));
						setImmediate(() => this.settle(orderId).catch((err: Error) => this.logger.warn("Settling failed; the settler retries.", err.message)));
						return { orderId, state: "released", released: won };
					}
				}
			}
		},

		/** The reservation for this order, created in `reserving` if new. */
		async openReservation(orderId: string, items: ReserveItem[]): Promise<Reservation> {
			const existing = await this.reservations.findById(orderId);
			if (existing) return existing;
			try {
				return await this.reservations.insert({ _id: orderId, state: "reserving", items, open: true, ...this.stamps() });
			} catch (err) {
				if (isDuplicateKeyError(err)) return this.reservations.findById(orderId);
				throw err;
			}
		},

		/** One product's share: decrement and marker in one conditional update. */
		async takeStock(orderId: string, item: ReserveItem): Promise<boolean> {
			const key = takeKey(orderId);
			const n = await this.adapter.updateMany(
				{ _id: item.productId, deleted: { $ne: true }, stock: { $gte: item.quantity }, [key]: { $exists: false } },
				{ $inc: { stock: -item.quantity }, $set: { [key]: item.quantity, updatedAt: new Date().toISOString() } },
			);
			if (n === 1) return true;
			// Already taken by an earlier try of this same reservation?
			return (await this.adapter.count({ query: { _id: item.productId, [key]: { $exists: true } } })) === 1;
		},

		/** Undo every take of a reservation that did not complete. Idempotent. */
		async giveBackTaken(r: Reservation) {
			const key = takeKey(r._id);
			for (const item of r.items) {
				await this.adapter.updateMany(
					{ _id: item.productId, [key]: item.quantity },
					{ $inc: { stock: item.quantity }, $unset: { [key]: true }, $set: { updatedAt: new Date().toISOString() } },
				);
			}
		},

		async finishRelease(r: Reservation) {
			const key = giveKey(r._id);
			for (const item of r.items) {
				await this.adapter.updateMany(
					{ _id: item.productId, [key]: { $exists: false } },
					{ $inc: { stock: item.quantity }, $set: { [key]: item.quantity, updatedAt: new Date().toISOString() } },
				);
			}
			await this.moveReservation(r._id, "releasing", "released");
		},

		/** Compare-and-set of a reservation's state; false when another step moved it first. */
		async moveReservation(orderId: string, from: ReservationState, to: ReservationState, fields: object = {}): Promise<boolean> {
			const n = await this.reservations.updateMany({ _id: orderId, state: from }, { $set: { ...fields, state: to, open: true, updatedAt: new Date().toISOString() } });
			return n === 1;
		},

		/**
		 * Bring a reservation to rest: finish or undo its steps from its state,
		 * remove the markers and close it. Safe to run any number of times.
		 */
		async settle(orderId: string, now = Date.now()) {
			const r: Reservation | null = await this.reservations.findById(orderId);
			if (!r || !r.open) return;
			const stale = now - Date.parse(r.updatedAt) >= this.settings.pendingTimeoutMs;
			let moved: string[] = [];
			switch (r.state) {
				case "reserving":
					if (!stale) return;
					if (!(await this.moveReservation(orderId, "reserving", "failed", { reason: "EXPIRED" }))) return;
					await this.giveBackTaken(r);
					moved = r.items.map(i => i.productId);
					break;
				case "failed":
					await this.giveBackTaken(r);
					break;
				case "releasing":
					if (!stale) return;
					await this.finishRelease(r);
					moved = r.items.map(i => i.productId);
					break;
				case "reserved":
				case "released":
					break;
			}
			const unset: Record<string, true> = { [takeKey(orderId)]: true };
			if (r.state === "released" || r.state === "releasing") unset[giveKey(orderId)] = true;
			if (r.state !== "failed" && r.state !== "reserving") {
				for (const item of r.items) await this.adapter.updateMany({ _id: item.productId }, { $unset: unset });
			}
			await this.reservations.updateMany({ _id: orderId, state: { $in: ["reserved", "released", "failed"] } }, { $unset: { open: true } });
			if (moved.length) await this.afterStockChange(null, moved);
		},

		/** Settle every reservation left open (by a crash, or a slow step). */
		async settleOpenReservations() {
			const open: Reservation[] = await this.reservations.find({ query: { open: true } });
			for (const r of open) {
				try {
					await this.settle(r._id);
				} catch (err) {
					this.logger.warn(`Could not settle reservation ${r._id}`, (err as Error).message);
				}
			}
		},

		reservedAnswer(r: Reservation) {
			return { orderId: r._id, state: "reserved", lines: r.lines ?? [] };
		},

		closedReservationError(r: Reservation) {
			if (r.short) return new InsufficientStockError(r.short);
			if (r.reason === "UNKNOWN_PRODUCT") return new UnprocessableError("Unknown product", { field: "items", productIds: (r as any).unknown ?? [] }, "UNKNOWN_PRODUCT");
			return new ConflictError("This order's reservation is closed", "RESERVATION_CLOSED", { orderId: r._id, state: r.state });
		},

		stamps() {
			const now = new Date().toISOString();
			return { createdAt: now, updatedAt: now };
		},
	},

	async started() {
		this.reservations = (await connectExtraAdapter(this, "reservations", [{ field: "open", sparse: true }])) as DbAdapter;
		await this.settleOpenReservations();
		this.settleTimer = setInterval(() => {
			this.settleOpenReservations().catch((err: Error) => this.logger.warn("Settling reservations failed", err.message));
		}, this.settings.recoveryIntervalMs);
	},

	async stopped() {
		clearInterval(this.settleTimer);
		await this.reservations?.disconnect();
	},
};

export default ProductsService;
