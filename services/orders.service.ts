import _ from "lodash";
import type { ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import DbMixin, { newId } from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { ConflictError, ForbiddenError, InsufficientStockError, NotFoundError, UnauthorizedError, UnprocessableError, isDuplicateKeyError } from "../lib/errors";
import { ORDER_STATUSES, canMove, type OrderStatus } from "../lib/order-status";
import { pageParams } from "../lib/pagination";
import { settlementSettings } from "../lib/settlement";
import { CHANNELS } from "../lib/channels";
import type { Ctx, ReserveItem, ReservedLine } from "../lib/types";

const ID = { type: "string", min: 1, max: 64 } as const;
const PUBLIC_FIELDS = ["id", "customerId", "items", "totalCents", "status", "statusHistory", "shippingAddress", "createdAt", "updatedAt"] as const;
const ADDRESS_LINE = { type: "string", trim: true, min: 1, max: 200 } as const;
/** Why a placement ended in `cancelled`, and whether the client was told with an error. */
const REJECTIONS = ["INSUFFICIENT_STOCK", "UNKNOWN_PRODUCT"];

interface OrderLine extends ReservedLine {
	lineTotalCents: number;
}

interface OrderDoc {
	_id: string;
	customerId: string;
	idemKey?: string;
	requested: ReserveItem[];
	items: OrderLine[];
	totalCents: number;
	status: OrderStatus;
	statusHistory: Array<{ status: OrderStatus; at: string }>;
	shippingAddress: object | null;
	cancelReason?: string;
	rejection?: { type: string; data: unknown };
	cancelling?: true;
	pending?: true;
	announced?: true;
	createdAt: string;
	updatedAt: string;
}

const OrdersService: ServiceSchema = {
	name: "orders",
	mixins: [
		DbMixin("orders", [
			{ field: "idemKey", unique: true, sparse: true },
			{ field: "customerId" },
			// Sparse flags, set only while true: the settler finds its few orders without indexing every status.
			{ field: "pending", sparse: true },
			{ field: "cancelling", sparse: true },
			{ field: "outbox", sparse: true },
		]),
		HealthMixin,
	],

	settings: settlementSettings(),

	actions: {
		create: {
			params: {
				items: {
					type: "array",
					min: 1,
					max: 50,
					items: {
						type: "object",
						props: {
							productId: ID,
							quantity: { type: "number", integer: true, min: 1, max: 1000 },
						},
					},
				},
				shippingAddress: {
					type: "object",
					optional: true,
					props: {
						line1: ADDRESS_LINE,
						city: { ...ADDRESS_LINE, max: 100 },
						postalCode: { type: "string", trim: true, min: 1, max: 20 },
						country: { type: "string", trim: true, min: 2, max: 56 },
					},
				},
			},
			async handler(ctx: Ctx<{ items: ReserveItem[]; shippingAddress?: object }>) {
				const user = this.requireUser(ctx);
				const items = ctx.params.items;
				if (new Set(items.map(i => i.productId)).size !== items.length) {
					throw new Errors.ValidationError("Each product may appear once", "VALIDATION_ERROR", [{ field: "items", type: "unique", message: "Each productId may appear once" }]);
				}
				await this.assertMayOrder(ctx, user.id);
				const { order, created } = await this.openOrder(user.id, ctx.meta.idempotencyKey, items, ctx.params.shippingAddress ?? null);
				const placed = order.status === "pending" ? await this.place(ctx, order) : order;
				if (placed.rejection) throw this.rejectionError(placed);
				ctx.meta.$statusCode = created ? 201 : 200;
				if (created) ctx.meta.$location = `/api/orders/${placed._id}`;
				return this.toPublic(placed);
			},
		},

		list: {
			params: {
				...pageParams,
				status: { type: "enum", values: ORDER_STATUSES as unknown as string[], optional: true },
				customerId: { ...ID, optional: true },
			},
			async handler(ctx: Ctx<{ page: number; pageSize: number; status?: OrderStatus; customerId?: string }>) {
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
			async handler(ctx: Ctx<{ id: string }>) {
				return this.toPublic(await this.findVisible(ctx, ctx.params.id));
			},
		},

		cancel: {
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>) {
				const order = await this.findVisible(ctx, ctx.params.id);
				return this.toPublic(await this.cancelOrder(ctx, order, ctx.meta.user?.role === "admin" ? "CANCELLED_BY_ADMIN" : "CANCELLED_BY_CUSTOMER"));
			},
		},

		setStatus: {
			params: {
				id: ID,
				status: { type: "enum", values: ORDER_STATUSES as unknown as string[] },
			},
			async handler(ctx: Ctx<{ id: string; status: OrderStatus }>) {
				const order = await this.findOrder(ctx.params.id);
				return this.toPublic(await this.moveTo(ctx, order, ctx.params.status));
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
			async handler(ctx: Ctx<{ page: number; pageSize: number }>) {
				const { page, pageSize } = ctx.params;
				return this.findPage({}, "createdAt", page, pageSize);
			},
		},
	},

	methods: {
		toPublic(doc: OrderDoc) {
			const entity = this.toEntity(doc);
			return _.pick(entity, PUBLIC_FIELDS);
		},

		requireUser(ctx: Ctx) {
			if (!ctx.meta.user) throw new UnauthorizedError();
			return ctx.meta.user;
		},

		async assertMayOrder(ctx: Ctx, customerId: string) {
			const res = await ctx.call<{ allowed: boolean; reason?: string }, { id: string }>("customers.canOrder", { id: customerId });
			if (!res.allowed) {
				if (res.reason === "ACCOUNT_BLOCKED") throw new ForbiddenError("This account is blocked", "ACCOUNT_BLOCKED");
				throw new UnauthorizedError("Unknown customer", "UNKNOWN_CUSTOMER");
			}
		},

		/** The customer's order for this idempotency key if there is one, else a new pending order. */
		async openOrder(customerId: string, key: string | undefined, items: ReserveItem[], shippingAddress: object | null): Promise<{ order: OrderDoc; created: boolean }> {
			const idemKey = key === undefined ? undefined : `${customerId}:${key}`;
			for (;;) {
				if (idemKey) {
					const existing: OrderDoc | null = await this.adapter.findOne({ idemKey });
					if (existing) return { order: existing, created: false };
				}
				const now = new Date().toISOString();
				const doc: OrderDoc = {
					_id: newId(),
					customerId,
					...(idemKey ? { idemKey } : {}),
					requested: items,
					items: [],
					totalCents: 0,
					status: "pending",
					pending: true,
					statusHistory: [{ status: "pending", at: now }],
					shippingAddress,
					createdAt: now,
					updatedAt: now,
				};
				try {
					return { order: await this.adapter.insert(doc), created: true };
				} catch (err) {
					if (!idemKey || !isDuplicateKeyError(err)) throw err;
				}
			}
		},

		/** Reserve the stock of a pending order, then confirm or cancel it. */
		async place(ctx: Ctx, order: OrderDoc): Promise<OrderDoc> {
			let lines: ReservedLine[];
			try {
				const res = await ctx.call<{ lines: ReservedLine[] }, object>("products.reserve", { orderId: order._id, items: order.requested });
				lines = res.lines;
			} catch (err) {
				return this.placementFailed(ctx, order, err);
			}
			// Null when a cancellation or the settler got there first: answer the order as it is.
			return (await this.confirm(ctx, order, lines)) ?? this.adapter.findById(order._id);
		},

		async placementFailed(ctx: Ctx, order: OrderDoc, err: any): Promise<OrderDoc> {
			if (err instanceof InsufficientStockError || err?.type === "INSUFFICIENT_STOCK") {
				return this.finishCancel(ctx, order, "INSUFFICIENT_STOCK", { type: "INSUFFICIENT_STOCK", data: err.data });
			}
			if (err?.type === "RESERVATION_CLOSED") return this.adapter.findById(order._id);
			if (err?.type === "UNKNOWN_PRODUCT") {
				// Bad input leaves nothing behind: the order never existed for the client.
				await this.adapter.removeMany({ _id: order._id, status: "pending" });
				throw err;
			}
			// Products did not answer: give back whatever it may have taken, then cancel; else the settler will.
			try {
				await ctx.call("products.release", { orderId: order._id });
				await this.finishCancel(ctx, order, "RESERVATION_FAILED");
			} catch (releaseErr) {
				this.logger.warn(`Order ${order._id} stays pending until the settler can reach products`, (releaseErr as Error).message);
			}
			throw new Errors.MoleculerRetryableError("The order could not be placed now; try again with the same Idempotency-Key", 503, "ORDER_NOT_PLACED", { orderId: order._id });
		},

		rejectionError(order: OrderDoc) {
			const r = order.rejection!;
			if (r.type === "INSUFFICIENT_STOCK") return new ConflictError("Insufficient stock", "INSUFFICIENT_STOCK", r.data);
			return new UnprocessableError("Order rejected", r.data, r.type);
		},

		async confirm(ctx: Ctx | null, order: OrderDoc, lines: ReservedLine[]): Promise<OrderDoc | null> {
			const items: OrderLine[] = lines.map(l => ({ ...l, lineTotalCents: l.unitPriceCents * l.quantity }));
			const totalCents = items.reduce((sum, l) => sum + l.lineTotalCents, 0);
			return this.transition(ctx, order._id, "pending", "confirmed", { items, totalCents }, { cancelling: { $exists: false } });
		},

		/**
		 * Compare-and-set of the status, recording the move. Answers the
		 * order as it now is; emits after the answer.
		 */
		async transition(ctx: Ctx | null, id: string, from: OrderStatus, to: OrderStatus, fields: object = {}, guard: object = {}): Promise<OrderDoc | null> {
			const now = new Date().toISOString();
			const n = await this.adapter.updateMany(
				{ _id: id, status: from, ...guard },
				// `outbox` marks a move not yet handed to the durable channel; the settler resends it after a crash.
				{ $set: { ...fields, status: to, outbox: true, updatedAt: now }, $unset: { pending: true }, $push: { statusHistory: { status: to, at: now } } },
			);
			if (n !== 1) return null;
			const order: OrderDoc = await this.adapter.findById(id);
			this.announce(ctx, order, from);
			return order;
		},

		/** `order.created` when an order leaves pending, `order.updated` on every later move. */
		announce(ctx: Ctx | null, order: OrderDoc, from: OrderStatus) {
			const emitter = ctx ?? this.broker;
			const event = from === "pending" ? "order.created" : "order.updated";
			const payload = { order: this.toPublic(order) };
			setImmediate(() => {
				emitter.emit(event, payload);
				if (event === "order.created") emitter.emit("order.updated", payload);
				this.publishStatus(order).catch((err: Error) => this.logger.warn(`Status of order ${order._id} not published yet; the settler retries`, err.message));
			});
		},

		/** Hand the order's status to the durable channel, then clear its outbox mark (unless a newer move set it). */
		async publishStatus(order: OrderDoc) {
			await this.broker.sendToChannel(CHANNELS.orderStatus, { order: this.toPublic(order), cancelReason: order.cancelReason });
			await this.adapter.updateMany({ _id: order._id, statusHistory: { $size: order.statusHistory.length } }, { $unset: { outbox: true } });
		},

		async finishCancel(ctx: Ctx | null, order: OrderDoc, reason: string, rejection?: { type: string; data: unknown }): Promise<OrderDoc> {
			for (const from of ["pending", "confirmed"] as OrderStatus[]) {
				const moved = await this.transition(ctx, order._id, from, "cancelled", { cancelReason: reason, ...(rejection ? { rejection } : {}) });
				if (moved) {
					await this.adapter.updateMany({ _id: order._id }, { $unset: { cancelling: true } });
					return moved;
				}
			}
			return this.adapter.findById(order._id);
		},

		/**
		 * Cancel: flag the order (so it cannot ship meanwhile), give the stock
		 * back (exactly once: products keys it by order id), then move it.
		 * A crash between the steps leaves the flag, which the settler finishes.
		 */
		async cancelOrder(ctx: Ctx, order: OrderDoc, reason: string): Promise<OrderDoc> {
			if (!order.cancelling) {
				const flagged = await this.adapter.updateMany({ _id: order._id, status: { $in: ["pending", "confirmed"] } }, { $set: { cancelling: true, cancelReason: reason } });
				if (flagged !== 1) throw new ConflictError(`An order that is ${(await this.findOrder(order._id)).status} cannot be cancelled`, "INVALID_STATUS_TRANSITION");
			}
			await ctx.call("products.release", { orderId: order._id });
			const done = await this.finishCancel(ctx, order, reason);
			if (done.status !== "cancelled") throw new ConflictError(`An order that is ${done.status} cannot be cancelled`, "INVALID_STATUS_TRANSITION");
			return done;
		},

		async moveTo(ctx: Ctx, order: OrderDoc, to: OrderStatus): Promise<OrderDoc> {
			if (!canMove(order.status, to)) {
				throw new ConflictError(`An order cannot move from ${order.status} to ${to}`, "INVALID_STATUS_TRANSITION", { from: order.status, to });
			}
			if (to === "cancelled") return this.cancelOrder(ctx, order, "CANCELLED_BY_ADMIN");
			if (to === "confirmed") return this.confirmHeld(ctx, order);
			const moved = await this.transition(ctx, order._id, order.status, to, {}, { cancelling: { $exists: false } });
			if (!moved) {
				const now = await this.findOrder(order._id);
				throw new ConflictError(`An order cannot move from ${now.status} to ${to}`, "INVALID_STATUS_TRANSITION", { from: now.status, to });
			}
			return moved;
		},

		/** An admin may confirm a pending order only when products already holds its stock. */
		async confirmHeld(ctx: Ctx, order: OrderDoc): Promise<OrderDoc> {
			const r = await ctx.call<{ state: string; lines: ReservedLine[] }, object>("products.reservation", { orderId: order._id });
			const confirmed = r.state === "reserved" ? await this.confirm(ctx, order, r.lines) : null;
			if (!confirmed) throw new ConflictError("The order's stock is not reserved", "RESERVATION_NOT_HELD", { reservation: r.state });
			return confirmed;
		},

		/** A pending order is confirmed if products holds its reservation, else cancelled. */
		async settlePending(ctx: Ctx | null, order: OrderDoc): Promise<OrderDoc> {
			const caller = ctx ?? this.broker;
			const r = await caller.call<{ state: string; lines: ReservedLine[] }, object>("products.reservation", { orderId: order._id });
			if (r.state === "reserved") return (await this.confirm(ctx, order, r.lines)) ?? this.adapter.findById(order._id);
			// Closes the reservation whatever its state, so a late reserve takes nothing.
			await caller.call("products.release", { orderId: order._id });
			return this.finishCancel(ctx, order, "NOT_RESERVED");
		},

		/** Settle pending orders and unfinished cancellations left by a crash or a lost answer. */
		async settleStaleOrders() {
			const cutoff = new Date(Date.now() - this.settings.pendingTimeoutMs).toISOString();
			const stale: OrderDoc[] = await this.adapter.find({ query: { pending: true, updatedAt: { $lte: cutoff } } });
			const cancelling: OrderDoc[] = await this.adapter.find({ query: { cancelling: true, updatedAt: { $lte: cutoff } } });
			for (const order of stale) {
				try {
					await this.settlePending(null, order);
				} catch (err) {
					this.logger.warn(`Could not settle order ${order._id}`, (err as Error).message);
				}
			}
			const unpublished: OrderDoc[] = await this.adapter.find({ query: { outbox: true, updatedAt: { $lte: cutoff } } });
			for (const order of unpublished) {
				try {
					await this.publishStatus(order);
				} catch (err) {
					this.logger.warn(`Could not publish the status of order ${order._id}`, (err as Error).message);
				}
			}
			for (const order of cancelling) {
				try {
					await this.broker.call("products.release", { orderId: order._id });
					await this.finishCancel(null, order, order.cancelReason ?? "CANCELLED");
				} catch (err) {
					this.logger.warn(`Could not finish cancelling order ${order._id}`, (err as Error).message);
				}
			}
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

	async started() {
		this.settling = false;
		const settle = async () => {
			if (this.settling) return;
			this.settling = true;
			try {
				await this.settleStaleOrders();
			} catch (err) {
				this.logger.warn("Settling orders failed", (err as Error).message);
			} finally {
				this.settling = false;
			}
		};
		this.settleTimer = setInterval(settle, this.settings.recoveryIntervalMs);
		// On start, once products can be reached.
		this.broker.waitForServices(["products"]).then(settle).catch(() => undefined);
	},

	stopped() {
		clearInterval(this.settleTimer);
	},
};

export default OrdersService;
