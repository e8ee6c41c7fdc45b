import Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import { CacheUnavailableError, redisOptions } from "./redis";

/**
 * moleculer-web rate-limit store kept in Redis, so several gateway nodes
 * share one counter per client. Fixed windows aligned to the clock; one
 * MULTI (INCR + PEXPIRE) per request.
 */
export class RedisRateLimitStore {
	private readonly redis: Redis;
	private readonly prefix: string;
	private currentReset = 0;

	constructor(
		private readonly windowMs: number,
		opts: { redisUrl: string },
		broker: ServiceBroker,
	) {
		this.redis = new Redis({ ...redisOptions(opts.redisUrl), enableAutoPipelining: true });
		this.redis.on("error", (err: Error) => broker.logger.warn("Rate-limit store:", err.message));
		this.prefix = `${broker.namespace || "MOL"}:ratelimit`;
	}

	/** The end of the window the last counted request fell in (ms since the epoch). */
	get resetTime(): number {
		return this.currentReset;
	}

	/** This client's count in the current window; 503 while Redis is away (the limit cannot be kept without it). */
	async inc(key: string): Promise<number> {
		const windowStart = Math.floor(Date.now() / this.windowMs) * this.windowMs;
		this.currentReset = windowStart + this.windowMs;
		const redisKey = `${this.prefix}:${windowStart}:${key}`;
		try {
			const results = await this.redis
				.multi()
				.incr(redisKey)
				.pexpire(redisKey, this.windowMs * 2)
				.exec();
			const [err, count] = results?.[0] ?? [new Error("no answer"), 0];
			if (err) throw err;
			return Number(count);
		} catch (err) {
			throw new CacheUnavailableError(err as Error);
		}
	}

	async close(): Promise<void> {
		await this.redis.quit().catch(() => this.redis.disconnect());
	}
}
