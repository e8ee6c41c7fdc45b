import type { Middleware, ServiceBroker } from "moleculer";
import { defineCallMiddleware } from "../lib/contracts/schema";
import { registryOf } from "../lib/infra/registry";

/** How long a call waits for a node of its service when none serves it: about what a node takes to start here. */
export const ENDPOINT_WAIT_MS = 3000;

/** Whether the action is known to the cluster (it had a node) but no node serves it now. */
export function unserved(broker: ServiceBroker, name: string): boolean {
	const endpoints = registryOf(broker).getActionEndpoints(name);
	return endpoints !== undefined && !endpoints.hasAvailable();
}

/** Resolves once a node serves the action, or after `maxWaitMs`. */
export function endpointFor(broker: ServiceBroker, name: string, maxWaitMs: number): Promise<void> {
	return new Promise(resolve => {
		const done = () => {
			clearTimeout(timer);
			broker.localBus.off("$services.changed", check);
			resolve();
		};
		const check = () => !unserved(broker, name) && done();
		const timer = setTimeout(done, maxWaitMs);
		broker.localBus.on("$services.changed", check);
	});
}

/**
 * A call by name to an action the cluster has served, while no node serves
 * it (the one node of a service died, and its successor is starting: the
 * dead one is taken out at once, lib/infra/amqp-transporter.ts), waits for a
 * node to announce it, at most `maxWaitMs`, rather than failing at once.
 * Nothing has been sent yet, so waiting is safe for any action; a service
 * that stays away still fails, `maxWaitMs` later. Retries go through here
 * too: a read or a reservation rejected by a dead node is tried again once
 * the new node is there.
 */
export function EndpointWaitMiddleware(maxWaitMs: number): Middleware {
	return defineCallMiddleware("EndpointWait", (broker, next, target, params, opts) => {
		// A call to a node, or before the broker has started (it learns of the others then), goes on.
		if (typeof target !== "string" || opts.nodeID || !broker.started || !unserved(broker, target)) return next(target, params, opts);
		return endpointFor(broker, target, maxWaitMs).then(() => next(target, params, opts));
	});
}
