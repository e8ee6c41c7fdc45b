import _ from "lodash";
import type { ServiceSchema } from "moleculer";
import DbMixin, { connectExtraAdapter, type DbAdapter } from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { ConflictError, InsufficientStockError, NotFoundError, UnprocessableError, isDuplicateKeyError, type ShortItem } from "../lib/errors";
import { pageParams } from "../lib/pagination";
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
 * Stock moves only in single-document conditional updates of a product,
 * each of which also sets a marker in that same document
 * (`holds.r_<orderId>` for a take, `holds.g_<orderId>` for a give-back).
 * NeDB runs each update alone in its executor and MongoDB updates one
 * document atomically, so `stock >= q` and the decrement are one step in
 * both stores: no two buyers can take the last unit. The marker makes each
 * step idempotent (a step whose marker is there is not applied twice).
 *
 * A reservation (one per order id) is written once, when its outcome is
 * known: `reserved`, or `failed`, or `released` as a tombstone when a
 * release came first. The first writer wins: an attempt that finds another
 * outcome stored gives back its takes unless that outcome is `reserved`.
 * Release moves `reserved -> releasing -> released`. Takes whose order has
 * no outcome after PENDING_TIMEOUT_MS (the attempt died) are failed and
 * given back by the settler, which also clears the markers of settled
 * reservations.
 */
type ReservationState = "reserved" | "releasing" | "released" | "failed";
interface Reservation {
	_id: string;
	state: ReservationState;
	items: ReserveItem[];
	/** Only on reservations that were `reserved` at some point: their price snapshot. */
	lines?: ReservedLine[];
	short?: ShortItem[];
	unknown?: string[];
	reason?: string;
	/** Set while `releasing`, so the settler finds unfinished releases. */
	releasing?: true;
	createdAt: string;
	updatedAt: string;
}

/** A marker: the quantity moved, and when (a take with no outcome is abandoned after the timeout). */
interface Hold {
	q: number;
	at: number;
}

