/**
 * `task`'s result, kept for `ttlMs` after its run ended: callers within
 * that time get it without a run, and callers that come while a run goes
 * share it. A failed run is not kept. What a caller gets may be up to
 * `ttlMs` old (the gateway's health report: monitors that ask often cost
 * one fan-out a second).
 */
export function keptFor<T>(ttlMs: number, task: () => Promise<T>, now: () => number = Date.now): () => Promise<T> {
	let kept: { value: T; at: number } | null = null;
	let running: Promise<T> | null = null;
	return () => {
		if (kept && now() - kept.at < ttlMs) return Promise.resolve(kept.value);
		running ??= task()
			.then(value => {
				kept = { value, at: now() };
				return value;
			})
			.finally(() => (running = null));
		return running;
	};
}
