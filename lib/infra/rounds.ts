import type { ServiceBroker } from "moleculer";
import { onceAvailable } from "./dependencies";

/**
 * A background round (a recovery, a settlement) run one at a time: a call
 * while one runs returns at once. A failed round goes to `failed`, never
 * to the caller: the next round retries.
 */
export function oneAtATime(round: () => Promise<void>, failed: (err: Error) => void): () => Promise<void> {
	let running = false;
	return async () => {
		if (running) return;
		running = true;
		try {
			await round();
		} catch (err) {
			failed(err as Error);
		} finally {
			running = false;
		}
	};
}

/**
 * Runs `round` every `everyMs`, and once as soon as the named services are
 * available (./dependencies.ts: a wait that never holds the process open);
 * the returned stop ends both.
 */
export function everyAndOnceAvailable(broker: ServiceBroker, services: readonly string[], round: () => Promise<void>, everyMs: number): () => void {
	let stopped = false;
	const timer = setInterval(() => void round(), everyMs);
	onceAvailable(broker, services, () => stopped, round);
	return () => {
		stopped = true;
		clearInterval(timer);
	};
}
