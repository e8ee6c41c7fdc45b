import type { IncomingMessage, Server, ServerResponse } from "http";
import type { AddressInfo } from "net";
import type { ServiceBroker, ServiceSchema } from "moleculer";
import { createTestBroker } from "./broker";
import { withSettings, type ShopSettings } from "./gateway";

/** An error the gateway let escape while answering: in a real process, Node exits on it. */
export interface Crash {
	where: string;
	error: string;
}

/**
 * startInProcessShop (gateway.ts), with the gateway watched for errors that
 * escape its handlers: a request handler that rejects, or a Socket.IO error
 * answer that throws. Such an error is an unhandled rejection, which ends a
 * Node process; here it is recorded in `crashes` (the test that caused it
 * fails), and the request or call is cut off so the client does not hang.
 * Nothing else changes: every answer the gateway does send is its own.
 */
export async function startGuardedShop(services: string[], overrides: ShopSettings = {}): Promise<{ broker: ServiceBroker; url: string; crashes: Crash[]; stop(): Promise<void> }> {
	const crashes: Crash[] = [];
	const broker = createTestBroker();
	const settings = { ...overrides, gateway: { port: 0, ...overrides.gateway } };
	for (const name of services) {
		const schema = withSettings(((await import(`../../services/${name}.service`)) as { default: ServiceSchema }).default, settings);
		broker.createService(name === "api" ? guarded(schema, crashes) : schema);
	}
	await broker.start();
	const { port } = (broker.getLocalService("api") as any).server.address() as AddressInfo;
	return {
		broker,
		url: `http://127.0.0.1:${port}`,
		crashes,
		stop: () => broker.stop(),
	};
}

function message(err: unknown): string {
	return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** The gateway's schema with a last `created` hook: after moleculer-web made its server, before Socket.IO attaches to it. */
function guarded(schema: ServiceSchema, crashes: Crash[]): ServiceSchema {
	return {
		name: schema.name,
		mixins: [schema],
		created(this: any) {
			const server: Server = this.server;
			const handlers = server.listeners("request") as Array<(req: IncomingMessage, res: ServerResponse) => unknown>;
			server.removeAllListeners("request");
			for (const handler of handlers) {
				server.on("request", (req: IncomingMessage, res: ServerResponse) => {
					const cut = (err: unknown) => {
						crashes.push({ where: `${req.method} ${req.url?.slice(0, 120)}`, error: message(err) });
						res.destroy();
					};
					try {
						Promise.resolve(handler.call(server, req, res)).catch(cut);
					} catch (err) {
						cut(err);
					}
				});
			}
			const socketOnError = this.socketOnError;
			this.socketOnError = function (this: unknown, err: unknown, respond: (e: unknown) => void) {
				try {
					return socketOnError.call(this, err, respond);
				} catch (thrown) {
					crashes.push({ where: "Socket.IO call error answer", error: message(thrown) });
					respond({ name: "UncaughtInGateway", message: `the gateway threw while answering: ${message(thrown)}`, code: 0 });
				}
			};
		},
	};
}
