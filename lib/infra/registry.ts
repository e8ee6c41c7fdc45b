import type { ServiceBroker } from "moleculer";

/** The lookups of Moleculer's service registry this project uses. */
export interface RegistryLookups {
	hasService(name: string): boolean;
	/** Every node the registry knows, offline ones too. */
	nodes: { get(id: string): unknown };
	getActionEndpoints(name: string): { hasAvailable(): boolean; hasLocal(): boolean } | undefined;
}

/** The broker's registry, its lookups typed. */
export function registryOf(broker: ServiceBroker): RegistryLookups {
	// Moleculer's typings leave hasService and getActionEndpoints out of ServiceRegistry, and type its nodes as any.
	return broker.registry as unknown as RegistryLookups;
}
