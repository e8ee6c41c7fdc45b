/**
 * Group commit: a write is acknowledged once a sync that began after it has
 * completed. Every write of one event-loop turn waits for the same sync,
 * which begins at the end of the turn (after any sync already running: that
 * one began before these writes), so a busy store syncs once per turn, not
 * once per write.
 */
export class GroupCommit {
	private waiting: { promise: Promise<void>; resolve(): void; reject(err: Error): void } | undefined;
	private syncing = false;

	constructor(private readonly sync: () => Promise<void>) {}

	/** Call once the write's bytes are written: resolves when they are on disk, rejects with the sync's error. */
	afterWrite(): Promise<void> {
		if (!this.waiting) {
			let resolve!: () => void;
			let reject!: (err: Error) => void;
			const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
			this.waiting = { promise, resolve, reject };
			if (!this.syncing) setImmediate(() => void this.flush());
		}
		return this.waiting.promise;
	}

	private async flush(): Promise<void> {
		const batch = this.waiting;
		if (!batch || this.syncing) return;
		this.waiting = undefined;
		this.syncing = true;
		try {
			await this.sync();
			batch.resolve();
		} catch (err) {
			batch.reject(err instanceof Error ? err : new Error(String(err)));
		} finally {
			this.syncing = false;
			if (this.waiting) setImmediate(() => void this.flush());
		}
	}
}
