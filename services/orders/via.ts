import type { CallingOptions, LoggerInstance } from "moleculer";
import type { OrderStatusMessage } from "../../lib/contracts/channels";
import type { DbAdapter } from "../../lib/db/adapter";
import type { SettlementSettings } from "../../lib/infra/settings";
import type { Order } from "../../lib/contracts/types";
import type { OrderDoc } from "./order-doc";
import type { ReleaseAnswer, ReservationView, ReserveAnswer, ReserveItem } from "../../lib/contracts/reservations";

/** Who placement speaks through: the request's context, or the broker for the settler. */
export interface Via {
	call<T>(action: string, params?: object, opts?: CallingOptions): Promise<T>;
	emit(event: string, payload?: unknown): Promise<void> | void;
}

/** Products' side of the saga, as orders calls it. */
export const products = {
	reserve: (via: Via, orderId: string, items: ReserveItem[]) => via.call<ReserveAnswer>("products.reserve", { orderId, items }),
	release: (via: Via, orderId: string) => via.call<ReleaseAnswer>("products.release", { orderId }),
	reservation: (via: Via, orderId: string) => via.call<ReservationView>("products.reservation", { orderId }),
};

/** How long the settler waits for products before it tries again next round. */
const SETTLER_CALL_TIMEOUT_MS = 2000;

/** The settler does not wait for a node that is away: it tries again next round. */
export function settlerVia(broker: Via): Via {
	return {
		call: (action, params, opts) => broker.call(action, params, { timeout: SETTLER_CALL_TIMEOUT_MS, retries: 0, ...opts }),
		emit: (event, payload) => broker.emit(event, payload),
	};
}

/** What placement works with: the orders store, the settler's timings, the public shape, the durable channel. */
export interface PlacementDeps {
	orders: DbAdapter<OrderDoc>;
	settlement: SettlementSettings;
	toPublic(doc: OrderDoc): Order;
	/** Hand a status message to the durable channel. */
	publish(message: OrderStatusMessage): Promise<void>;
	logger: LoggerInstance;
}
