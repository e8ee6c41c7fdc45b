import type { Redis, RedisOptions } from "ioredis";
import { Cachers, type Context, type ServiceBroker } from "moleculer";
import { CacheUnavailableError } from "../contracts/errors";
import { versionOf } from "./version-snapshot";
import { MemoryCacheVersions, RedisCacheVersions, WriteHolds, type CacheVersions, type VersionRead } from "./cache-versions";

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

/**
 * The Redis key prefix of a namespace (the cache's, the rate-limit
 * counters', the Socket.IO adapter's channels). A namespace is letters,
 * digits, `-` and `_` (lib/infra/settings.ts), so `:` ends it: no namespace's
 * prefix starts another's, and none is the same as no namespace.
 */
export function namespacePrefix(namespace: string): string {
	if (!/^[A-Za-z0-9_-]*$/.test(namespace)) throw new Error(`A namespace is letters, digits, - and _ only: ${JSON.stringify(namespace)}`);
	return `shop:${namespace}:`;
}

/** A caller's version read, handed to the owner's cacher with the call (middlewares/near-cache.ts): one read per request. */
export interface CallerVersion extends VersionRead {
	service: string;
}

export interface VersionedMeta {
	$cacheVersion?: CallerVersion;
	$cache?: boolean;
}

interface CacheOptions {
	enabled?: boolean;
	keys?: string[];
	ttl?: number;
}

type ActionDef = { name: string; cache?: boolean | CacheOptions; service?: { fullName: string } };
type Handler = (ctx: Context) => Promise<unknown>;

type CacherBase = new (opts: object) => {
	opts: { ttl?: number | null };
	prefix: string;
	broker: ServiceBroker;
	logger: { warn(...args: unknown[]): void };
	init(broker: ServiceBroker): void;
	get(key: string): Promise<unknown>;
	set(key: string, data: unknown, ttl?: number): Promise<unknown>;
	getCacheKey(action: string, params: unknown, meta: unknown, keys?: string[]): string;
	getParamMetaValue(key: string, params: unknown, meta: unknown): unknown;
};

/** The service an action belongs to (`v1.products.get` → `v1.products`). */
export function serviceOf(action: { name: string; service?: { fullName: string } }): string {
	return action.service?.fullName ?? action.name.slice(0, action.name.lastIndexOf("."));
}

/**
 * A cacher whose entries are stored under their service's version (see
 * lib/infra/cache-versions.ts), and which holds a write lease for each action that
 * may write (every action that is not a cached read) and each store write
 * (mixins/db.mixin.ts). It replaces Moleculer's cacher middleware: an entry
 * is stored under the version read before the handler ran, and only when no
 * write held a lease then.
 */
function withVersions(Base: CacherBase, makeVersions: (cacher: InstanceType<CacherBase>) => CacheVersions) {
	return class extends Base {
		versions!: CacheVersions;
		holds!: WriteHolds;

		init(broker: ServiceBroker): void {
			super.init(broker);
			this.prefix = this.keyPrefix(broker);
			this.versions = makeVersions(this);
			this.holds = new WriteHolds(this.versions, broker.nodeID, (service, err) =>
				this.logger.warn(`The write lease of ${service} could not be ended (${err.message}); it runs out by itself, and ${service}'s answers are not cached until then.`),
			);
		}

		/** Moleculer's prefix, unless a cacher has its own. */
		keyPrefix(_broker: ServiceBroker): string {
			return this.prefix;
		}

		middleware() {
			return { name: "Cacher", localAction: (handler: Handler, action: ActionDef) => this.versionedAction(handler, action) };
		}

		versionedAction(handler: Handler, action: ActionDef): Handler {
			const service = serviceOf(action);
			const opts: CacheOptions | undefined = typeof action.cache === "object" ? action.cache : action.cache ? {} : undefined;
			if (!opts || opts.enabled === false) return ctx => this.holds.during(service, () => handler(ctx));
			return async ctx => {
				const meta = ctx.meta as VersionedMeta;
				if (meta.$cache === false) return handler(ctx);
				const caller = meta.$cacheVersion;
				const read = caller?.service === service ? caller : await versionOf(meta, this.versions, service);
				const key = `cache:${read.version}:${this.getCacheKey(action.name, ctx.params, ctx.meta, opts.keys)}`;
				const hit = await this.get(key);
				if (hit != null) {
					ctx.cachedResult = true;
					return hit;
				}
				const result = await handler(ctx);
				if (!read.writing) void this.set(key, result, opts.ttl);
				return result;
			};
		}
	};
}

/**
 * Moleculer's Redis cacher with versioned keys, saying 503 when Redis is
 * away (its errors were 500s). Its prefix is taken as given (Moleculer adds
 * a `-`, which a longer namespace's prefix would start with too). A
 * reconnect deletes nothing: a write made while Redis was away was refused
 * before it committed, or holds a lease that runs out.
 */
export class ShopRedisCacher extends withVersions(
	// Moleculer's typings declare its cachers as classes without the members the mixins below use.
	withTypedKeys(Cachers.Redis as unknown as CacherBase),
	// Moleculer's typings leave the Redis cacher's client out.
	cacher => new RedisCacheVersions((cacher as unknown as { client: Redis }).client, cacher.prefix, unavailable),
) {
	/** Its ioredis client, which Moleculer's typings leave out. */
	declare readonly client: Redis;

	keyPrefix(broker: ServiceBroker): string {
		return (this.opts as { prefix?: string }).prefix ?? namespacePrefix(broker.namespace ?? "");
	}

	get(key: string): Promise<unknown> {
		return super.get(key).catch(unavailable);
	}

	/** A QUIT that cannot be sent (Redis away) leaves the client reconnecting for ever: then it is dropped. */
	async close(): Promise<void> {
		await this.client.quit().catch(() => this.client.disconnect());
	}

	/** Best effort, and never rejects: it is not waited for (a rejection would end the process). */
	set(key: string, data: unknown, ttl?: number): Promise<unknown> {
		return super.set(key, data, ttl).catch(() => undefined);
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
 * The embedded default's cacher: Moleculer's MemoryLRU, with typed keys and
 * versions of its own, bounded in bytes as well as in entries. Its LRU (lru-cache 6, Moleculer's
 * own) counts each entry at its answer's size, and at least a share of the
 * byte cap that keeps the entry count within `max`.
 */
// Moleculer's typings declare its cachers as classes without the members the mixins use.
export class ShopMemoryCacher extends withVersions(withTypedKeys(Cachers.MemoryLRU as unknown as CacherBase), () => new MemoryCacheVersions()) {
	/** Its LRU (lru-cache 6), which Moleculer's typings leave out. */
	declare cache: { constructor: LruV6 };

	constructor(opts: { max: number; maxBytes: number; ttl?: number } & Record<string, unknown>) {
		super(opts);
		const minCost = Math.ceil(opts.maxBytes / opts.max);
		this.cache = new this.cache.constructor({
			max: opts.maxBytes,
			length: (value, key) => Math.max(minCost, key.length + answerSize(value)),
			maxAge: opts.ttl ? opts.ttl * 1000 : null,
			updateAgeOnGet: !!opts.ttl,
		}) as { constructor: LruV6 };
	}
}
