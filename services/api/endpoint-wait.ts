import type { IncomingMessage, ServerResponse } from "http";
import ApiGateway from "moleculer-web";
import { ENDPOINT_WAIT_MS, endpointFor, unserved } from "../../middlewares/endpoint-wait";
import { defineMixin } from "../../lib/contracts/types";

type AliasHandler = (this: unknown, req: IncomingMessage, res: ServerResponse, alias: { action?: string }) => Promise<unknown>;

/**
 * moleculer-web picks a route's node before anything it lets us hook runs,
 * and answers 503 when none serves the action: while a service's one node
 * is replaced (the dead one is out at once, lib/infra/amqp-transporter.ts),
 * a request waits for the new one as a call would (middlewares/endpoint-wait.ts).
 */
const EndpointWaitMixin = defineMixin({
	methods: {
		async aliasHandler(req: IncomingMessage, res: ServerResponse, alias: { action?: string }): Promise<unknown> {
			if (alias.action && unserved(this.broker, alias.action)) await endpointFor(this.broker, alias.action, ENDPOINT_WAIT_MS);
			// moleculer-web's typings leave its methods out.
			return (ApiGateway as unknown as { methods: { aliasHandler: AliasHandler } }).methods.aliasHandler.call(this, req, res, alias);
		},
	},
});

export default EndpointWaitMixin;
