import crypto from "crypto";
import type { RedisOptions } from "ioredis";
import { Cachers, Errors } from "moleculer";

/**
 * Redis as every part of a node uses it (cacher, rate-limit counters,
 * Socket.IO adapter): a command fails at once while Redis is away, rather
 * than waiting in ioredis' offline queue, so a request answers 503 quickly;
 * the client reconnects by itself.
 */
export function redisOptions(url: string): RedisOptions {
	const u = new URL(url);
	return {
		host: u.hostname,
		port: Number(u.port) || 6379,
		...(u.username ? { username: decodeURIComponent(u.username) } : {}),
		...(u.password ? { password: decodeURIComponent(u.password) } : {}),
		db: Number(u.pathname.slice(1)) || 0,
		...(u.protocol === "rediss:" ? { tls: {} } : {}),
		enableOfflineQueue: false,
		maxRetriesPerRequest: 1,
		retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
	};
}

/** Redis is away: what every door answers (503, with Retry-After). */
export class CacheUnavailableError extends Errors.MoleculerRetryableError {
	constructor(cause?: Error) {
		super("The cache (Redis) is unavailable; try again shortly", 503, "CACHE_UNAVAILABLE", cause ? { reason: cause.message } : undefined);
	}
}

interface RedisClient {
	on(event: string, listener: () => void): void;
	get(key: string): Promise<string | null>;
	set(key: string, value: string, ...flags: string[]): Promise<unknown>;
}

type CacherBase = new (opts: object) => {
	client: RedisClient;
	prefix: string;
	broker: { services: Array<{ fullName: string }> };
	logger: { info(...args: unknown[]): void };
	init(broker: unknown): void;
	get(key: string): Promise<unknown>;
	set(key: string, data: unknown, ttl?: number): Promise<unknown>;
	del(keys: string | string[]): Promise<unknown>;
	clean(match?: string | string[]): Promise<unknown>;
	getParamMetaValue(key: string, params: unknown, meta: unknown): unknown;
};

/**
 * Moleculer's Redis cacher, saying 503 when Redis is away (its errors were
 * 500s), and emptying its namespace when Redis comes back: a write made
 * meanwhile could not clear its keys.
 */
export class ShopRedisCacher extends withTypedKeys(Cachers.Redis as unknown as CacherBase) {
	init(broker: unknown): void {
		super.init(broker);
		let lost = false;
		this.client.on("close", () => (lost = true));
		this.client.on("ready", () => {
			if (!lost) return;
			lost = false;
			this.logger.info("Redis is back: dropping the cached answers that writes made meanwhile could not clear.");
			void super
				.clean()
				.then(() => Promise.all(this.broker.services.map(svc => this.renewTag(svc.fullName))))
				.catch(() => undefined);
		});
	}

	/**
	 * The tag of a service's cached answers: a random value that each write
	 * of the service renews after it cleared its keys and before it answers.
	 * A gateway's near cache (middlewares/near-cache.ts) keeps an answer with
	 * the tag it read before asking, and serves it only while the tag is
	 * still the same.
	 */
	async readTag(service: string): Promise<string> {
		const key = this.tagKey(service);
		try {
			const tag = await this.client.get(key);
			if (tag !== null) return tag;
			// Never absent: answers kept while there was none would match again once a clean of the namespace deleted the tag.
			const fresh = crypto.randomUUID();
			if ((await this.client.set(key, fresh, "NX")) === "OK") return fresh;
			// Another reader set it first: theirs is the tag.
			return (await this.client.get(key)) ?? fresh;
		} catch (err) {
			return unavailable(err as Error);
		}
	}

	renewTag(service: string): Promise<void> {
		return this.client
			.set(this.tagKey(service), crypto.randomUUID())
			.then(() => undefined)
			.catch(unavailable);
	}

	private tagKey(service: string): string {
		return `${this.prefix}near-tag:${service}`;
	}

	get(key: string): Promise<unknown> {
		return super.get(key).catch(unavailable);
	}

	/** Best effort, and never rejects: Moleculer's cacher calls it without waiting (a rejection would end the process). */
	set(key: string, data: unknown, ttl?: number): Promise<unknown> {
		return super.set(key, data, ttl).catch(() => undefined);
	}

	del(keys: string | string[]): Promise<unknown> {
		return super.del(keys).catch(unavailable);
	}

	clean(match?: string | string[]): Promise<unknown> {
		return super.clean(match).catch(unavailable);
	}
}

function unavailable(err: Error): never {
	throw new CacheUnavailableError(err);
}

/**
 * A cacher whose keys keep each param's JSON type: Moleculer writes `2`
 * and `"2"` alike, and the cache is read before validation, so a request
 * that validation refuses (`"2"` for a number in a body) would be answered
 * from the entry of a valid one.
 */
function withTypedKeys(Base: CacherBase): CacherBase {
	return class extends Base {
		getParamMetaValue(key: string, params: unknown, meta: unknown): unknown {
			const value = super.getParamMetaValue(key, params, meta);
			return value !== null && typeof value === "object" ? value : (JSON.stringify(value) ?? "~");
		}
	};
}

/** The size an answer is counted at in a byte-bounded cache: its JSON's length. */
export function answerSize(value: unknown): number {
	return JSON.stringify(value)?.length ?? 0;
}

type LruV6 = new (opts: { max: number; length(value: unknown, key: string): number; maxAge: number | null; updateAgeOnGet: boolean }) => unknown;

/**
 * The embedded default's cacher: Moleculer's MemoryLRU, with typed keys,
 * bounded in bytes as well as in entries. Its LRU (lru-cache 6, Moleculer's
 * own) counts each entry at its answer's size, and at least a share of the
 * byte cap that keeps the entry count within `max`.
 */
export class ShopMemoryCacher extends withTypedKeys(Cachers.MemoryLRU as unknown as CacherBase) {
	constructor(opts: { max: number; maxBytes: number; ttl?: number } & Record<string, unknown>) {
		super(opts);
		const self = this as unknown as { cache: { constructor: LruV6 } };
		const minCost = Math.ceil(opts.maxBytes / opts.max);
		self.cache = new self.cache.constructor({
			max: opts.maxBytes,
			length: (value, key) => Math.max(minCost, key.length + answerSize(value)),
			maxAge: opts.ttl ? opts.ttl * 1000 : null,
			updateAgeOnGet: !!opts.ttl,
		}) as { constructor: LruV6 };
	}
}
