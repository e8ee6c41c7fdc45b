/**
 * Durable flows (@moleculer/channels): persisted, acked after the handler
 * succeeds, retried, then dead-lettered. Plain Moleculer events stay for
 * real-time fan-out.
 */
export const CHANNELS = {
	/** `{ order, cancelReason? }` on every status change of an order (creation included). */
	orderStatus: "orders.status",
	/** `{ type: "stock_low" | "out_of_stock", productId, sku, name, stock, threshold, crossing }` once per crossing. */
	stockAlerts: "products.stock-alerts",
} as const;

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

declare module "moleculer" {
	interface ServiceBroker {
		sendToChannel(channelName: string, payload: unknown, opts?: Record<string, unknown>): Promise<void>;
	}
}
