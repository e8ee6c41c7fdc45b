import type { ActionSchema, Context, Middleware, ServiceBroker } from "moleculer";
import { LRUCache } from "lru-cache";
import { ShopRedisCacher, answerSize } from "../lib/redis";

type Handler = (ctx: Context) => Promise<unknown>;

/** What an action's `cache` says, as the registry hands a remote action's definition over. */
interface CacheOptions {
	keys?: string[];
	ttl?: number;
	/** Opt in: the action's service renews its tag on every write (the db mixin's clearCache). */
	near?: boolean;
}

interface Entry {
	tag: string | null;
	value: unknown;
	size: number;
}

/**
 * A near cache for answers of remote actions that opt in (`cache.near`),
 * on nodes whose cacher is Redis: a gateway answers a cached read without
 * the hop to the owning service (AMQP, the owner's Redis read, the way
 * back). It stays as fresh as the shared cache: before each read it reads
 * the owner's tag in Redis (one GET, which every gateway sees alike), and
 * serves an entry only if it was stored under that same tag. A write cleans
 * the owner's keys, then renews the tag, then answers; a read that arrives
 * after the answer reads the new tag, whichever gateway it reaches, and
 * asks the owner. An entry is tagged with the value read *before* asking,
 * so an answer that raced a write is never kept under the newer tag.
 */
export function NearCacheMiddleware(bounds: { maxEntries: number; maxBytes: number }): Middleware {
	let broker: ServiceBroker;
	let entries: LRUCache<string, Entry> | undefined;
	return {
		name: "NearCache",
		created(b: ServiceBroker) {
			broker = b;
		},
		remoteAction(handler: Handler, action: ActionSchema & { name: string; cache?: CacheOptions | boolean }): Handler {
			const cacher = broker.cacher;
			const opts = typeof action.cache === "object" ? action.cache : undefined;
			if (!(cacher instanceof ShopRedisCacher) || !opts?.near) return handler;
			// Bounded in entries and in bytes: keys by the cacher's maxParamsLength, answers by their JSON's length.
			const cache = (entries ??= new LRUCache<string, Entry>({ max: bounds.maxEntries, maxSize: bounds.maxBytes, sizeCalculation: (entry, key) => Math.max(1, key.length + entry.size) }));
			const service = action.name.slice(0, action.name.lastIndexOf("."));
			const ttlMs = (opts.ttl ?? (cacher as unknown as { opts: { ttl?: number } }).opts.ttl ?? 0) * 1000;
			return async function nearCache(ctx: Context): Promise<unknown> {
				if ((ctx.meta as { $cache?: boolean }).$cache === false) return handler(ctx);
				const key = cacher.getCacheKey(action.name, ctx.params as object, ctx.meta, opts.keys ?? []);
				const tag = await cacher.readTag(service);
				const hit = cache.get(key);
				if (hit && hit.tag === tag) {
					ctx.cachedResult = true;
					return hit.value;
				}
				const value = await handler(ctx);
				if (value != null) cache.set(key, { tag, value, size: answerSize(value) }, ttlMs > 0 ? { ttl: ttlMs } : undefined);
				return value;
			};
		},
	} as unknown as Middleware;
}
