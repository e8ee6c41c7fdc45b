import DbMixin from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { CHANNELS, type OrderStatusMessage, type StockAlertMessage } from "../lib/contracts/channels";
import { MAIL_TEMPLATES, type MailTemplate, type WebhookEventType } from "../lib/contracts/notifications";
import { NotFoundError, UnprocessableError } from "../lib/contracts/errors";
import { ID, PAGE_PARAMS, PASSWORD } from "../lib/contracts/params";
import { LoginThrottle } from "../lib/infra/login-throttle";
import { settings } from "../lib/infra/settings";
import { crashPoint } from "../lib/infra/crash-points";
import { type Ctx, defineService, state } from "../lib/contracts/types";
import type { Page } from "../lib/contracts/pagination";
import type { Attempt } from "./notifications/attempt-log";
import type { Recipient } from "./notifications/dispatcher";
import { ENDPOINT_FIELDS, type Endpoint, type EndpointChanges, type EndpointDoc } from "./notifications/endpoints";
import { orderEvents, stockEvent, type NotificationEvent } from "./notifications/events";
import { mailTargets, sampleData } from "./notifications/mail-content";
import { mailMismatch } from "./notifications/operator-mails";
import type { DeliveryState, Target } from "./notifications/outbox";
import { buildParts, type Parts } from "./notifications/parts";
import { DESCRIPTION, EVENT_TYPES, NO_SECRET, URL_RULE, refuseSecret } from "./notifications/rules";
import { encrypt, sha256 } from "./notifications/signing";
import { surelyNotApplied } from "./notifications/resets";

const RESET_THROTTLE = { max: 5, windowMs: 60 * 60_000 };
const MAIL_PANEL_MAX = 50;
const PRUNE_EVERY_MS = 60_000;

