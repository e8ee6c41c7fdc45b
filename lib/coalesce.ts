/**
 * Shares runs of `task` between concurrent callers, without weakening what
 * each caller is promised: a caller's promise settles with a run that
 * started after the call. While a run is going, every caller that arrives
 * waits for one more run, shared by all of them, which starts when the
 * current one ends. So at most one run goes and one waits, however many
 * writers call (a cache clean per order becomes a few per second under load).
 */
export function coalesced<T = void>(task: () => Promise<T>): () => Promise<T> {
	let running: Promise<T> | null = null;
	let queued: Promise<T> | null = null;
	const start = (): Promise<T> => {
		const run = task().finally(() => {
			if (running === run) running = null;
		});
		running = run;
		return run;
	};
	return () => {
		// A queued run not yet started is joined, also between a run's end and the queued run's start (a few microtasks).
		if (queued) return queued;
		if (!running) return start();
		queued = running
			.catch(() => undefined)
			.then(() => {
				queued = null;
				return start();
			});
		return queued;
	};
}

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
