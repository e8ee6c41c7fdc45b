import type { AddressInfo } from "net";
import type { ServiceBroker } from "moleculer";
import { createTestBroker } from "./broker";

/**
 * An in-process broker running the named services, the gateway among them on
 * an ephemeral port. `env` is set before the services' modules load (their
 * settings read it) and removed when `stop` is called.
 */
export async function startInProcessShop(services: string[], env: Record<string, string> = {}): Promise<{ broker: ServiceBroker; url: string; stop(): Promise<void> }> {
	Object.assign(process.env, { PORT: "0", ...env });
	jest.resetModules();
	const broker = createTestBroker();
	for (const name of services) broker.createService((await import(`../../services/${name}.service`)).default);
	await broker.start();
	const { port } = (broker.getLocalService("api") as any).server.address() as AddressInfo;
	return {
		broker,
		url: `http://127.0.0.1:${port}`,
		stop: async () => {
			await broker.stop();
			for (const k of ["PORT", ...Object.keys(env)]) delete process.env[k];
		},
	};
}
