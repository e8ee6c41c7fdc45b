import _ from "lodash";
import type { ServiceSchema } from "moleculer";
import DbMixin, { type DbMethods, type DbSettings } from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { CHANNELS, type StockAlertMessage } from "../lib/channels";
import { isDuplicateKeyError, type Query } from "../lib/db/adapter";
import { newId } from "../lib/db/ids";
import { ConflictError, NotFoundError } from "../lib/errors";
import { pageParams } from "../lib/pagination";
import type { ReserveItem } from "../lib/reservations";
import { settings, type SettlementSettings } from "../lib/settings";
import { Ctx, Product, ServiceBase, defineService } from "../lib/types";
import type { ProductDoc, ReservationDoc } from "./products/documents";
import { StockAlerts, type LowStockProduct } from "./products/stock-alerts";
import { StockLedger } from "./products/stock-ledger";

const PUBLIC_FIELDS = ["id", "sku", "name", "description", "category", "priceCents", "stock", "lowStockThreshold", "createdAt", "updatedAt"] as const;
const SORTS = ["priceCents", "-priceCents", "name", "-name", "createdAt", "-createdAt", "stock", "-stock", "sku", "-sku"];
const ID = { type: "string", min: 1, max: 64 } as const;
const ORDER_ID = { type: "string", min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/ } as const;
const CENTS = { type: "number", integer: true, min: 0, max: 1_000_000_000 } as const;
const COUNT = { type: "number", integer: true, min: 0, max: 1_000_000_000 } as const;
const TEXT = (max: number) => ({ type: "string", trim: true, min: 1, max }) as const;
const DESCRIPTION = { type: "string", trim: true, max: 5000 } as const;
const MARKER_FLUSH_INTERVAL_MS = 250;

interface ProductsSettings extends DbSettings {
	settlement: SettlementSettings;
}

interface ListParams {
	page: number;
	pageSize: number;
	search?: string;
	category?: string;
	ids?: string;
	sort: string;
}

type NewProduct = Pick<Product, "sku" | "name" | "category" | "priceCents" | "stock"> & Partial<Pick<Product, "description" | "lowStockThreshold">>;
type ProductChanges = Partial<Pick<Product, "name" | "description" | "category" | "priceCents" | "lowStockThreshold">>;

/** What `this` is inside the products service. */
interface ProductsThis extends ServiceBase<ProductsSettings>, DbMethods<ProductDoc, Product> {
	ledger: StockLedger;
	stockAlerts: StockAlerts;
	recoveryTimer?: NodeJS.Timeout;
	flushTimer?: NodeJS.Timeout;
	listQuery(params: ListParams): Query;
	findActive(id: string): Promise<ProductDoc>;
	productsChanged(ctx: Ctx, products: Product[]): Promise<void>;
	afterStockChange(ids: string[], ctx?: Ctx): Promise<Product[]>;
	recover(): Promise<void>;
}

