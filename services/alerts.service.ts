import _ from "lodash";
import type { ServiceSchema } from "moleculer";
import DbMixin from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { CHANNELS, type StockAlertMessage } from "../lib/channels";
import { NotFoundError, isDuplicateKeyError } from "../lib/errors";
import { pageParams } from "../lib/pagination";
import type { Ctx } from "../lib/types";

export const ALERT_TYPES = ["stock_low", "out_of_stock", "order_cancelled"] as const;
type AlertType = (typeof ALERT_TYPES)[number];
const PUBLIC_FIELDS = ["id", "type", "severity", "message", "data", "acknowledged", "createdAt"] as const;
/** Orders cancelled at placement were never taken: the client was told, nobody needs an alert. */
const SILENT_CANCEL_REASONS = ["INSUFFICIENT_STOCK", "UNKNOWN_PRODUCT"];

interface NewAlert {
	/** The identity of what caused it: a redelivered message finds it taken and raises nothing. */
	key: string;
	type: AlertType;
	severity: "info" | "warning" | "critical";
	message: string;
	data: Record<string, unknown>;
}

const AlertsService: ServiceSchema = {
	name: "alerts",
	mixins: [DbMixin("alerts"), HealthMixin],

	actions: {
		list: {
			params: {
				...pageParams,
				acknowledged: { type: "boolean", convert: true, optional: true },
				type: { type: "enum", values: ALERT_TYPES as unknown as string[], optional: true },
			},
			async handler(ctx: Ctx<{ page: number; pageSize: number; acknowledged?: boolean; type?: AlertType }>) {
				const { page, pageSize, acknowledged, type } = ctx.params;
				const query: Record<string, unknown> = {};
				if (acknowledged !== undefined) query.acknowledged = acknowledged;
				if (type) query.type = type;
				return this.findPage(query, "-createdAt", page, pageSize);
			},
		},

		ack: {
			params: { id: { type: "string", min: 1, max: 200 } },
			async handler(ctx: Ctx<{ id: string }>) {
				const doc = await this.adapter.updateById(ctx.params.id, { $set: { acknowledged: true, acknowledgedAt: new Date().toISOString() } });
				if (!doc) throw new NotFoundError("Alert", ctx.params.id);
				const alert = this.toPublic(doc);
				await this.entityChanged("updated", alert, ctx);
				return alert;
			},
		},
	},

	channels: {
		[CHANNELS.orderStatus]: {
			group: "alerts",
			async handler(this: any, msg: { order: { id: string; customerId: string; status: string }; cancelReason?: string }) {
				const { order, cancelReason } = msg ?? ({} as typeof msg);
				if (!order?.id || !order.status) throw new Error("Malformed order status message");
				if (order.status !== "cancelled" || SILENT_CANCEL_REASONS.includes(cancelReason ?? "")) return;
				await this.raise({
					key: `order_cancelled:${order.id}`,
					type: "order_cancelled",
					severity: "info",
					message: `Order ${order.id} was cancelled (${cancelReason ?? "no reason given"})`,
					data: { orderId: order.id, customerId: order.customerId, reason: cancelReason ?? null },
				});
			},
		},
		[CHANNELS.stockAlerts]: {
			group: "alerts",
			async handler(this: any, msg: StockAlertMessage) {
				if (!msg?.productId || !ALERT_TYPES.includes(msg.type) || typeof msg.stock !== "number") throw new Error("Malformed stock alert message");
				const out = msg.type === "out_of_stock";
				await this.raise({
					key: `${msg.type}:${msg.productId}:${msg.crossing}`,
					type: msg.type,
					severity: out ? "critical" : "warning",
					message: out ? `${msg.name} (${msg.sku}) is out of stock` : `${msg.name} (${msg.sku}) is low on stock: ${msg.stock} left (threshold ${msg.threshold})`,
					data: _.pick(msg, ["productId", "sku", "name", "stock", "threshold"]),
				});
			},
		},
	},

	methods: {
		toPublic(doc: any) {
			return _.pick(this.toEntity(doc), PUBLIC_FIELDS);
		},

		/** Store the alert once, then announce it. */
		async raise(alert: NewAlert) {
			let doc;
			try {
				doc = await this.adapter.insert({ _id: alert.key, ..._.omit(alert, "key"), acknowledged: false, createdAt: new Date().toISOString() });
			} catch (err) {
				if (isDuplicateKeyError(err)) return;
				throw err;
			}
			const stored = this.toPublic(doc);
			await this.entityChanged("created", stored, null);
			this.broker.emit("alert.sent", { alert: stored });
		},
	},
};

export default AlertsService;
