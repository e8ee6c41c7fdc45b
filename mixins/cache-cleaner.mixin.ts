import type { Context, Service, ServiceSchema } from "moleculer";

/**
 * Writes broadcast `cache.clean.<service>` (moleculer-db's clearCache); each
 * node clears its own cached answers of a service when that service or one
 * it depends on changes, so a node with its own memory cache stays fresh
 * too. The writer cleaned its own keys before it answered.
 */
export function cacheCleanEvents(entities: string[]): NonNullable<ServiceSchema["events"]> {
	const events: NonNullable<ServiceSchema["events"]> = {};
	for (const entity of entities) {
		events[`cache.clean.${entity}`] = {
			async handler(this: Service, ctx: Context) {
				if (entity === this.fullName && ctx.nodeID === this.broker.nodeID) return;
				await this.broker.cacher?.clean(`${this.fullName}.**`);
			},
		};
	}
	return events;
}

/** Clears this service's cached actions when any of the named services writes. */
export default function CacheCleanerMixin(entities: string[]): Partial<ServiceSchema> {
	return { events: cacheCleanEvents(entities) };
}
