import { ServiceBroker, type ServiceSchema } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import { settings } from "../../lib/infra/settings";

/** An in-process broker with production's settings (the embedded default), without logs; its own cacher and middlewares, as a node has. */
export function createTestBroker(): ServiceBroker {
	return new ServiceBroker({ ...brokerOptions(settings), logger: false, metrics: { enabled: false } });
}

/** A service that records the events it is subscribed to. */
export function eventRecorder(name: string, events: string[]): { schema: ServiceSchema; received: Array<{ event: string; payload: any }> } {
	const received: Array<{ event: string; payload: any }> = [];
	const handlers: ServiceSchema["events"] = {};
	for (const event of events) {
		handlers[event] = (ctx: { params: unknown }) => {
			received.push({ event, payload: ctx.params });
		};
	}
	return { schema: { name, events: handlers }, received };
}

/** Polls until `check` returns a truthy value (or throws after `timeoutMs`). */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = "condition", intervalMs = 25): Promise<NonNullable<T>> {
	const deadline = Date.now() + timeoutMs;
	let last: unknown;
	for (;;) {
		try {
			const value = await check();
			if (value) return value;
		} catch (err) {
			last = err;
		}
		if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
		await new Promise(r => setTimeout(r, intervalMs));
	}
}
