import { RateLimitedError } from "../../lib/contracts/errors";

/** moleculer-web's rate-limit store: the Memory one, or ours in Redis. */
export interface RateLimitStore {
	inc(key: string): number | Promise<number>;
	resetTime: number;
}

/**
 * One budget per client for every door: the REST route's own store, so a
 * Socket.IO handshake or call spends from the same counter as a REST
 * request (and, with Redis, across gateways).
 */
export class RateBudget {
	constructor(
		private readonly store: RateLimitStore,
		private readonly limit: number,
	) {}

	/** Count one request of this client; throws 429 past the limit. */
	async spend(client: string): Promise<void> {
		if ((await this.take(client)).remaining < 0) throw new RateLimitedError();
	}

	/** Count one request of this client and say where it stands (what the X-Rate-Limit headers tell); negative remaining is past the limit. */
	async take(client: string): Promise<RateStanding> {
		const count = await this.store.inc(client);
		return { limit: this.limit, remaining: this.limit - count, resetTime: this.store.resetTime };
	}
}

export interface RateStanding {
	limit: number;
	remaining: number;
	/** The end of the current window, in ms since the epoch. */
	resetTime: number;
}
