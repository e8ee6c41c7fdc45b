import { defineMiddleware } from "../lib/contracts/schema";
import type { Middleware, ServiceBroker } from "moleculer";

type MessageHandler = (cmd: string, packet: unknown) => Promise<unknown>;

/**
 * A node that restarts under the same node id finds requests waiting for it
 * in its RabbitMQ queue, and takes them before its services have started:
 * Moleculer then answers "service not found" for a product that exists. This
 * holds incoming requests until the node has started (at most `maxWaitMs`),
 * so a restarted node takes over its calls only when it can serve them.
 */
export function StartGateMiddleware(maxWaitMs: number): Middleware {
	let broker: ServiceBroker;
	let ready: Promise<void>;
	return defineMiddleware({
		name: "StartGate",
		created(b: ServiceBroker) {
			broker = b;
			ready = new Promise<void>(resolve => {
				broker.localBus.once("$broker.started", () => resolve());
				setTimeout(resolve, maxWaitMs).unref();
			});
		},
		transitMessageHandler(next: MessageHandler): MessageHandler {
			return (cmd, packet) => (cmd !== "REQ" || broker.started ? next(cmd, packet) : ready.then(() => next(cmd, packet)));
		},
	});
}
