import type { ActionSchema, Context, Middleware, ServiceBroker } from "moleculer";
import { defineMiddleware } from "../lib/contracts/schema";
import { ShopRedisCacher, answerSize, serviceOf, type VersionedMeta } from "../lib/infra/redis";
import { VersionedEntries, versionOf } from "../lib/infra/version-snapshot";

type Handler = (ctx: Context) => Promise<unknown>;

/** What an action's `cache` says, as the registry hands a remote action's definition over. */
interface CacheOptions {
	keys?: string[];
	ttl?: number;
	/** Opt in: the action's answers follow its service's version (lib/infra/cache-versions.ts). */
	near?: boolean;
}

/**
 * A near cache for answers of remote actions that opt in (`cache.near`),
 * on nodes whose cacher is Redis: a gateway answers a cached read without
 * the hop to the owning service (AMQP, the owner's Redis read, the way
 * back). It stays as fresh as the shared cache: before each read it reads
 * the owner's version in Redis (one script call, which every gateway sees
 * alike; lib/infra/cache-versions.ts), and serves an entry only if it was stored
 * under that same version. A write changes the version before it commits,
 * and no answer is kept while a write holds its lease. An entry is kept
 * under the version read *before* asking, so an answer that raced a write is
 * never kept under a newer one. The read goes with the call
 * (`meta.$cacheVersion`): the owner's cacher uses it instead of reading again.
 */
export function NearCacheMiddleware(bounds: { maxEntries: number; maxBytes: number }): Middleware {
	let broker: ServiceBroker;
	let entries: VersionedEntries<unknown> | undefined;
	return defineMiddleware({
		name: "NearCache",
		created(b: ServiceBroker) {
			broker = b;
		},
		remoteAction(handler: Handler, action: ActionSchema & { name: string; cache?: CacheOptions | boolean; service?: { fullName: string } }): Handler {
			const cacher = broker.cacher;
			const opts = typeof action.cache === "object" ? action.cache : undefined;
			if (!(cacher instanceof ShopRedisCacher) || !opts?.near) return handler;
			// Bounded in entries and in bytes: keys by the cacher's maxParamsLength, answers by their JSON's length.
			const cache = (entries ??= new VersionedEntries(bounds));
			const service = serviceOf(action);
			const ttlMs = (opts.ttl ?? cacher.opts.ttl ?? 0) * 1000;
			return async function nearCache(ctx: Context): Promise<unknown> {
				const meta = ctx.meta as VersionedMeta;
				if (meta.$cache === false) return handler(ctx);
				const key = cacher.getCacheKey(action.name, ctx.params as object, ctx.meta, opts.keys ?? []);
				const read = await versionOf(meta, cacher.versions, service);
				const hit = cache.get(key, read);
				if (hit !== undefined) {
					ctx.cachedResult = true;
					return hit;
				}
				meta.$cacheVersion = { service, ...read };
				let value: unknown;
				try {
					value = await handler(ctx);
				} finally {
					// Not for the caller's later calls: they read again.
					delete meta.$cacheVersion;
				}
				if (value != null) cache.set(key, read, value, answerSize(value), ttlMs);
				return value;
			};
		},
	});
}
