import _ from "lodash";
import { LRUCache } from "lru-cache";
import DbMixin from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { CHANNELS, type StockAlertMessage } from "../lib/contracts/channels";
import { CENTS, COUNT, ID, ORDER_ID, ORDER_ITEMS, PAGE_PARAMS, PRODUCT_IMAGES, text } from "../lib/contracts/params";
import type { ReserveItem } from "../lib/contracts/reservations";
import { settings } from "../lib/infra/settings";
import { type Ctx, type LowStockProduct, type Product, defineService, state } from "../lib/contracts/types";
import type { ActionDef } from "../lib/contracts/schema";
import { Catalog, listQuery, type ListParams, type NewProduct, type ProductChanges } from "./products/catalog";
import { PRODUCT_INDEXES, RESERVATION_INDEXES, type ProductDoc, type ReservationDoc } from "./products/documents";
import { StockAlerts } from "./products/stock-alerts";
import { StockLedger } from "./products/stock-ledger";

const PUBLIC_FIELDS = ["id", "sku", "name", "description", "category", "priceCents", "stock", "lowStockThreshold", "images", "createdAt", "updatedAt"] as const;
const SORTS = ["priceCents", "-priceCents", "name", "-name", "createdAt", "-createdAt", "stock", "-stock", "sku", "-sku"];
const DESCRIPTION = { type: "string", trim: true, max: 5000 } as const;
const MARKER_FLUSH_INTERVAL_MS = 250;
/** A busy product's stock changes are pushed at most this often, the latest state last (see pushProduct). */
const PRODUCT_PUSH_INTERVAL_MS = 50;
/** Throttles kept for the products changed last; one pushed out sends its pending push at once (no newer push can precede it). */
const PRODUCT_PUSH_THROTTLES = 1_000;

/** Called by other services only, and safe to retry: the ledger keys every step by order id. Typed: an object left to inference here stops TypeScript inferring the schema's methods. */
const INTERNAL_IDEMPOTENT: Pick<ActionDef, "visibility" | "retryPolicy"> = { visibility: "public", retryPolicy: { enabled: true } };
/** A read: a call rejected because its node died (lib/infra/amqp-transporter.ts) is tried again on another. */
const RETRIED_READ: Pick<ActionDef, "retryPolicy"> = { retryPolicy: { enabled: true } };