const NotificationsService = defineService({
	name: "notifications",
	mixins: [DbMixin<EndpointDoc, Endpoint>({ collection: "webhook_endpoints", publicFields: ENDPOINT_FIELDS }), HealthMixin],

	settings: {
		$secureSettings: ["storage", "notifications", "resetThrottle"],
		notifications: settings.notifications,
		resetThrottle: { ...RESET_THROTTLE, redisUrl: settings.gateway.redisUrl },
	},

	state: state<Parts & { resetThrottle: LoginThrottle; pruneTimer?: NodeJS.Timeout }>(),

	actions: {
		listEndpoints: {
			params: { ...PAGE_PARAMS },
			handler(ctx: Ctx<{ page: number; pageSize: number }>) {
				return this.findPage({}, "createdAt", ctx.params.page, ctx.params.pageSize);
			},
		},

		/** Registers an endpoint; its secret is in this answer and never again. */
		createEndpoint: {
			params: { url: URL_RULE, eventTypes: EVENT_TYPES, description: DESCRIPTION, ...NO_SECRET },
			async handler(ctx: Ctx<{ url: string; eventTypes: WebhookEventType[]; description?: string }>) {
				refuseSecret(ctx.params);
				const { endpoint, secret } = await this.endpoints.create(ctx.params);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/webhooks/${endpoint._id}`;
				return { endpoint: this.toPublic(endpoint), secret };
			},
		},

		getEndpoint: {
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>): Promise<Endpoint> {
				return this.toPublic(await this.existing(ctx.params.id));
			},
		},

		updateEndpoint: {
			params: {
				id: ID,
				url: { ...URL_RULE, optional: true },
				eventTypes: { ...EVENT_TYPES, optional: true },
				description: DESCRIPTION,
				enabled: { type: "boolean", optional: true },
				...NO_SECRET,
			},
			async handler(ctx: Ctx<EndpointChanges & { id: string }>): Promise<Endpoint> {
				refuseSecret(ctx.params);
				const { id, ...changes } = ctx.params;
				await this.existing(id);
				const doc = await this.endpoints.update(id, changes);
				if (!doc) throw new NotFoundError("Webhook endpoint", id);
				return this.toPublic(doc);
			},
		},

		removeEndpoint: {
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>): Promise<Endpoint> {
				const doc = await this.existing(ctx.params.id);
				await this.endpoints.remove(doc._id);
				await this.attempts.removeOf(doc._id);
				return this.toPublic(doc);
			},
		},

		/** A new secret, answered once; the old one stops signing at once. */
		rotateSecret: {
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>) {
				const rotated = await this.endpoints.rotate(ctx.params.id);
				if (!rotated) throw new NotFoundError("Webhook endpoint", ctx.params.id);
				return { endpoint: this.toPublic(rotated.endpoint), secret: rotated.secret };
			},
		},

		attempts: {
			params: { id: ID, ...PAGE_PARAMS },
			async handler(ctx: Ctx<{ id: string; page: number; pageSize: number }>): Promise<Page<Attempt>> {
				await this.existing(ctx.params.id);
				return this.attempts.page(ctx.params.id, ctx.params.page, ctx.params.pageSize);
			},
		},

		/** Sends a signed `ping` now and answers the attempt (logged with the others). */
		ping: {
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>): Promise<Attempt> {
				return this.dispatcher.ping(await this.existing(ctx.params.id));
			},
		},

		/** Delivers an event to the endpoint again, from its first try, under the same webhook-id (202). */
		redeliver: {
			params: { id: ID, eventId: { type: "string", min: 1, max: 64, pattern: /^evt_[0-9a-f]{32}$/ } },
			async handler(ctx: Ctx<{ id: string; eventId: string }>): Promise<{ eventId: string; endpointId: string; state: DeliveryState }> {
				const endpoint = await this.existing(ctx.params.id);
				const event = await this.outbox.event(ctx.params.eventId);
				if (!event) throw new NotFoundError("Event", ctx.params.eventId);
				await this.outbox.enqueue(event._id, event.type, { channel: "webhook", endpointId: endpoint._id });
				const delivery = await this.outbox.redeliver(`${event._id}>webhook:${endpoint._id}`);
				this.dispatcher.kick(true);
				ctx.meta.$statusCode = 202;
				return { eventId: event._id, endpointId: endpoint._id, state: delivery?.state ?? "pending" };
			},
		},

		/** What the local outbox holds (no SMTP configured), newest first, reset links masked. */
		mailOutbox: {
			params: {},
			async handler() {
				if (!this.localOutbox) return { transport: "smtp", total: null, rows: [] };
				return { transport: "outbox", total: await this.localOutbox.count(), rows: await this.localOutbox.latest(MAIL_PANEL_MAX) };
			},
		},

		previewTemplate: {
			params: { name: { type: "string", min: 1, max: 64 } },
			handler(ctx: Ctx<{ name: MailTemplate }>) {
				if (!MAIL_TEMPLATES.includes(ctx.params.name)) throw new NotFoundError("Mail template", ctx.params.name);
				return { name: ctx.params.name, ...this.templates.render(ctx.params.name, sampleData(ctx.params.name, this.settings.notifications.publicUrl)) };
			},
		},

		/** Always 202, whether or not the email has an account; a mail goes only to an account's owner. */
		requestPasswordReset: {
			params: { email: { type: "email", normalize: true, max: 254 } },
			async handler(ctx: Ctx<{ email: string }>) {
				await this.resetThrottle.attempt(ctx.params.email);
				const account = await ctx.call<{ id: string; name: string; email: string } | null, { email: string }>("customers.resetTarget", { email: ctx.params.email });
				// After the answer, so that an account's writes do not make its answer slower than an unknown email's.
				if (account) setImmediate(() => void this.mailReset(account).catch((err: Error) => this.logger.warn("A password reset mail was not queued", err.message)));
				ctx.meta.$statusCode = 202;
				return { message: "If an account has this email, a link to reset its password is on its way." };
			},
		},

		/** Sets the password a reset token allows, once: every earlier sign-in of the account ends (204). */
		resetPassword: {
			params: { token: { type: "string", min: 20, max: 100, pattern: /^[A-Za-z0-9_-]+$/ }, password: PASSWORD },
			async handler(ctx: Ctx<{ token: string; password: string }>) {
				const customerId = await this.resets.consume(ctx.params.token);
				if (!customerId)
					throw new UnprocessableError(
						"This reset link is invalid, used or expired",
						[{ field: "token", type: "resetToken", message: "The reset link is invalid, used or expired." }],
						"RESET_TOKEN_INVALID",
					);
				crashPoint("reset.after-consume");
				try {
					await ctx.call("customers.setPasswordByReset", { id: customerId, password: ctx.params.password });
				} catch (err) {
					// Usable again only when the password was surely not changed; a lost answer (a timeout) may follow a change, so the link stays used.
					if (surelyNotApplied(err)) await this.resets.restore(ctx.params.token);
					throw err;
				}
				ctx.meta.$statusCode = 204;
				return null;
			},
		},
	},

	channels: {
		[CHANNELS.orderStatus]: {
			group: "notifications",
			handler(msg: OrderStatusMessage): Promise<void> {
				return this.record(orderEvents(msg));
			},
		},
		[CHANNELS.stockAlerts]: {
			group: "notifications",
			handler(msg: StockAlertMessage): Promise<void> {
				return this.record([stockEvent(msg)]);
			},
		},
		[CHANNELS.paymentMismatches]: { group: "notifications", handler: mailMismatch },
	},

	methods: {
		/** A new reset token for the account, its link sealed in a mail delivery. */
		async mailReset(account: { id: string; name: string; email: string }): Promise<void> {
			const token = await this.resets.issue(account.id);
			crashPoint("reset.after-issue");
			const { publicUrl, secretKey, resetTtlMs } = this.settings.notifications;
			const sealed = encrypt(secretKey, `${publicUrl}/reset-password?token=${token}`);
			const mail = { template: "password.reset" as const, to: account.email, data: { name: account.name, minutes: Math.round(resetTtlMs / 60_000) }, sealed };
			await this.outbox.enqueue(`reset_${sha256(token).slice(0, 32)}`, "password.reset", { channel: "mail", key: "customer", mail });
			this.dispatcher.kick(true);
		},

		/**
		 * Stores each event with its deliveries, then wakes the dispatcher:
		 * nothing is sent on the publisher's path. A webhook delivery has it
		 * read the store again even while the mail lane is full.
		 */
		async record(events: NotificationEvent[]): Promise<void> {
			let fresh = false;
			let webhooks = false;
			const targetsOf = async (event: NotificationEvent) => {
				const targets = await this.targetsOf(event);
				webhooks ||= targets.some(t => t.channel === "webhook");
				return targets;
			};
			for (const event of events) if (await this.outbox.record(event, targetsOf)) fresh = true;
			if (fresh) this.dispatcher.kick(webhooks);
		},

		async targetsOf(event: NotificationEvent): Promise<Target[]> {
			const hooks = await this.endpoints.subscribers(event.type);
			return [...hooks.map(e => ({ channel: "webhook", endpointId: e._id }) as const), ...mailTargets(event, this.settings.notifications.alertEmails)];
		},

		async customer(id: string): Promise<Recipient | null> {
			try {
				const c = await this.broker.call<{ name: string; email: string }, { id: string }>("customers.get", { id });
				return { name: c.name, email: c.email };
			} catch (err) {
				if ((err as { code?: number }).code === 404) return null;
				throw err;
			}
		},

		async endpointDisabled(endpoint: EndpointDoc): Promise<void> {
			this.logger.warn(`Webhook endpoint ${endpoint._id} (${endpoint.url}) disabled: ${endpoint.disabledReason}`);
			const { alertEmails, publicUrl } = this.settings.notifications;
			const data = { url: endpoint.url, endpointId: endpoint._id, reason: endpoint.disabledReason, link: `${publicUrl}/` };
			for (const to of alertEmails)
				await this.outbox.enqueue(`disabled_${sha256(`${endpoint._id}:${endpoint.updatedAt}`).slice(0, 32)}`, "endpoint.disabled", {
					channel: "mail",
					key: `operator:${to}`,
					mail: { template: "operator.endpoint_disabled", to, data },
				});
			this.dispatcher.kick(true);
		},

		async existing(id: string): Promise<EndpointDoc> {
			const doc = await this.endpoints.get(id);
			if (!doc) throw new NotFoundError("Webhook endpoint", id);
			return doc;
		},

		async prune(): Promise<void> {
			const ids = (await this.adapter.find({ query: {} })).map(e => e._id);
			const before = new Date(Date.now() - this.settings.notifications.logRetentionDays * 86_400_000);
			await Promise.all([this.attempts.prune(ids), this.resets.prune(), this.outbox.prune(before), this.localOutbox?.prune(before)]);
		},
	},

	async started() {
		const parts = await buildParts(this.settings.notifications, this.adapter, (name, indexes) => this.openCollection(name, indexes, false), {
			customer: id => this.customer(id),
			disabled: endpoint => this.endpointDisabled(endpoint),
			logger: this.logger,
		});
		Object.assign(this, parts);
		this.resetThrottle = new LoginThrottle("password-reset", this.settings.resetThrottle, this.broker);
		this.dispatcher.start();
		this.pruneTimer = setInterval(() => void this.prune().catch((err: Error) => this.logger.warn("Pruning the attempt log failed", err.message)), PRUNE_EVERY_MS);
	},

	async stopped() {
		clearInterval(this.pruneTimer);
		await this.dispatcher?.stop();
		this.transport?.close?.();
		await this.resetThrottle?.close();
	},
});

export default NotificationsService;
