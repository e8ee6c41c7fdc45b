import Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import { CacheUnavailableError } from "../contracts/errors";
import { namespacePrefix, redisOptions } from "./redis";

/** INCR, and the key's expiry set with its first count: one atomic script. */
const COUNT_SCRIPT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

type CountingRedis = Redis & { countInWindow(key: string, expireMs: number): Promise<number> };

/**
 * Each counter's own name in its keys: requests per client at the gateway,
 * sign-ins and reset requests per account. An exact segment (none holds a
 * `:`), so no counter's key is another's whatever its client or account is.
 */
export type CounterName = "requests" | "sign-in" | "password-reset";

/**
 * moleculer-web rate-limit store kept in Redis, so several gateway nodes
 * share one counter per client. Fixed windows aligned to the clock; one
 * script call per request (INCR, and PEXPIRE on the first count). A script
 * is one command, which auto-pipelining sends with the other commands of
 * the same turn (a MULTI is a write of its own: a third of the cluster
 * gateway's time went to writing them).
 */
export class RedisRateLimitStore {
	private readonly redis: CountingRedis;
	private readonly prefix: string;
	private currentReset = 0;

	constructor(
		name: CounterName,
		private readonly windowMs: number,
		opts: { redisUrl: string },
		broker: ServiceBroker,
	) {
		this.redis = new Redis({ ...redisOptions(opts.redisUrl), enableAutoPipelining: true }) as CountingRedis;
		this.redis.defineCommand("countInWindow", { numberOfKeys: 1, lua: COUNT_SCRIPT });
		this.redis.on("error", (err: Error) => broker.logger.warn("Rate-limit store:", err.message));
		this.prefix = `${namespacePrefix(broker.namespace ?? "")}ratelimit:${name}`;
	}

	/** The end of the window the last counted request fell in (ms since the epoch). */
	get resetTime(): number {
		return this.currentReset;
	}

	/** Whether Redis answers now: the gateway's health says the cache is down otherwise. */
	get ready(): boolean {
		return this.redis.status === "ready";
	}

	/** This client's count in the current window; 503 while Redis is away (the limit cannot be kept without it). */
	async inc(key: string): Promise<number> {
		const windowStart = Math.floor(Date.now() / this.windowMs) * this.windowMs;
		this.currentReset = windowStart + this.windowMs;
		const redisKey = `${this.prefix}:${windowStart}:${key}`;
		try {
			return Number(await this.redis.countInWindow(redisKey, this.windowMs * 2));
		} catch (err) {
			throw new CacheUnavailableError(err as Error);
		}
	}

	async close(): Promise<void> {
		await this.redis.quit().catch(() => this.redis.disconnect());
	}
}
