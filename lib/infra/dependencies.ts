import type { ServiceBroker } from "moleculer";
import type { Dependencies } from "../contracts/health-report";
import { registryOf } from "./registry";

/** RabbitMQ and Redis as this node sees them; `none` on the embedded default. */
export function dependencyStates(broker: ServiceBroker): Dependencies {
	const transit = broker.transit as { connected?: boolean } | undefined;
	// Only the Redis cacher has a client; the memory cacher of the embedded default has none.
	const client = (broker.cacher as { client?: { status?: string } } | undefined)?.client;
	return {
		transporter: !transit ? "none" : transit.connected ? "up" : "down",
		cache: !client ? "none" : client.status === "ready" ? "up" : "down",
	};
}

/**
 * Calls `then` once every named service is available somewhere in the
 * cluster. Moleculer's `waitForServices` without a timeout polls on a timer
 * that outlives its broker: a process that stopped such a node before the
 * service appeared never ended. This one gives up once `gone()` says its
 * caller has stopped, and its timer never holds the process open.
 */
export function onceAvailable(broker: ServiceBroker, names: readonly string[], gone: () => boolean, then: () => unknown, intervalMs = 500): void {
	const check = () => {
		if (gone()) return;
		if (names.every(name => registryOf(broker).hasService(name))) return void then();
		setTimeout(check, intervalMs).unref();
	};
	check();
}