const TAKE = "r_";
const MARKER_FLUSH_INTERVAL_MS = 250;
const GIVE = "g_";
const holdKey = (kind: string, orderId: string) => `holds.${kind}${orderId}`;
const outboxKey = (m: StockAlertMessage) => `alertOutbox.${m.type}_${m.crossing}`;

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
				return this.findPage(query, sort, page, pageSize);
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
					this.publishStockAlert(c).catch((err: Error) => this.logger.warn("Stock alert not published yet; the settler retries", err.message));
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
					const message: StockAlertMessage = { type, productId: String(doc._id), sku: doc.sku, name: doc.name, stock: doc.stock, threshold: doc.lowStockThreshold, crossing: (doc[counter] ?? 0) + 1 };
					// The message waits in the document (`alertOutbox`) until it is published: a crash in between loses nothing.
					const won = await this.adapter.updateMany(
						{ _id: doc._id, stock: { $lte: line }, [flag]: { $ne: true } },
						{ $set: { [flag]: true, [outboxKey(message)]: message }, $inc: { [counter]: 1 } },
					);
					if (won === 1) found.push(message);
				} else if (doc.stock > line && doc[flag]) {
					await this.adapter.updateMany({ _id: doc._id, stock: { $gt: line }, [flag]: true }, { $set: { [flag]: false } });
				}
			}
			return found;
		},

		async publishStockAlert(message: StockAlertMessage) {
			await this.broker.sendToChannel(CHANNELS.stockAlerts, message);
			await this.adapter.updateMany({ _id: message.productId }, { $unset: { [outboxKey(message)]: true } });
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
			const existing: Reservation | null = await this.reservations.findById(orderId);
			if (existing) return this.answerFrom(ctx, existing, items, false);

			const docs = await this.adapter.findByIds(items.map(i => i.productId));
			const byId = new Map(docs.map((d: any) => [String(d._id), d]));
			const unknown = items.filter(i => !byId.has(i.productId) || (byId.get(i.productId) as any).deleted).map(i => i.productId);
			if (unknown.length) return this.settleAttempt(ctx, orderId, items, { state: "failed", reason: "UNKNOWN_PRODUCT", unknown });

			const short: ShortItem[] = [];
			for (const item of items) {
				if (!(await this.takeStock(orderId, item))) {
					const doc = await this.adapter.findById(item.productId);
					short.push({ productId: item.productId, requested: item.quantity, available: Math.max(0, doc?.stock ?? 0) });
				}
			}
			if (short.length) return this.settleAttempt(ctx, orderId, items, { state: "failed", reason: "INSUFFICIENT_STOCK", short });

			const lines: ReservedLine[] = items.map(i => {
				const d = byId.get(i.productId) as any;
				return { productId: i.productId, sku: d.sku, name: d.name, unitPriceCents: d.priceCents, quantity: i.quantity };
			});
			return this.settleAttempt(ctx, orderId, items, { state: "reserved", lines });
		},

		/** Store this attempt's outcome unless another is stored already, then answer from the stored one. */
		async settleAttempt(ctx: Ctx, orderId: string, items: ReserveItem[], outcome: Partial<Reservation>) {
			try {
				const stored = await this.reservations.insert({ _id: orderId, items, ...outcome, ...this.stamps() });
				return this.answerFrom(ctx, stored, items, true);
			} catch (err) {
				if (!isDuplicateKeyError(err)) throw err;
				return this.answerFrom(ctx, await this.reservations.findById(orderId), items, false);
			}
		},

		/**
		 * Answer an attempt from the stored outcome: the lines when reserved;
		 * otherwise give back what this attempt took (nothing, if it took
		 * nothing) and throw why.
		 */
		async answerFrom(ctx: Ctx, r: Reservation, items: ReserveItem[], ours: boolean) {
			if (r.state === "reserved") {
				if (ours) {
					await this.afterStockChange(ctx, items.map(i => i.productId));
					this.queueMarkerClears(r);
				}
				return this.reservedAnswer(r);
			}
			if (!r.lines && (await this.giveBackTaken(r._id, items))) await this.afterStockChange(ctx, items.map(i => i.productId));
			throw this.closedReservationError(r);
		},

		async release(ctx: Ctx, orderId: string) {
			for (;;) {
				const r: Reservation | null = await this.reservations.findById(orderId);
				if (!r) {
					// A tombstone: a reserve still on its way finds it and gives back what it took.
					try {
						await this.reservations.insert({ _id: orderId, state: "released", items: [], reason: "RELEASED_BEFORE_RESERVE", ...this.stamps() });
						return { orderId, state: "released", released: false };
					} catch (err) {
						if (!isDuplicateKeyError(err)) throw err;
						continue;
					}
				}
				if (r.state === "failed" || r.state === "released") return { orderId, state: r.state, released: false };
				const won = r.state === "reserved" && (await this.moveReservation(orderId, "reserved", "releasing", { releasing: true }));
				if (r.state === "reserved" && !won) continue;
				// Finishing another caller's release is harmless: each give-back is applied once.
				await this.finishRelease(r);
				await this.afterStockChange(ctx, r.items.map(i => i.productId));
				return { orderId, state: "released", released: won };
			}
		},

		/**
		 * One product's share: decrement and marker in one conditional update,
		 * which also carries the removal of markers whose reservations have
		 * settled since (see queueMarkerClears): no write of their own.
		 */
		async takeStock(orderId: string, item: ReserveItem): Promise<boolean> {
			const key = holdKey(TAKE, orderId);
			const hold: Hold = { q: item.quantity, at: Date.now() };
			const clears: string[] = this.takeQueuedClears(item.productId);
			const n = await this.adapter.updateMany(
				{ _id: item.productId, deleted: { $ne: true }, stock: { $gte: item.quantity }, [key]: { $exists: false } },
				{ $inc: { stock: -item.quantity }, $set: { [key]: hold, updatedAt: new Date().toISOString() }, ...(clears.length ? { $unset: Object.fromEntries(clears.map(c => [c, true])) } : {}) },
			);
			if (n === 1) return true;
			this.requeueClears(item.productId, clears);
			// Taken already by another attempt of this same order (a retry)?
			return (await this.adapter.count({ query: { _id: item.productId, [key]: { $exists: true } } })) === 1;
		},

		/** A reserved order's take markers are removed with the next take of each product, or by the flush. */
		queueMarkerClears(r: Reservation) {
			for (const item of r.items) this.requeueClears(item.productId, [holdKey(TAKE, r._id)]);
		},

		requeueClears(productId: string, keys: string[]) {
			if (!keys.length) return;
			const queued: Set<string> = this.markerClears.get(productId) ?? new Set();
			keys.forEach(k => queued.add(k));
			this.markerClears.set(productId, queued);
		},

		takeQueuedClears(productId: string): string[] {
			const queued: Set<string> | undefined = this.markerClears.get(productId);
			if (!queued) return [];
			this.markerClears.delete(productId);
			return [...queued];
		},

		/** Clears still queued (products nobody ordered since): one update per product. */
		async flushMarkerClears() {
			for (const productId of [...this.markerClears.keys()]) {
				const clears: string[] = this.takeQueuedClears(productId);
				await this.adapter.updateMany({ _id: productId }, { $unset: Object.fromEntries(clears.map(c => [c, true])) });
			}
		},

		/** Undo the takes of an order whose reservation never held. Idempotent; true when stock moved. */
		async giveBackTaken(orderId: string, items: ReserveItem[]): Promise<boolean> {
			const key = holdKey(TAKE, orderId);
			let moved = false;
			for (const item of items) {
				const n = await this.adapter.updateMany(
					{ _id: item.productId, [key]: { $exists: true } },
					{ $inc: { stock: item.quantity }, $unset: { [key]: true }, $set: { updatedAt: new Date().toISOString() } },
				);
				moved ||= n === 1;
			}
			return moved;
		},

		async finishRelease(r: Reservation) {
			const key = holdKey(GIVE, r._id);
			for (const item of r.items) {
				const hold: Hold = { q: item.quantity, at: Date.now() };
				await this.adapter.updateMany(
					{ _id: item.productId, [key]: { $exists: false } },
					{ $inc: { stock: item.quantity }, $set: { [key]: hold, updatedAt: new Date().toISOString() } },
				);
			}
			if (await this.moveReservation(r._id, "releasing", "released")) {
				await this.reservations.updateMany({ _id: r._id }, { $unset: { releasing: true } });
			}
			setImmediate(() => this.clearMarkers(r, GIVE).catch((err: Error) => this.logger.warn("Clearing markers failed; the settler retries.", err.message)));
		},

		/** Remove a settled reservation's markers: stock does not move. */
		async clearMarkers(r: Reservation, kind: string) {
			const key = holdKey(kind, r._id);
			for (const item of r.items) await this.adapter.updateMany({ _id: item.productId, [key]: { $exists: true } }, { $unset: { [key]: true } });
		},

		/** Compare-and-set of a reservation's state; false when another step moved it first. */
		async moveReservation(orderId: string, from: ReservationState, to: ReservationState, fields: object = {}): Promise<boolean> {
			const n = await this.reservations.updateMany({ _id: orderId, state: from }, { $set: { ...fields, state: to, updatedAt: new Date().toISOString() } });
			return n === 1;
		},

		/**
		 * Bring every marker to rest from its reservation's outcome, and finish
		 * releases left half-done. Safe to run any number of times, anywhere.
		 */
		async settleReservations(now = Date.now()) {
			const timeout = this.settings.pendingTimeoutMs;
			const moved = new Set<string>();
			// The catalog is small next to the orders: a scan finds the products that carry markers or unsent alerts.
			const all = await this.adapter.find({ query: {} });
			for (const doc of all.filter((d: any) => d.alertOutbox && Object.keys(d.alertOutbox).length)) {
				for (const message of Object.values(doc.alertOutbox) as StockAlertMessage[]) {
					// Not published now (the channel adapter connects after the services start, or RabbitMQ is away): next round.
					await this.publishStockAlert(message).catch((err: Error) => this.logger.warn("Stock alert still not published", err.message));
				}
			}
			const products = all.filter((d: any) => d.holds && Object.keys(d.holds).length);
			for (const doc of products) {
				for (const [marker, hold] of Object.entries(doc.holds as Record<string, Hold>)) {
					const kind = marker.slice(0, 2);
					const orderId = marker.slice(2);
					let r: Reservation | null = await this.reservations.findById(orderId);
					if (!r && kind === TAKE && now - hold.at >= timeout) {
						// The attempt died before storing an outcome: fail it (unless it just stored one).
						await this.settleAttemptQuietly(orderId, [{ productId: String(doc._id), quantity: hold.q }]);
						r = await this.reservations.findById(orderId);
					}
					if (!r) continue;
					if (kind === TAKE && !r.lines) {
						if (await this.giveBackTaken(orderId, [{ productId: String(doc._id), quantity: hold.q }])) moved.add(String(doc._id));
					} else if (kind === TAKE || r.state === "released") {
						await this.adapter.updateMany({ _id: doc._id }, { $unset: { [holdKey(kind, orderId)]: true } });
					}
				}
			}
			const cutoff = new Date(now - timeout).toISOString();
			for (const r of (await this.reservations.find({ query: { releasing: true, updatedAt: { $lte: cutoff } } })) as Reservation[]) {
				await this.finishRelease(r);
				r.items.forEach(i => moved.add(i.productId));
			}
			if (moved.size) await this.afterStockChange(null, [...moved]);
		},

		async settleAttemptQuietly(orderId: string, items: ReserveItem[]) {
			try {
				await this.reservations.insert({ _id: orderId, items, state: "failed", reason: "EXPIRED", ...this.stamps() });
			} catch (err) {
				if (!isDuplicateKeyError(err)) throw err;
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

	created() {
		this.markerClears = new Map<string, Set<string>>();
	},

	async started() {
		this.flushTimer = setInterval(() => {
			this.flushMarkerClears().catch((err: Error) => this.logger.warn("Clearing markers failed; the settler retries.", err.message));
		}, MARKER_FLUSH_INTERVAL_MS);
		this.reservations = (await connectExtraAdapter(this, "reservations", [{ field: "releasing", sparse: true }])) as DbAdapter;
		// A start must not fail on what the settler cannot finish yet; it tries again every interval.
		await this.settleReservations().catch((err: Error) => this.logger.warn("Settling reservations failed", err.message));
		this.settleTimer = setInterval(() => {
			this.settleReservations().catch((err: Error) => this.logger.warn("Settling reservations failed", err.message));
		}, this.settings.recoveryIntervalMs);
	},

	async stopped() {
		clearInterval(this.settleTimer);
		clearInterval(this.flushTimer);
		await this.flushMarkerClears().catch(() => undefined);
		await this.reservations?.disconnect();
	},
};

export default ProductsService;
