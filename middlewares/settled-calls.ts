import type { Middleware } from "moleculer";
import { defineMiddleware, type Handler } from "../lib/contracts/schema";

/**
 * A handler that throws instead of rejecting (a cache key builder, a hook)
 * answers a rejected promise: Moleculer's ContextTracker, which wraps this,
 * releases a context only when the promise settles, so a throw left the
 * request's context tracked for good (about 1 MB each, and a node that no
 * longer stops gracefully).
 */
export function SettledCallsMiddleware(): Middleware {
	const settle = (handler: Handler): Handler =>
		function settled(ctx) {
			try {
				return handler(ctx);
			} catch (err) {
				return Promise.reject(err instanceof Error ? err : new Error(String(err)));
			}
		};
	return defineMiddleware({ name: "SettledCalls", localAction: settle, localEvent: settle });
}
