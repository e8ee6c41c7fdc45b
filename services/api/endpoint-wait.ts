import type { IncomingMessage, ServerResponse } from "http";
import ApiGateway from "moleculer-web";
import type { Service, ServiceSchema } from "moleculer";
import { ENDPOINT_WAIT_MS, endpointFor, unserved } from "../../middlewares/endpoint-wait";

type AliasHandler = (this: Service, req: IncomingMessage, res: ServerResponse, alias: { action?: string }) => Promise<unknown>;

/**
 * moleculer-web picks a route's node before anything it lets us hook runs,
 * and answers 503 when none serves the action: while a service's one node
 * is replaced (the dead one is out at once, lib/infra/amqp-transporter.ts),
 * a request waits for the new one as a call would (middlewares/endpoint-wait.ts).
 */
const EndpointWaitMixin: Partial<ServiceSchema> = {
	methods: {
		async aliasHandler(this: Service, req: IncomingMessage, res: ServerResponse, alias: { action?: string }) {
			if (alias.action && unserved(this.broker, alias.action)) await endpointFor(this.broker, alias.action, ENDPOINT_WAIT_MS);
			return (ApiGateway as unknown as { methods: { aliasHandler: AliasHandler } }).methods.aliasHandler.call(this, req, res, alias);
		},
	},
};

export default EndpointWaitMixin;
