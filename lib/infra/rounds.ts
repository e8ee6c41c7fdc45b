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

/** Runs `round` every `everyMs`, and once as soon as `ready` resolves (a failed wait leaves it to the timer). */
export function everyAndOnceReady(round: () => Promise<void>, everyMs: number, ready: Promise<unknown>): NodeJS.Timeout {
	const timer = setInterval(() => void round(), everyMs);
	ready.then(round, () => undefined);
	return timer;
}
