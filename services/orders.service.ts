import DbMixin from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import type { AuthUser } from "../lib/contracts/auth";
import { CHANNELS, type OrderStatusMessage } from "../lib/contracts/channels";
import { ForbiddenError, NotFoundError, UnauthorizedError, UnprocessableError } from "../lib/contracts/errors";
import { ORDER_STATUSES, type OrderStatus } from "../lib/contracts/order-status";
import { ID, ORDER_ITEMS, PAGE_PARAMS } from "../lib/contracts/params";
import type { ReserveItem } from "../lib/contracts/reservations";
import { everyAndOnceAvailable, oneAtATime } from "../lib/infra/rounds";
import { settings } from "../lib/infra/settings";
import { ORDER_REFUSAL, type CanOrderAnswer, type Ctx, type Order, type ShippingAddress, defineService, state } from "../lib/contracts/types";
import { ORDER_INDEXES, type OrderDoc } from "./orders/placement";
import { ORDER_MIGRATIONS } from "./orders/order-doc";
import { PaymentHold } from "./orders/payment-hold";
import { Checkout, holdPricer, type CheckoutRequestBody, type Quote, type QuoteRequest } from "./orders/checkout";
import { CHECKOUT_PARAMS, QUOTE_PARAMS, checkoutFieldsOf } from "./orders/checkout-params";
import { validationError } from "../lib/infra/validation";
import { AFTERCARE_DEFAULTS, AFTERCARE_INDEXES, Aftercare } from "./orders/aftercare";
import { AFTERCARE_FIELDS, AFTERCARE_PARAMS } from "./orders/aftercare-params";
import type { PaymentUpdate, ReturnLine } from "../lib/contracts/payments";

const PUBLIC_FIELDS = ["id", "customerId", "items", "totalCents", "status", "statusHistory", "shippingAddress", ...AFTERCARE_FIELDS, "createdAt", "updatedAt"] as const;
const ADDRESS_LINE = { type: "string", trim: true, min: 1, max: 200 } as const;

