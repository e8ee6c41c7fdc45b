/** autocannon runs, interleaved rounds, and the statistics the table prints. */
import autocannon from "autocannon";
import { settings } from "./config";

export interface Run {
	/** 2xx answers per second: a failed request is not a served one. */
	rps: number;
	p50: number;
	p99: number;
	errors: number;
	non2xx: number;
	requests: number;
}

export type LoadOptions = Omit<autocannon.Options, "duration">;

/** One autocannon run of `seconds` (or of `amount` requests when set). */
export async function cannon(opts: LoadOptions, seconds: number): Promise<Run> {
	const res = await autocannon({ connections: settings.connections, ...opts, ...(opts.amount ? {} : { duration: seconds }) });
	return {
		rps: res["2xx"] / res.duration,
		p50: res.latency.p50,
		p99: res.latency.p99,
		errors: res.errors + res.timeouts,
		non2xx: res.non2xx,
		requests: res.requests.total,
	};
}

/** A contender in an interleaved comparison: what one measured run of it is. */
export interface Contender<R> {
	key: string;
	/** Before the first round: the same load for the warm-up seconds. */
	warmup(): Promise<unknown>;
	measure(): Promise<R>;
	/** After each run: wait for the system's background work to end; resolves with the ms waited. */
	settle?(): Promise<number>;
}

/**
 * Every contender warmed up, then `rounds` rounds each running every
 * contender once, every other round backwards (A B C C B A A B C ...): a
 * drift of the machine (another job, a thermal limit) touches all of them
 * alike, and no contender always follows the same one.
 */
export async function interleave<R>(contenders: Contender<R>[], rounds: number, onRun: (key: string, round: number, r: R) => void): Promise<Map<string, R[]>> {
	const out = new Map<string, R[]>(contenders.map(c => [c.key, []]));
	for (const c of contenders) {
		await c.warmup();
		await c.settle?.();
	}
	for (let round = 1; round <= rounds; round++) {
		const order = round % 2 === 1 ? contenders : [...contenders].reverse();
		for (const c of order) {
			const r = await c.measure();
			out.get(c.key)!.push(r);
			onRun(c.key, round, r);
			const waited = await c.settle?.();
			if (waited && waited > 2000) console.log(`    (${c.key} was busy for ${(waited / 1000).toFixed(1)} s after the run)`);
		}
	}
	return out;
}

export function median(values: number[]): number {
	const v = values.filter(Number.isFinite).sort((a, b) => a - b);
	if (!v.length) return NaN;
	const mid = v.length >> 1;
	return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(values: number[], p: number): number {
	if (!values.length) return NaN;
	const v = [...values].sort((a, b) => a - b);
	const rank = Math.ceil((p / 100) * v.length);
	return v[Math.min(v.length - 1, Math.max(0, rank - 1))];
}

export function sum(values: number[]): number {
	return values.reduce((a, b) => a + b, 0);
}
