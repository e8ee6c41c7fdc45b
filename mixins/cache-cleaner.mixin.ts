import type { Context, Service, ServiceSchema } from "moleculer";
import { coalesced } from "../lib/coalesce";

/**
 * Writes broadcast `cache.clean.<service>` (moleculer-db's clearCache); each
 * node clears its own cached answers of a service when that service or one
 * it depends on changes, so a node with its own memory cache stays fresh
 * too. The writer cleaned its own keys before it answered. Broadcasts that
 * arrive while a clean runs share the next one (lib/coalesce.ts).
 */
export function cacheCleanEvents(entities: string[]): NonNullable<ServiceSchema["events"]> {
	const events: NonNullable<ServiceSchema["events"]> = {};
	const cleans = new WeakMap<Service, () => Promise<void>>();
	const cleanOf = (svc: Service) => {
		let clean = cleans.get(svc);
		if (!clean) cleans.set(svc, (clean = coalesced(async () => void (await svc.broker.cacher?.clean(`${svc.fullName}.**`)))));
		return clean;
	};
	for (const entity of entities) {
		events[`cache.clean.${entity}`] = {
			async handler(this: Service, ctx: Context) {
				if (entity === this.fullName && ctx.nodeID === this.broker.nodeID) return;
				await cleanOf(this)();
			},
		};
	}
	return events;
}

/** Clears this service's cached actions when any of the named services writes. */
export default function CacheCleanerMixin(entities: string[]): Partial<ServiceSchema> {
	return { events: cacheCleanEvents(entities) };
}