const OrdersService = defineService({
	name: "orders",
	mixins: [
		DbMixin<OrderDoc, Order>({
			collection: "orders",
			indexes: [...ORDER_INDEXES, ...AFTERCARE_INDEXES],
			publicFields: PUBLIC_FIELDS,
			publicDefaults: AFTERCARE_DEFAULTS,
			moreFields: checkoutFieldsOf,
			migrations: ORDER_MIGRATIONS,
		}),
		HealthMixin,
	],

	settings: {
		settlement: settings.settlement,
		shop: settings.shop,
	},

	state: state<{ placement: PaymentHold; checkout: Checkout; aftercare: Aftercare; recover: () => Promise<void>; stopRecovery?: () => void }>(),

	actions: {
		create: {
			params: {
				items: ORDER_ITEMS,
				shippingAddress: {
					type: "object",
					optional: true,
					nullable: true,
					props: {
						line1: ADDRESS_LINE,
						city: { ...ADDRESS_LINE, max: 100 },
						postalCode: { type: "string", trim: true, min: 1, max: 20 },
						country: { type: "string", trim: true, min: 2, max: 56 },
					},
				},
			},
			async handler(ctx: Ctx<{ items: ReserveItem[]; shippingAddress?: ShippingAddress }>): Promise<Order> {
				const user = this.requireUser(ctx);
				const items = ctx.params.items;
				if (new Set(items.map(i => i.productId)).size !== items.length) {
					throw validationError([{ field: "items", type: "unique", message: "Each productId may appear once" }], "Each product may appear once");
				}
				const customerId = this.orderingCustomer(ctx, user);
				await this.assertMayOrder(ctx, customerId);
				const { order, created } = await this.placement.open(customerId, ctx.meta.idempotencyKey, items, ctx.params.shippingAddress ?? null, ctx.meta.placedAt);
				const placed = order.status === "pending" ? await this.placement.place(ctx, order) : order;
				ctx.meta.$statusCode = created ? 201 : 200;
				if (created) ctx.meta.$location = `/api/orders/${placed._id}`;
				return this.toPublic(placed);
			},
		},

		/** The cart priced for an address and a shipping method (nothing is held). */
		quote: {
			params: QUOTE_PARAMS,
			async handler(ctx: Ctx<QuoteRequest>): Promise<Quote> {
				return this.checkout.quote(ctx, this.requireUser(ctx).id, ctx.params);
			},
		},

		/** The signed-in customer's cart becomes an order awaiting payment (optional Idempotency-Key, shared with create). */
		checkout: {
			params: CHECKOUT_PARAMS,
			async handler(ctx: Ctx<CheckoutRequestBody>): Promise<Order> {
				const user = this.requireUser(ctx);
				await this.assertMayOrder(ctx, user.id);
				const { order, created } = await this.checkout.checkout(ctx, user.id, ctx.meta.idempotencyKey, ctx.params);
				ctx.meta.$statusCode = created ? 201 : 200;
				if (created) ctx.meta.$location = `/api/orders/${order._id}`;
				return this.toPublic(order);
			},
		},

		/** Internal (payments): a checkout order was paid; awaiting payment → confirmed. Idempotent; 409 ORDER_EXPIRED when it expired first. */
		confirmPaid: {
			visibility: "public",
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>): Promise<Order> {
				return this.toPublic(await this.placement.confirmPaid(ctx, await this.findOrder(ctx.params.id)));
			},
		},

		list: {
			params: {
				...PAGE_PARAMS,
				status: { type: "enum", values: ORDER_STATUSES, optional: true },
				customerId: { ...ID, optional: true },
			},
			handler(ctx: Ctx<{ page: number; pageSize: number; status?: OrderStatus; customerId?: string }>) {
				const user = this.requireUser(ctx);
				const { page, pageSize, status } = ctx.params;
				const query: Record<string, unknown> = {};
				if (user.role !== "admin") query.customerId = user.id;
				else if (ctx.params.customerId) query.customerId = ctx.params.customerId;
				if (status) query.status = status;
				return this.findPage(query, "-createdAt", page, pageSize);
			},
		},

		get: {
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>): Promise<Order> {
				return this.toPublic(await this.findVisible(ctx, ctx.params.id));
			},
		},

		cancel: {
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>): Promise<Order> {
				const order = await this.findVisible(ctx, ctx.params.id);
				const reason = ctx.meta.user?.role === "admin" ? "CANCELLED_BY_ADMIN" : "CANCELLED_BY_CUSTOMER";
				return this.toPublic(await this.placement.cancel(ctx, order, reason));
			},
		},

		setStatus: {
			params: { id: ID, status: { type: "enum", values: ORDER_STATUSES } },
			async handler(ctx: Ctx<{ id: string; status: OrderStatus }>): Promise<Order> {
				const order = await this.findOrder(ctx.params.id);
				return this.toPublic(await this.placement.move(ctx, order, ctx.params.status));
			},
		},

		ship: {
			params: AFTERCARE_PARAMS.ship,
			handler(ctx: Ctx<{ id: string; carrier: string; trackingNumber: string }>): Promise<Order> {
				return this.aftercare.ship(ctx.params.id, ctx.params.carrier, ctx.params.trackingNumber);
			},
		},

		deliver: {
			params: AFTERCARE_PARAMS.deliver,
			handler(ctx: Ctx<{ id: string }>): Promise<Order> {
				return this.aftercare.deliver(ctx.params.id);
			},
		},

		recordReturn: {
			params: AFTERCARE_PARAMS.recordReturn,
			async handler(ctx: Ctx<{ id: string; items: ReturnLine[]; refundCents?: number }>): Promise<Order> {
				await this.findOrder(ctx.params.id);
				const { order, created } = await this.aftercare.recordReturn(ctx, ctx.params.id, ctx.params.items, ctx.params.refundCents, ctx.meta.idempotencyKey);
				ctx.meta.$statusCode = created ? 201 : 200;
				return order;
			},
		},

		/** Any order, for services acting on it without a caller (payments settling a return's refund). Internal. */
		byId: {
			visibility: "public",
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>): Promise<Order> {
				return this.toPublic(await this.findOrder(ctx.params.id));
			},
		},

		/** Payments hands over each change of an order's payment; a version already applied changes nothing; a checkout order paid is confirmed in the same write. Internal. */
		applyPayment: {
			visibility: "public",
			retryPolicy: { enabled: true },
			params: AFTERCARE_PARAMS.applyPayment,
			handler(ctx: Ctx<PaymentUpdate>): Promise<Order> {
				return this.aftercare.applyPayment(ctx.params);
			},
		},

		/** Every order, page by page, for services that rebuild their view (analytics). Internal. */
		all: {
			visibility: "public",
			retryPolicy: { enabled: true },
			params: {
				page: { type: "number", integer: true, min: 1, convert: true, default: 1 },
				pageSize: { type: "number", integer: true, min: 1, max: 1000, convert: true, default: 500 },
			},
			handler(ctx: Ctx<{ page: number; pageSize: number }>) {
				return this.findPage({}, "createdAt", ctx.params.page, ctx.params.pageSize);
			},
		},
	},

	methods: {
		requireUser(ctx: Ctx): AuthUser {
			if (!ctx.meta.user) throw new UnauthorizedError();
			return ctx.meta.user;
		},

		/** The caller, or the customer an admin places the order for (the gateway lets only admins send X-On-Behalf-Of or X-Placed-At). */
		orderingCustomer(ctx: Ctx, user: AuthUser): string {
			const { onBehalfOf, placedAt } = ctx.meta;
			if ((onBehalfOf !== undefined || placedAt !== undefined) && user.role !== "admin") throw new ForbiddenError("Only an admin may place an order for a customer or date it");
			return onBehalfOf ?? user.id;
		},

		async assertMayOrder(ctx: Ctx, customerId: string): Promise<void> {
			const res = await ctx.call<CanOrderAnswer, { id: string }>("customers.canOrder", { id: customerId });
			if (res.allowed) return;
			if (res.reason === ORDER_REFUSAL.accountBlocked) throw new ForbiddenError("This account is blocked", ORDER_REFUSAL.accountBlocked);
			if (ctx.meta.onBehalfOf !== undefined)
				throw new UnprocessableError("No customer has this id", [{ field: "X-On-Behalf-Of", type: "exists", message: "No customer has this id." }], "UNKNOWN_CUSTOMER");
			throw new UnauthorizedError("Unknown customer", "UNKNOWN_CUSTOMER");
		},

		async findOrder(id: string): Promise<OrderDoc> {
			const doc = await this.adapter.findById(id);
			if (!doc) throw new NotFoundError("Order", id);
			return doc;
		},

		/** The order if this user may see it; another customer's order is 404, never 403. */
		async findVisible(ctx: Ctx, id: string): Promise<OrderDoc> {
			const user = this.requireUser(ctx);
			const doc = await this.findOrder(id);
			if (user.role !== "admin" && doc.customerId !== user.id) throw new NotFoundError("Order", id);
			return doc;
		},
	},

	created() {
		this.recover = oneAtATime(
			async () => {
				await this.placement.recoverStale(this.broker);
				await this.aftercare.recover(this.broker, new Date(Date.now() - this.settings.settlement.pendingTimeoutMs).toISOString());
			},
			err => this.logger.warn("Recovering orders failed; the next round retries", err.message),
		);
	},

	started() {
		const deps = {
			orders: this.adapter,
			settlement: this.settings.settlement,
			toPublic: (doc: OrderDoc) => this.toPublic(doc),
			publish: (message: OrderStatusMessage) => this.broker.sendToChannel(CHANNELS.orderStatus, message),
			logger: this.logger,
		};
		this.placement = new PaymentHold(deps, holdPricer(this.settings.shop));
		this.checkout = new Checkout({ saga: this.placement, shop: this.settings.shop, logger: this.logger });
		this.aftercare = new Aftercare({
			orders: this.adapter,
			toPublic: doc => this.toPublic(doc),
			publish: message => this.broker.sendToChannel(CHANNELS.orderStatus, message),
			publishStatus: doc => this.placement.publishStatus(doc),
			emit: (event, payload) => void this.broker.emit(event, payload),
			logger: this.logger,
			finishWaitMs: settings.requestTimeoutMs / 3,
		});
		// On start, once products can be reached, then every interval.
		this.stopRecovery = everyAndOnceAvailable(this.broker, ["products"], () => this.recover(), this.settings.settlement.recoveryIntervalMs);
	},

	stopped() {
		this.stopRecovery?.();
	},
});

export default OrdersService;