const ProductsService = defineService<ProductsSettings, ProductsThis>({
	name: "products",
	mixins: [
		DbMixin<ProductDoc, Product>({ collection: "products", indexes: [{ field: "activeSku", unique: true, sparse: true }], publicFields: PUBLIC_FIELDS }),
		HealthMixin,
	],

	settings: {
		settlement: settings.settlement,
	},

	actions: {
		create: {
			params: {
				sku: { type: "string", trim: true, min: 1, max: 64, pattern: /^[A-Za-z0-9._-]+$/ },
				name: TEXT(200),
				description: { ...DESCRIPTION, optional: true },
				category: TEXT(100),
				priceCents: CENTS,
				stock: COUNT,
				lowStockThreshold: { ...COUNT, optional: true },
			},
			async handler(this: ProductsThis, ctx: Ctx<NewProduct>): Promise<Product> {
				const p = ctx.params;
				const at = new Date().toISOString();
				const doc: ProductDoc = {
					_id: newId(),
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
					createdAt: at,
					updatedAt: at,
				};
				try {
					await this.adapter.insert(doc);
				} catch (err) {
					if (isDuplicateKeyError(err)) throw new ConflictError(`SKU ${p.sku} is already taken`, "SKU_TAKEN", { sku: p.sku });
					throw err;
				}
				const product = this.toPublic(doc);
				await this.productsChanged(ctx, [product]);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/products/${product.id}`;
				return product;
			},
		},

		get: {
			cache: { keys: ["id"] },
			params: { id: ID },
			async handler(this: ProductsThis, ctx: Ctx<{ id: string }>): Promise<Product> {
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
			async handler(this: ProductsThis, ctx: Ctx<ListParams>) {
				const { page, pageSize, sort } = ctx.params;
				return this.findPage(this.listQuery(ctx.params), sort, page, pageSize);
			},
		},

		categories: {
			cache: true,
			async handler(this: ProductsThis): Promise<Array<{ name: string; productCount: number }>> {
				const docs = await this.adapter.find({ query: { deleted: { $ne: true } } });
				const counts = _.countBy(docs, d => d.category);
				return Object.keys(counts)
					.sort()
					.map(name => ({ name, productCount: counts[name] }));
			},
		},

		update: {
			params: {
				id: ID,
				name: { ...TEXT(200), optional: true },
				description: { ...DESCRIPTION, optional: true },
				category: { ...TEXT(100), optional: true },
				priceCents: { ...CENTS, optional: true },
				lowStockThreshold: { ...COUNT, optional: true },
			},
			async handler(this: ProductsThis, ctx: Ctx<{ id: string } & ProductChanges>): Promise<Product> {
				const { id, ...changes } = ctx.params;
				const set = _.pickBy(_.pick(changes, ["name", "description", "category", "priceCents", "lowStockThreshold"]), v => v !== undefined);
				const n = await this.adapter.updateMany({ _id: id, deleted: { $ne: true } }, { $set: { ...set, updatedAt: new Date().toISOString() } });
				if (n === 0) throw new NotFoundError("Product", id);
				const product = this.toPublic(await this.findActive(id));
				await this.productsChanged(ctx, [product]);
				return product;
			},
		},

		restock: {
			params: { id: ID, quantity: { type: "number", integer: true, min: 1, max: 1_000_000_000 } },
			async handler(this: ProductsThis, ctx: Ctx<{ id: string; quantity: number }>): Promise<Product> {
				const { id, quantity } = ctx.params;
				const n = await this.adapter.updateMany({ _id: id, deleted: { $ne: true } }, { $inc: { stock: quantity }, $set: { updatedAt: new Date().toISOString() } });
				if (n === 0) throw new NotFoundError("Product", id);
				const [product] = await this.afterStockChange([id], ctx);
				return product;
			},
		},

		remove: {
			params: { id: ID },
			async handler(this: ProductsThis, ctx: Ctx<{ id: string }>): Promise<Product & { deleted: true }> {
				const { id } = ctx.params;
				const at = new Date().toISOString();
				// `activeSku` goes, so the sku can be used again; the document stays for reservations still held.
				const n = await this.adapter.updateMany({ _id: id, deleted: { $ne: true } }, { $set: { deleted: true, deletedAt: at, updatedAt: at }, $unset: { activeSku: true } });
				if (n === 0) throw new NotFoundError("Product", id);
				const product = this.toPublic((await this.adapter.findById(id))!);
				await this.productsChanged(ctx, [product]);
				return { ...product, deleted: true };
			},
		},

		/** Take every item's quantity, or nothing; idempotent per orderId. Internal: orders' placement. */
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
			handler(this: ProductsThis, ctx: Ctx<{ orderId: string; items: ReserveItem[] }>) {
				return this.ledger.reserve(ctx.params.orderId, ctx.params.items);
			},
		},

		/** Give back what an order holds, exactly once. Internal. */
		release: {
			visibility: "public",
			retryPolicy: { enabled: true },
			params: { orderId: ORDER_ID },
			handler(this: ProductsThis, ctx: Ctx<{ orderId: string }>) {
				return this.ledger.release(ctx.params.orderId);
			},
		},

		/** The state of an order's reservation, for the orders settler. Internal. */
		reservation: {
			visibility: "public",
			retryPolicy: { enabled: true },
			params: { orderId: ORDER_ID },
			handler(this: ProductsThis, ctx: Ctx<{ orderId: string }>) {
				return this.ledger.view(ctx.params.orderId);
			},
		},

		/** Products at or below their low-stock threshold. Internal: the dashboard. */
		lowStock: {
			visibility: "public",
			cache: true,
			handler(this: ProductsThis): Promise<LowStockProduct[]> {
				return this.stockAlerts.lowStock();
			},
		},
	},

	methods: {
		listQuery(params: ListParams): Query {
			const query: Query = { deleted: { $ne: true } };
			if (params.category) query.category = params.category;
			if (params.ids !== undefined) query._id = { $in: _.uniq(params.ids.split(",").filter(Boolean)).slice(0, 100) };
			if (params.search) {
				const re = new RegExp(_.escapeRegExp(params.search), "i");
				query.$or = [{ name: re }, { sku: re }, { description: re }];
			}
			return query;
		},

		async findActive(this: ProductsThis, id: string): Promise<ProductDoc> {
			const doc = await this.adapter.findById(id);
			if (!doc || doc.deleted) throw new NotFoundError("Product", id);
			return doc;
		},

		/** Clear the caches before the answer; tell the others after it. */
		async productsChanged(this: ProductsThis, ctx: Ctx, products: Product[]): Promise<void> {
			await this.entityChanged("updated", products, ctx);
			setImmediate(() => {
				for (const product of products) void ctx.emit("product.updated", { product });
			});
		},

		/** Re-read products whose stock moved, clear caches, find stock crossings; announce after the answer. */
		async afterStockChange(this: ProductsThis, ids: string[], ctx?: Ctx): Promise<Product[]> {
			const emitter = ctx ?? this.broker;
			const docs = await this.adapter.findByIds(_.uniq(ids));
			const products = docs.map(d => this.toPublic(d));
			await this.entityChanged("updated", products, ctx ?? null);
			const crossings: StockAlertMessage[] = [];
			for (const doc of docs) crossings.push(...(await this.stockAlerts.detect(doc)));
			setImmediate(() => {
				for (const product of products) void emitter.emit("product.updated", { product });
				for (const c of crossings) {
					if (c.type === "stock_low") void emitter.emit("product.stock_low", _.pick(c, ["productId", "sku", "name", "stock", "threshold"]));
					this.stockAlerts.publish(c).catch((err: Error) => this.logger.warn("Stock alert not published yet; the recovery round retries", err.message));
				}
			});
			return products;
		},

		/** One recovery round: markers and releases left by a crash, and alerts not yet sent. Never throws. */
		async recover(this: ProductsThis): Promise<void> {
			try {
				await this.stockAlerts.resendUnsent();
				await this.ledger.recover();
			} catch (err) {
				this.logger.warn("Recovering reservations failed; the next round retries", (err as Error).message);
			}
		},
	},

	async started(this: ProductsThis) {
		const reservations = await this.openCollection<ReservationDoc>("reservations", [{ field: "releasing", sparse: true }]);
		this.stockAlerts = new StockAlerts(this.adapter, message => this.broker.sendToChannel(CHANNELS.stockAlerts, message), this.logger);
		this.ledger = new StockLedger(this.adapter, reservations, this.settings.settlement, async ids => void (await this.afterStockChange(ids)));
		this.flushTimer = setInterval(() => {
			this.ledger.flushMarkerClears().catch((err: Error) => this.logger.warn("Clearing markers failed; the recovery round retries.", err.message));
		}, MARKER_FLUSH_INTERVAL_MS);
		// A start must not fail on what recovery cannot finish yet; it tries again every interval.
		await this.recover();
		this.recoveryTimer = setInterval(() => void this.recover(), this.settings.settlement.recoveryIntervalMs);
	},

	async stopped(this: ProductsThis) {
		clearInterval(this.recoveryTimer);
		clearInterval(this.flushTimer);
		await this.ledger?.flushMarkerClears().catch(() => undefined);
	},
});

export default ProductsService;
