import type { LoggerInstance } from "moleculer";
import type { StockAlertMessage } from "../../lib/contracts/channels";
import type { LowStockProduct } from "../../lib/contracts/types";
import { crashPoint } from "../../lib/infra/crash-points";
import type { DbAdapter } from "../../lib/db/adapter";
import type { ProductDoc } from "./documents";

const outboxKey = (m: StockAlertMessage) => `alertOutbox.${m.type}_${m.crossing}`;

/**
 * Crossings of a product's low-stock threshold and of zero, each announced
 * once, durably: the message waits in the product (`alertOutbox`, written
 * in the same update that records the crossing) until the channel has it.
 */
export class StockAlerts {
	constructor(
		private readonly products: DbAdapter<ProductDoc>,
		private readonly send: (message: StockAlertMessage) => Promise<void>,
		private readonly logger: LoggerInstance,
	) {}

	/**
	 * The crossings this state of the product makes, each found once: a flag
	 * set by one conditional update (so one caller wins), armed again only
	 * when stock is back above the line.
	 */
	async detect(doc: ProductDoc): Promise<StockAlertMessage[]> {
		const levels = [
			{ type: "stock_low" as const, flag: "lowStockNotified" as const, counter: "lowStockCrossings" as const, line: doc.lowStockThreshold },
			{ type: "out_of_stock" as const, flag: "outOfStockNotified" as const, counter: "outOfStockCrossings" as const, line: 0 },
		];
		const found: StockAlertMessage[] = [];
		for (const { type, flag, counter, line } of levels) {
			if (doc.stock <= line && !doc[flag]) {
				const message: StockAlertMessage = {
					type,
					productId: String(doc._id),
					sku: doc.sku,
					name: doc.name,
					stock: doc.stock,
					threshold: doc.lowStockThreshold,
					crossing: (doc[counter] ?? 0) + 1,
				};
				const won = await this.products.updateMany(
					{ _id: doc._id, stock: { $lte: line }, [flag]: { $ne: true } },
					{ $set: { [flag]: true, [outboxKey(message)]: message }, $inc: { [counter]: 1 } },
				);
				if (won === 1) {
					crashPoint("alert.after-crossing");
					found.push(message);
				}
			} else if (doc.stock > line && doc[flag]) {
				await this.products.updateMany({ _id: doc._id, stock: { $gt: line }, [flag]: true }, { $set: { [flag]: false } });
			}
		}
		return found;
	}

	/** Tell the cluster now (`product.stock_low`) and hand the crossing to the durable channel. */
	announce(emitter: { emit(event: string, payload: unknown): unknown }, message: StockAlertMessage): void {
		if (message.type === "stock_low")
			void emitter.emit("product.stock_low", { productId: message.productId, sku: message.sku, name: message.name, stock: message.stock, threshold: message.threshold });
		this.publish(message).catch((err: Error) => this.logger.warn("Stock alert not published yet; the recovery round retries", err.message));
	}

	/** Hand a crossing to the channel, then take it out of the product's outbox. */
	async publish(message: StockAlertMessage): Promise<void> {
		await this.send(message);
		crashPoint("alert.after-publish");
		await this.products.updateMany({ _id: message.productId }, { $unset: { [outboxKey(message)]: true } });
	}

	/** Send again what a crash or an outage left in outboxes. Never throws: what cannot go now waits for the next round. */
	async resendUnsent(): Promise<void> {
		const waiting = (await this.products.find({ query: {} })).filter(d => d.alertOutbox && Object.keys(d.alertOutbox).length);
		for (const doc of waiting) {
			for (const message of Object.values(doc.alertOutbox!)) {
				// Not published now (the channel adapter connects after the services start, or RabbitMQ is away): next round.
				await this.publish(message).catch((err: Error) => this.logger.warn("Stock alert still not published", err.message));
			}
		}
	}

	/** Products at or below their threshold now. */
	async lowStock(): Promise<LowStockProduct[]> {
		const docs = await this.products.find({ query: { deleted: { $ne: true }, lowStockNotified: true } });
		return docs.filter(d => d.stock <= d.lowStockThreshold).map(d => ({ productId: String(d._id), sku: d.sku, name: d.name, stock: d.stock, threshold: d.lowStockThreshold }));
	}
}
