import type { Middleware, ServiceBroker } from "moleculer";
import { defineMiddleware } from "../lib/contracts/schema";

/** Announced on the broker's local bus when it begins to stop, before it waits for the calls in flight. */
export const BROKER_STOPPING = "$broker.stopping";

/**
 * Moleculer tells services that the broker stops only once it has waited
 * for every call in flight; a gateway that kept taking requests meanwhile
 * made new calls all along. Listed last, this hook runs first (stopping
 * hooks run in reverse), so the gateway can shut its door before the wait.
 */
export function StoppingSignalMiddleware(): Middleware {
	return defineMiddleware({
		name: "StoppingSignal",
		stopping(broker: ServiceBroker) {
			broker.localBus.emit(BROKER_STOPPING);
		},
	});
}
