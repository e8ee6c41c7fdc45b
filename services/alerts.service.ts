import _ from "lodash";
import DbMixin from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { CHANNELS, orderOf, type OrderStatusMessage, type StockAlertMessage } from "../lib/contracts/channels";
import { crashPoint } from "../lib/infra/crash-points";
import { isDuplicateKeyError, type Doc } from "../lib/db/adapter";
import { NotFoundError } from "../lib/contracts/errors";
import { PAGE_PARAMS } from "../lib/contracts/params";
import { cancellationRaisesAlert } from "../lib/contracts/reservations";
import { type Ctx, defineService } from "../lib/contracts/types";

export const ALERT_TYPES = ["stock_low", "out_of_stock", "order_cancelled", "payment_mismatch"] as const;
type AlertType = (typeof ALERT_TYPES)[number];
/** A payment mismatch's data: PaymentMismatchMessage without its message, each field bounded. */
const MISMATCH_DATA = {
	eventId: { type: "string", min: 1, max: 300 },
	orderId: { type: "string", min: 1, max: 100 },
	paymentId: { type: "string", min: 1, max: 100 },
	expectedCents: { type: "number", integer: true },
	expectedCurrency: { type: "string", min: 1, max: 10 },
	receivedCents: { type: "number", integer: true },
	currency: { type: "string", min: 1, max: 10 },
} as const;
const PUBLIC_FIELDS = ["id", "type", "severity", "message", "data", "acknowledged", "createdAt"] as const;

export interface Alert {
	id: string;
	type: AlertType;
	severity: "info" | "warning" | "critical";
	message: string;
	data: Record<string, unknown>;
	acknowledged: boolean;
	createdAt: string;
}

/** Keyed by what caused it: a redelivered message finds its alert stored and raises nothing. */
interface AlertDoc extends Doc, Omit<Alert, "id"> {
	acknowledgedAt?: string;
}

const AlertsService = defineService({
	name: "alerts",
	mixins: [DbMixin<AlertDoc, Alert>({ collection: "alerts", publicFields: PUBLIC_FIELDS }), HealthMixin],

	actions: {
		list: {
			params: {
				...PAGE_PARAMS,
				acknowledged: { type: "boolean", convert: true, optional: true },
				type: { type: "enum", values: ALERT_TYPES, optional: true },
			},
			handler(ctx: Ctx<{ page: number; pageSize: number; acknowledged?: boolean; type?: AlertType }>) {
				const { page, pageSize, acknowledged, type } = ctx.params;
				const query: Record<string, unknown> = {};
				if (acknowledged !== undefined) query.acknowledged = acknowledged;
				if (type) query.type = type;
				return this.findPage(query, "-createdAt", page, pageSize);
			},
		},

		ack: {
			params: { id: { type: "string", min: 1, max: 200 } },
			async handler(ctx: Ctx<{ id: string }>): Promise<Alert> {
				const doc = await this.adapter.updateById(ctx.params.id, { $set: { acknowledged: true, acknowledgedAt: new Date().toISOString() } });
				if (!doc) throw new NotFoundError("Alert", ctx.params.id);
				const alert = this.toPublic(doc);
				await this.entityChanged("updated", alert, ctx);
				return alert;
			},
		},

		/**
		 * An alert another service raises by a call, once per `key`: payments'
		 * provider amount that does not match (its data that mismatch, no more).
		 * The stock and order alerts come from their own messages only. Internal.
		 */
		raise: {
			visibility: "public",
			params: {
				key: { type: "string", min: 1, max: 300 },
				type: { type: "enum", values: ["payment_mismatch"] },
				severity: { type: "enum", values: ["info", "warning", "critical"] },
				message: { type: "string", min: 1, max: 1000 },
				data: { type: "object", strict: true, props: MISMATCH_DATA },
			},
			async handler(ctx: Ctx<{ key: string; type: AlertType; severity: Alert["severity"]; message: string; data: Record<string, unknown> }>): Promise<void> {
				const { key, type, severity, message, data } = ctx.params;
				await this.raise({ _id: `${type}:${key}`, type, severity, message, data });
			},
		},
	},

	channels: {
		[CHANNELS.orderStatus]: {
			group: "alerts",
			async handler(msg: OrderStatusMessage) {
				const order = orderOf(msg);
				if (order.status !== "cancelled" || !cancellationRaisesAlert(msg.cancelReason)) return;
				await this.raise({
					_id: `order_cancelled:${order.id}`,
					type: "order_cancelled",
					severity: "info",
					message: `Order ${order.id} was cancelled (${msg.cancelReason ?? "no reason given"})`,
					data: { orderId: order.id, customerId: order.customerId, reason: msg.cancelReason ?? null },
				});
			},
		},
		[CHANNELS.stockAlerts]: {
			group: "alerts",
			async handler(msg: StockAlertMessage) {
				if (!msg?.productId || !ALERT_TYPES.includes(msg.type) || typeof msg.stock !== "number") throw new Error("Malformed stock alert message");
				const out = msg.type === "out_of_stock";
				await this.raise({
					_id: `${msg.type}:${msg.productId}:${msg.crossing}`,
					type: msg.type,
					severity: out ? "critical" : "warning",
					message: out ? `${msg.name} (${msg.sku}) is out of stock` : `${msg.name} (${msg.sku}) is low on stock: ${msg.stock} left (threshold ${msg.threshold})`,
					data: _.pick(msg, ["productId", "sku", "name", "stock", "threshold"]),
				});
			},
		},
	},

	methods: {
		/** Store the alert once, then announce it. */
		async raise(alert: Omit<AlertDoc, "acknowledged" | "createdAt">): Promise<void> {
			crashPoint("alerts.before-raise");
			let doc: AlertDoc;
			try {
				doc = await this.adapter.insert({ ...alert, acknowledged: false, createdAt: new Date().toISOString() });
			} catch (err) {
				if (isDuplicateKeyError(err)) return;
				throw err;
			}
			const stored = this.toPublic(doc);
			await this.entityChanged("created", stored, null);
			void this.broker.emit("alert.sent", { alert: stored });
		},
	},
});

export default AlertsService;
