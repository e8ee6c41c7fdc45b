import type { IncomingMessage, ServerResponse } from "http";
import ApiGateway from "moleculer-web";
import type { ServiceBroker } from "moleculer";
import { ENDPOINT_WAIT_MS, endpointFor, unserved } from "../../middlewares/endpoint-wait";
import { defineMixin } from "../../lib/contracts/types";

/** Every door's wait for a node of the action it is about to call (REST's aliases, Socket.IO's `call`). */
export async function waitForEndpoint(broker: ServiceBroker, action: string): Promise<void> {
	if (unserved(broker, action)) await endpointFor(broker, action, ENDPOINT_WAIT_MS);
}

type AliasHandler = (this: unknown, req: IncomingMessage, res: ServerResponse, alias: { action?: string }) => Promise<unknown>;

/**
 * moleculer-web picks a route's node before anything it lets us hook runs,
 * and answers 503 when none serves the action: while a service's one node
 * is replaced (the dead one is out at once, lib/infra/amqp-transporter.ts),
 * a request waits for the new one as a call would (middlewares/endpoint-wait.ts).
 * moleculer-io picks its node first too: its `call` waits the same way (api.service.ts).
 */
const EndpointWaitMixin = defineMixin({
	methods: {
		async aliasHandler(req: IncomingMessage, res: ServerResponse, alias: { action?: string }): Promise<unknown> {
			if (alias.action) await waitForEndpoint(this.broker, alias.action);
			// moleculer-web's typings leave its methods out.
			return (ApiGateway as unknown as { methods: { aliasHandler: AliasHandler } }).methods.aliasHandler.call(this, req, res, alias);
		},
	},
});

export default EndpointWaitMixin;
