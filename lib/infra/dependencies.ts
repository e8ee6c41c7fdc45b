import type { ServiceBroker } from "moleculer";
import type { Dependencies } from "../contracts/health-report";

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
