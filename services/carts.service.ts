import DbMixin from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import type { AuthUser } from "../lib/contracts/auth";
import type { CheckoutCart } from "../lib/contracts/checkout";
import { NotFoundError, UnauthorizedError, UnprocessableError } from "../lib/contracts/errors";
import { ID, QUANTITY } from "../lib/contracts/params";
import { REJECTION } from "../lib/contracts/reservations";
import { settings } from "../lib/infra/settings";
import { type Ctx, type Product, defineService, state } from "../lib/contracts/types";
import { CART_INDEXES, CartBook, type CartDoc, type CartOwner } from "./carts/cart-book";
import { cartView, type CartView } from "./carts/view";

/** How often idle carts are swept away. */
const SWEEP_INTERVAL_MS = 10 * 60_000;

/**
 * Carts: a guest's, reached by its token (X-Cart-Token), or a signed-in
 * customer's. A guest's cart merges into the customer's once signed in
 * (`POST /api/cart/merge` with the token). Every answer is the cart priced
 * now; checkout (orders) reads the lines through `checkoutLines`.
 */
const CartsService = defineService({
	name: "carts",
	mixins: [DbMixin<CartDoc, CartDoc>({ collection: "carts", indexes: CART_INDEXES, publicFields: [] }), HealthMixin],

	settings: {
		shop: settings.shop,
	},

	state: state<{ book: CartBook; sweepTimer?: NodeJS.Timeout }>(),

	actions: {
		/** A guest's new cart and its token (201); a signed-in customer's own cart. */
		create: {
			params: {},
			async handler(ctx: Ctx): Promise<CartView | { token: string; cart: CartView }> {
				if (ctx.meta.user) return this.callersCart(ctx, owner => this.book.get(owner));
				const { cart, token } = await this.book.createGuest();
				ctx.meta.$statusCode = 201;
				ctx.meta.$responseHeaders = { "X-Cart-Token": token };
				return { token, cart: await this.view(ctx, { token }, cart) };
			},
		},

		get: {
			params: {},
			handler(ctx: Ctx): Promise<CartView> {
				return this.callersCart(ctx, owner => this.book.get(owner));
			},
		},

		addItem: {
			params: { productId: ID, quantity: QUANTITY },
			async handler(ctx: Ctx<{ productId: string; quantity: number }>): Promise<CartView> {
				const owner = this.owner(ctx);
				// The cart first: one the token does not reach is 404 whatever the product. Then one read of the catalog prices the new line and the view.
				const cart = await this.book.get(owner);
				const catalog = await this.catalog(ctx, [...new Set([...cart.lines.map(l => l.productId), ctx.params.productId])]);
				const product = catalog.get(ctx.params.productId);
				if (!product) throw unknownProduct();
				return this.view(ctx, owner, await this.book.add(owner, ctx.params.productId, ctx.params.quantity, product.priceCents, cart), catalog);
			},
		},

		setItem: {
			params: { productId: ID, quantity: QUANTITY },
			handler(ctx: Ctx<{ productId: string; quantity: number }>): Promise<CartView> {
				return this.callersCart(ctx, async owner => {
					// A line the cart does not hold is 404, whatever the product.
					const cart = await this.book.get(owner);
					if (!cart.lines.some(l => l.productId === ctx.params.productId)) throw new NotFoundError("Cart line", ctx.params.productId);
					const price = await this.priceOf(ctx, ctx.params.productId);
					return this.book.setQuantity(owner, ctx.params.productId, ctx.params.quantity, price, cart);
				});
			},
		},

		removeItem: {
			params: { productId: ID },
			handler(ctx: Ctx<{ productId: string }>): Promise<CartView> {
				return this.callersCart(ctx, owner => this.book.remove(owner, ctx.params.productId));
			},
		},

		clear: {
			params: {},
			handler(ctx: Ctx): Promise<CartView> {
				return this.callersCart(ctx, owner => this.book.clear(owner));
			},
		},

		/** A guest cart (its token in X-Cart-Token) merged into the signed-in customer's; the token ends. Without a token there is nothing to merge: the customer's cart. */
		merge: {
			params: {},
			async handler(ctx: Ctx): Promise<CartView> {
				const user = ctx.meta.user as AuthUser | undefined;
				if (!user) throw new UnauthorizedError("Sign in to merge a guest cart");
				const token = ctx.meta.cartToken;
				const owner = { customerId: user.id };
				return this.view(ctx, owner, token === undefined ? await this.book.get(owner) : await this.book.merge(token, user.id));
			},
		},

		/** Internal: the customer's lines and the prices last shown, for checkout. */
		checkoutLines: {
			visibility: "public",
			params: { customerId: ID },
			async handler(ctx: Ctx<{ customerId: string }>): Promise<CheckoutCart> {
				const cart = await this.book.find({ customerId: ctx.params.customerId });
				return { cartId: cart?._id ?? null, version: cart?.updatedAt ?? null, lines: cart?.lines ?? [] };
			},
		},

		/** Internal: after a checkout found prices changed, the prices now become the ones shown. */
		reprice: {
			visibility: "public",
			params: { customerId: ID },
			async handler(ctx: Ctx<{ customerId: string }>): Promise<{ ok: true }> {
				const owner = { customerId: ctx.params.customerId };
				const cart = await this.book.get(owner);
				const catalog = await this.catalog(
					ctx,
					cart.lines.map(l => l.productId),
				);
				await this.book.reprice(owner, catalog, cart);
				return { ok: true };
			},
		},

		/** Internal: the cart that became an order is emptied, unless it changed since checkout read it. */
		checkedOut: {
			visibility: "public",
			params: { customerId: ID, version: { type: "string", min: 1, max: 64 } },
			async handler(ctx: Ctx<{ customerId: string; version: string }>): Promise<{ emptied: boolean }> {
				return { emptied: await this.book.checkedOut(ctx.params.customerId, ctx.params.version) };
			},
		},
	},

	methods: {
		/** The signed-in customer's cart; a guest's only through its token (404 without one: nothing says a cart exists). */
		owner(ctx: Ctx): CartOwner {
			if (ctx.meta.user) return { customerId: ctx.meta.user.id };
			if (ctx.meta.cartToken === undefined) throw new NotFoundError("Cart");
			return { token: ctx.meta.cartToken };
		},

		/** The caller's cart (the owner a request reaches), after `change`, priced now. */
		async callersCart(ctx: Ctx, change: (owner: CartOwner) => Promise<CartDoc>): Promise<CartView> {
			const owner = this.owner(ctx);
			return this.view(ctx, owner, await change(owner));
		},

		async catalog(ctx: Ctx, ids: string[]): Promise<ReadonlyMap<string, Product>> {
			if (ids.length === 0) return new Map<string, Product>();
			const page = await ctx.call<{ rows: Product[] }, object>("products.list", { ids: ids.join(","), pageSize: 100 });
			return new Map(page.rows.map(p => [p.id, p]));
		},

		/** A product's price now; 422 for one that is not in the catalog. */
		async priceOf(ctx: Ctx, productId: string): Promise<number> {
			try {
				return (await ctx.call<Product, { id: string }>("products.get", { id: productId })).priceCents;
			} catch (err) {
				if ((err as { code?: number }).code !== 404) throw err;
				throw unknownProduct();
			}
		},

		/** The cart priced now (`read`: the catalog as this request just read it, holding every line's product); the prices shown become the ones checkout compares with. */
		async view(ctx: Ctx, owner: CartOwner, cart: CartDoc, read?: ReadonlyMap<string, Product>): Promise<CartView> {
			const catalog =
				read ??
				(await this.catalog(
					ctx,
					cart.lines.map(l => l.productId),
				));
			return cartView(await this.book.reprice(owner, catalog, cart), catalog, this.settings.shop.pricing.currency);
		},
	},

	started() {
		this.book = new CartBook(this.adapter, this.settings.shop.cartTtlMs);
		this.sweepTimer = setInterval(() => {
			this.book.sweep().catch((err: Error) => this.logger.warn("Sweeping idle carts failed; the next round retries", err.message));
		}, SWEEP_INTERVAL_MS);
		this.sweepTimer.unref();
	},

	stopped() {
		clearInterval(this.sweepTimer);
	},
});

function unknownProduct(): UnprocessableError {
	return new UnprocessableError("No product has this id", [{ field: "productId", type: "exists", message: "No product has this id." }], REJECTION.unknownProduct);
}

export default CartsService;
