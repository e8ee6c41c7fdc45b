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
