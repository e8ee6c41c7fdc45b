import type { Context, Service, ServiceSchema } from "moleculer";

/**
 * Clears this service's cached actions when any of the named entities
 * changes on any node. moleculer-db broadcasts `cache.clean.<service>` on
 * every write, so a node with its own memory cache stays fresh too.
 */
export default function CacheCleanerMixin(entities: string[]): Partial<ServiceSchema> {
	const events: ServiceSchema["events"] = {};
	for (const entity of entities) {
		events[`cache.clean.${entity}`] = {
			async handler(this: Service, ctx: Context) {
				// The writer cleaned its own keys before it answered.
				if (entity === this.fullName && ctx.nodeID === this.broker.nodeID) return;
				await this.broker.cacher?.clean(`${this.fullName}.**`);
			},
		};
	}
	return { events };
}
