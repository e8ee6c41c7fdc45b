import DbMixin from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { CHANNELS, orderOf, type OrderStatusMessage } from "../lib/contracts/channels";
import { NotFoundError } from "../lib/contracts/errors";
import { ID, TOTAL_CENTS } from "../lib/contracts/params";
import { PAYMENT_PROVIDERS, type Payment, type PaymentProvider } from "../lib/contracts/payments";
import { everyAndOnceAvailable, oneAtATime } from "../lib/infra/rounds";
import { settings } from "../lib/infra/settings";
import { type Ctx, type Order, defineService, state } from "../lib/contracts/types";
import { PAYMENT_INDEXES, PaymentBook, type PaymentDoc } from "./payments/book";
import { paymentView } from "./payments/documents";
import { ManualProvider, StripeProvider, type Provider } from "./payments/providers";
import { handleStripeEvent, type WebhookAnswer } from "./payments/stripe-events";

const PaymentsService = defineService({
	name: "payments",
	mixins: [DbMixin<PaymentDoc, Payment>({ collection: "payments", indexes: PAYMENT_INDEXES, publicFields: ["id"] }), HealthMixin],

	settings: {
		$secureSettings: ["payments"],
		payments: settings.payments,
		settlement: settings.settlement,
	},

	state: state<{ book: PaymentBook; stripe?: StripeProvider; recover: () => Promise<void>; stopRecovery?: () => void }>(),

	actions: {
		/** An order's payment, as its customer or an admin sees it (before anything is stored: manual, unpaid, with the bank-transfer reference to show). */
		get: {
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>): Promise<Payment> {
				const order = await this.orderFor(ctx, ctx.params.id);
				return paymentView((await this.book.find(order.id)) ?? this.book.draft(order));
			},
		},

		/** The customer chooses how to pay: manual (the reference) or stripe (a PaymentIntent's client secret). */
		start: {
			params: { id: ID, provider: { type: "enum", values: PAYMENT_PROVIDERS } },
			async handler(ctx: Ctx<{ id: string; provider: PaymentProvider }>): Promise<Payment> {
				const order = await this.orderFor(ctx, ctx.params.id);
				return paymentView(await this.book.start(order, ctx.params.provider));
			},
		},

		markPaid: {
			params: { id: ID, reference: { type: "string", trim: true, min: 1, max: 40, optional: true } },
			async handler(ctx: Ctx<{ id: string; reference?: string }>): Promise<Payment> {
				const order = await this.orderFor(ctx, ctx.params.id);
				return paymentView(await this.book.markPaid(ctx, order, ctx.params.reference));
			},
		},

		/** An admin's refund: a new id each time, or the admin's own (sent again, it refunds once). At most MAX_REFUNDS of them per payment. */
		refund: {
			params: { id: ID, amountCents: { ...TOTAL_CENTS, min: 1 }, refundId: { type: "string", min: 1, max: 80, pattern: /^[A-Za-z0-9_-]+$/, optional: true } },
			async handler(ctx: Ctx<{ id: string; amountCents: number; refundId?: string }>): Promise<Payment> {
				const order = await this.orderFor(ctx, ctx.params.id);
				const p = await this.paymentOf(order.id);
				const refundId = ctx.params.refundId ?? `admin-${p._id}-${p.refunds.length}`;
				ctx.meta.$statusCode = 201;
				return paymentView(await this.book.refund(ctx, p, ctx.params.amountCents, refundId, { byAdmin: true }));
			},
		},

		/**
		 * Internal (orders): a return's refund, once per return, never refused
		 * once the return is recorded: what is left when an admin refunded part
		 * meanwhile, nothing when nothing is. Not counted against an admin's
		 * refunds: orders bounds the returns (MAX_RETURNS).
		 */
		refundReturn: {
			visibility: "public",
			params: { id: ID, returnId: ID, amountCents: { ...TOTAL_CENTS, min: 1 } },
			async handler(ctx: Ctx<{ id: string; returnId: string; amountCents: number }>): Promise<{ refundedCents: number }> {
				const p = await this.book.find((await this.orderFor(ctx, ctx.params.id)).id);
				return { refundedCents: p ? await this.book.refundReturn(ctx, p, ctx.params.amountCents, ctx.params.returnId) : 0 };
			},
		},

		/** Takes no params: the event is the raw body (ctx.meta.rawBody), its signature a header. */
		stripeWebhook: {
			params: {},
			async handler(ctx: Ctx): Promise<WebhookAnswer> {
				if (!this.stripe) throw new NotFoundError("Payment provider", "stripe");
				const raw = { body: ctx.meta.rawBody, signature: ctx.meta.stripeSignature };
				return handleStripeEvent(ctx, this.book, this.stripe, raw, async refused => {
					const { message, ...data } = refused;
					await ctx.call("alerts.raise", { key: refused.eventId, type: "payment_mismatch", severity: "critical", message, data });
					// Durable: the operators are mailed (notifications) even when their service is away now; a failed send fails the webhook, which the provider sends again.
					await this.broker.sendToChannel(CHANNELS.paymentMismatches, refused);
				});
			},
		},
	},

	channels: {
		/** A cancelled (or expired) order: its authorisation voided, its captured money refunded. Idempotent. */
		[CHANNELS.orderStatus]: {
			group: "payments",
			async handler(msg: OrderStatusMessage) {
				const order = orderOf(msg);
				if (order.status !== "cancelled" || (msg.change ?? "status") !== "status") return;
				const p = await this.book.find(order.id);
				if (p) await this.book.settleCancelled(this.broker, p);
			},
		},
	},

	methods: {
		/** The order, if the caller may see it (orders answers 404 for another customer's). */
		async orderFor(ctx: Ctx, id: string): Promise<Order> {
			// A request's caller sees only its own orders; an internal call (a return's refund, the settler) has no caller.
			return ctx.meta.user ? ctx.call<Order, { id: string }>("orders.get", { id }) : ctx.call<Order, { id: string }>("orders.byId", { id });
		},

		async paymentOf(orderId: string): Promise<PaymentDoc> {
			const p = await this.book.find(orderId);
			if (!p || p.capturedCents === 0) throw new NotFoundError("Captured payment of order", orderId);
			return p;
		},
	},

	created() {
		this.recover = oneAtATime(
			() => this.book.recover(this.broker, new Date(Date.now() - this.settings.settlement.pendingTimeoutMs).toISOString()),
			err => this.logger.warn("Settling payments failed; the next round retries", err.message),
		);
	},

	started() {
		const { stripe: stripeSettings, currency } = this.settings.payments;
		this.stripe = stripeSettings ? new StripeProvider(stripeSettings) : undefined;
		const providers: Partial<Record<PaymentProvider, Provider>> = { manual: new ManualProvider(), ...(this.stripe ? { stripe: this.stripe } : {}) };
		this.book = new PaymentBook({ payments: this.adapter, providers, currency, logger: this.logger });
		this.stopRecovery = everyAndOnceAvailable(this.broker, ["orders"], () => this.recover(), this.settings.settlement.recoveryIntervalMs);
	},

	stopped() {
		this.stopRecovery?.();
	},
});

export default PaymentsService;
