import type { Middleware, ServiceBroker } from "moleculer";
import { defineMiddleware } from "../lib/contracts/schema";

/** Waits between tries in place, the last one repeated. */
const DELAYS_MS = [100, 250, 500, 1000, 2000];
/** How long a message is tried in place before its failure goes to the adapter's redeliveries. */
const IN_PLACE_MS = 120_000;

type ChannelHandler = (msg: unknown, raw: unknown) => Promise<unknown>;

/**
 * A durable channel's handler that fails because a dependency is away (a
 * retryable error: Redis, a service, RabbitMQ) is tried again in place,
 * with backoff, the message still unacknowledged. Left to the adapter, the
 * failure spent the message's few redeliveries within milliseconds and
 * dead-lettered every message in flight during a short outage (analytics
 * then never counted those orders). Any other error (a malformed message)
 * goes straight on to the redeliveries and the dead-letter queue, and so
 * does a retryable one once the node is stopping or has tried for
 * IN_PLACE_MS.
 */
export function RetryableChannelsMiddleware(delaysMs: readonly number[] = DELAYS_MS, inPlaceMs = IN_PLACE_MS): Middleware {
	let stopping = false;
	return defineMiddleware({
		name: "RetryableChannels",
		localChannel(handler: ChannelHandler): ChannelHandler {
			return async (msg, raw) => {
				const since = Date.now();
				for (let attempt = 0; ; attempt++) {
					try {
						return await handler(msg, raw);
					} catch (err) {
						if (stopping || !(err as { retryable?: boolean }).retryable || Date.now() - since >= inPlaceMs) throw err;
						await new Promise(resolve => setTimeout(resolve, delaysMs[Math.min(attempt, delaysMs.length - 1)]));
					}
				}
			};
		},
		stopping(_broker: ServiceBroker) {
			stopping = true;
		},
	});
}