const ProductsService = defineService({
	name: "products",
	mixins: [DbMixin<ProductDoc, Product>({ collection: "products", indexes: PRODUCT_INDEXES, publicFields: PUBLIC_FIELDS, publicDefaults: { images: () => [] } }), HealthMixin],

	settings: {
		settlement: settings.settlement,
	},

	state: state<{
		catalog: Catalog;
		ledger: StockLedger;
		stockAlerts: StockAlerts;
		recoveryTimer?: NodeJS.Timeout;
		flushTimer?: NodeJS.Timeout;
		productPushes: LRUCache<string, _.DebouncedFunc<(product: Product) => void>>;
	}>(),

	actions: {
		create: {
			params: {
				sku: { type: "string", trim: true, min: 1, max: 64, pattern: /^[A-Za-z0-9._-]+$/ },
				name: text(200),
				description: { ...DESCRIPTION, optional: true },
				category: text(100),
				priceCents: CENTS,
				stock: COUNT,
				lowStockThreshold: { ...COUNT, optional: true },
				images: { ...PRODUCT_IMAGES, optional: true },
			},
			async handler(ctx: Ctx<NewProduct>): Promise<Product> {
				// A product created at or below its threshold is low from the start.
				const [product] = await this.afterStockChange([(await this.catalog.create(ctx.params))._id], ctx);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/products/${product.id}`;
				return product;
			},
		},

		get: {
			// `near`: gateways keep the answer too, checked against the service's tag (middlewares/near-cache.ts).
			cache: { keys: ["id"], near: true },
			...RETRIED_READ,
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>): Promise<Product> {
				return this.toPublic(await this.catalog.get(ctx.params.id));
			},
		},

		list: {
			// Searches are many and seldom repeated: their answers live a minute.
			cache: { keys: ["page", "pageSize", "search", "category", "ids", "sort"], ttl: 60, near: true },
			...RETRIED_READ,
			params: {
				...PAGE_PARAMS,
				search: { type: "string", trim: true, max: 100, optional: true },
				category: { type: "string", trim: true, max: 100, optional: true },
				ids: { type: "string", max: 6500, pattern: /^[A-Za-z0-9_,-]*$/, optional: true },
				sort: { type: "enum", values: SORTS, optional: true, default: "-createdAt" },
			},
			async handler(ctx: Ctx<ListParams>) {
				const { page, pageSize, sort } = ctx.params;
				return this.findPage(listQuery(ctx.params), sort, page, pageSize);
			},
		},

		categories: {
			cache: { keys: [], near: true },
			...RETRIED_READ,
			handler() {
				return this.catalog.categories();
			},
		},

		update: {
			params: {
				id: ID,
				name: { ...text(200), optional: true },
				description: { ...DESCRIPTION, optional: true },
				category: { ...text(100), optional: true },
				priceCents: { ...CENTS, optional: true },
				lowStockThreshold: { ...COUNT, optional: true },
				images: { ...PRODUCT_IMAGES, optional: true },
			},
			async handler(ctx: Ctx<{ id: string } & ProductChanges>): Promise<Product> {
				const { id, ...changes } = ctx.params;
				await this.catalog.update(id, changes);
				// A threshold raised to the stock makes it low; lowered below, the alert is armed again.
				const [product] = await this.afterStockChange([id], ctx);
				return product;
			},
		},

		restock: {
			params: { id: ID, quantity: { type: "number", integer: true, min: 1, max: 1_000_000_000 } },
			async handler(ctx: Ctx<{ id: string; quantity: number }>): Promise<Product> {
				await this.catalog.restock(ctx.params.id, ctx.params.quantity);
				const [product] = await this.afterStockChange([ctx.params.id], ctx);
				return product;
			},
		},

		/** A return's lines back into stock, once per return and product (orders' settler may send it again). Internal. */
		restockReturn: {
			...INTERNAL_IDEMPOTENT,
			params: {
				returnId: ORDER_ID,
				items: { type: "array", min: 1, max: 50, items: { type: "object", props: { productId: ID, quantity: { type: "number", integer: true, min: 1, max: 1000 } } } },
			},
			async handler(ctx: Ctx<{ returnId: string; items: Array<{ productId: string; quantity: number }> }>): Promise<void> {
				await this.catalog.restockReturn(ctx.params.returnId, ctx.params.items);
				// Every product, moved now or by an earlier attempt: a crash may have cut that one before it announced the change.
				await this.afterStockChange(
					ctx.params.items.map(i => i.productId),
					ctx,
				);
			},
		},

		remove: {
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>): Promise<Product & { deleted: true }> {
				const product = { ...this.toPublic(await this.catalog.remove(ctx.params.id)), deleted: true as const };
				// Pushed with `deleted`, so open pages drop it.
				await this.productsChanged([product], ctx);
				return product;
			},
		},

		/** Take every item's quantity, or nothing; idempotent per orderId. Internal: orders' placement. */
		reserve: {
			...INTERNAL_IDEMPOTENT,
			params: {
				orderId: ORDER_ID,
				items: ORDER_ITEMS,
			},
			handler(ctx: Ctx<{ orderId: string; items: ReserveItem[] }>) {
				return this.ledger.reserve(ctx.params.orderId, ctx.params.items);
			},
		},

		/** Give back what an order holds, exactly once. Internal. */
		release: {
			...INTERNAL_IDEMPOTENT,
			params: { orderId: ORDER_ID },
			handler(ctx: Ctx<{ orderId: string }>) {
				return this.ledger.release(ctx.params.orderId);
			},
		},

		/** The state of an order's reservation, for the orders settler. Internal. */
		reservation: {
			...INTERNAL_IDEMPOTENT,
			params: { orderId: ORDER_ID },
			handler(ctx: Ctx<{ orderId: string }>) {
				return this.ledger.view(ctx.params.orderId);
			},
		},

		/** Products at or below their low-stock threshold. Internal: the dashboard. */
		lowStock: {
			visibility: "public",
			cache: { keys: [] },
			handler(): Promise<LowStockProduct[]> {
				return this.stockAlerts.lowStock();
			},
		},
	},

	methods: {
		/** Clear the caches before the answer; tell the others after it. */
		async productsChanged(products: Product[], ctx?: Ctx, crossings: StockAlertMessage[] = []): Promise<void> {
			await this.entityChanged("updated", products, ctx ?? null);
			const emitter = ctx ?? this.broker;
			setImmediate(() => {
				for (const product of products) this.pushProduct(product);
				for (const crossing of crossings) this.stockAlerts.announce(emitter, crossing);
			});
		},

		/**
		 * `product.updated` for everyone, throttled per product: a change is
		 * pushed at once, and changes within the next interval are pushed
		 * together, as the product's latest state, when it ends. Under a
		 * burst of orders each client gets a few pushes per product per
		 * second (each crossing every gateway and every socket) instead of
		 * one per order, and always ends with the state that is stored.
		 */
		pushProduct(product: Product): void {
			let push = this.productPushes.get(product.id);
			if (!push) {
				push = _.throttle((latest: Product) => void this.broker.emit("product.updated", { product: latest }), PRODUCT_PUSH_INTERVAL_MS);
				this.productPushes.set(product.id, push);
			}
			push(product);
		},

		/** Re-read products whose stock or threshold moved and find their stock crossings, then productsChanged. */
		async afterStockChange(ids: string[], ctx?: Ctx): Promise<Product[]> {
			const docs = await this.adapter.findByIds(_.uniq(ids));
			const crossings: StockAlertMessage[] = [];
			for (const doc of docs) crossings.push(...(await this.stockAlerts.detect(doc)));
			const products = docs.map(d => this.toPublic(d));
			await this.productsChanged(products, ctx, crossings);
			return products;
		},

		/** One recovery round: markers and releases left by a crash, and alerts not yet sent. Never throws. */
		async recover(): Promise<void> {
			try {
				await this.stockAlerts.resendUnsent();
				await this.ledger.recover();
			} catch (err) {
				this.logger.warn("Recovering reservations failed; the next round retries", (err as Error).message);
			}
		},
	},

	created() {
		this.catalog = new Catalog(this.adapter);
		this.productPushes = new LRUCache({ max: PRODUCT_PUSH_THROTTLES, dispose: push => push.flush() });
	},

	async started() {
		const reservations = await this.openCollection<ReservationDoc>("reservations", RESERVATION_INDEXES);
		this.stockAlerts = new StockAlerts(this.adapter, message => this.broker.sendToChannel(CHANNELS.stockAlerts, message), this.logger);
		this.ledger = new StockLedger(this.adapter, reservations, this.settings.settlement, async ids => void (await this.afterStockChange(ids)));
		this.flushTimer = setInterval(() => {
			this.ledger.flushMarkerClears().catch((err: Error) => this.logger.warn("Clearing markers failed; the recovery round retries.", err.message));
		}, MARKER_FLUSH_INTERVAL_MS);
		// A start must not fail on what recovery cannot finish yet; it tries again every interval.
		await this.recover();
		this.recoveryTimer = setInterval(() => void this.recover(), this.settings.settlement.recoveryIntervalMs);
	},

	async stopped() {
		clearInterval(this.recoveryTimer);
		clearInterval(this.flushTimer);
		for (const push of this.productPushes.values()) push.flush();
		await this.ledger?.flushMarkerClears().catch(() => undefined);
	},
});

export default ProductsService;
