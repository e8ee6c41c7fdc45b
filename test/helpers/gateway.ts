import type { AddressInfo } from "net";
import type { ServiceBroker, ServiceSchema } from "moleculer";
import type { AdminSettings, AuthSettings, GatewaySettings, NotificationSettings, PaymentsSettings, SettlementSettings, StorageSettings } from "../../lib/infra/settings";
import { createTestBroker } from "./broker";

/** Settings a test gives the services, over those of the test process (see setup-env.ts). */
export interface ShopSettings {
	gateway?: Partial<Omit<GatewaySettings, "rateLimit">> & { rateLimit?: Partial<GatewaySettings["rateLimit"]> };
	admin?: Partial<AdminSettings>;
	auth?: Partial<AuthSettings>;
	settlement?: Partial<SettlementSettings>;
	storage?: Partial<StorageSettings>;
	payments?: Partial<PaymentsSettings>;
	notifications?: Partial<NotificationSettings>;
}

/** A service schema with other settings mixed in: the way a test changes a setting. */
export function withSettings(schema: ServiceSchema, overrides: object): ServiceSchema {
	return { name: schema.name, mixins: [schema], settings: overrides };
}

/**
 * An in-process broker running the named services, the gateway among them on
 * an ephemeral port.
 */
export async function startInProcessShop(services: string[], overrides: ShopSettings = {}): Promise<{ broker: ServiceBroker; url: string; stop(): Promise<void> }> {
	const broker = createTestBroker();
	const settings = { ...overrides, gateway: { port: 0, ...overrides.gateway } };
	for (const name of services) {
		const schema = ((await import(`../../services/${name}.service`)) as { default: ServiceSchema }).default;
		broker.createService(withSettings(schema, settings));
	}
	await broker.start();
	const { port } = (broker.getLocalService("api") as unknown as { server: { address(): AddressInfo } }).server.address();
	return { broker, url: `http://127.0.0.1:${port}`, stop: () => broker.stop() };
}
