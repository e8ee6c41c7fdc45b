import type { CancelReason } from "./reservations";
import type { Order } from "./types";

/**
 * Durable flows (@moleculer/channels): persisted, acked after the handler
 * succeeds, retried, then dead-lettered. Plain Moleculer events stay for
 * real-time fan-out.
 */
export const CHANNELS = {
	/** An OrderStatusMessage on every status, payment or fulfilment change of an order (creation included). */
	orderStatus: "orders.status",
	/** A StockAlertMessage once per crossing. */
	stockAlerts: "products.stock-alerts",
	/** A PaymentMismatchMessage each time a provider's event is refused for its amount or currency (sent again with the event: its id is the identity). */
	paymentMismatches: "payments.mismatches",
} as const;

/** The consumer groups of each channel: one durable queue each (`<group>.<namespace>.<channel>`). */
export const CONSUMER_GROUPS: Readonly<Record<(typeof CHANNELS)[keyof typeof CHANNELS], readonly string[]>> = {
	[CHANNELS.orderStatus]: ["alerts", "analytics", "payments", "notifications"],
	[CHANNELS.stockAlerts]: ["alerts", "notifications"],
	[CHANNELS.paymentMismatches]: ["notifications"],
};

/** The dead-letter queue and exchange, under the namespace's prefix. */
export const DEAD_LETTER = "DEAD_LETTER";

/** What an OrderStatusMessage announces; absent in messages sent before payments existed, which are status changes. */
export type OrderChange = "status" | "payment" | "fulfilment";

export interface OrderStatusMessage {
	order: Order;
	cancelReason?: CancelReason;
	/** What changed: the status (statusHistory's last entry), the payment (paymentStatus) or the fulfilment. */
	change?: OrderChange;
}

/** The order a status message carries; one without its id and status is refused (its redeliveries end in the dead-letter queue). */
export function orderOf(msg: OrderStatusMessage): Order {
	const order = msg?.order;
	if (!order?.id || !order.status) throw new Error("Malformed order status message");
	return order;
}

export interface StockAlertMessage {
	type: "stock_low" | "out_of_stock";
	productId: string;
	sku: string;
	name: string;
	stock: number;
	threshold: number;
	/** Counts this product's crossings of this kind: with productId and type, the message's identity. */
	crossing: number;
}

/** A provider's payment event whose amount or currency is not the payment's: refused, and the operators told. */
export interface PaymentMismatchMessage {
	/** The provider's event id: with the order, the message's identity. */
	eventId: string;
	orderId: string;
	paymentId: string;
	expectedCents: number;
	/** The shop's currency, the payment's. */
	expectedCurrency: string;
	receivedCents: number;
	/** The provider's, as it wrote it (lower case for stripe). */
	currency: string;
	message: string;
}

declare module "moleculer" {
	interface ServiceBroker {
		sendToChannel(channelName: string, payload: unknown, opts?: Record<string, unknown>): Promise<void>;
	}
}
