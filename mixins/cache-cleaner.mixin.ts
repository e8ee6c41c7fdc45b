import type { Context, Service, ServiceSchema } from "moleculer";

/** What a service whose caches follow other services' writes offers the clean events (the db mixin does). */
export interface DependencyCleaning {
	/** Clears this node's cached answers of the service (shared between concurrent callers). */
	cleanAfterDependency(): Promise<void>;
}

/**
 * Writes broadcast `cache.clean.<service>` (the db mixin's clearCache); each
 * node clears its own cached answers of a service when that service or one
 * it depends on changes, so a node with its own memory cache stays fresh
 * too. The writer cleaned its own keys before it answered.
 */
export function cacheCleanEvents(entities: string[]): NonNullable<ServiceSchema["events"]> {
	const events: NonNullable<ServiceSchema["events"]> = {};
	for (const entity of entities) {
		events[`cache.clean.${entity}`] = {
			async handler(this: Service & DependencyCleaning, ctx: Context) {
				if (entity === this.fullName && ctx.nodeID === this.broker.nodeID) return;
				await this.cleanAfterDependency();
			},
		};
	}
	return events;
}
