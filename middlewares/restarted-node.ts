import { defineMiddleware } from "../lib/contracts/schema";
import type { Middleware, ServiceBroker } from "moleculer";

interface NodeUpdated {
	node?: { local: boolean; lastHeartbeatTime: number };
}

/**
 * A node killed without a word (SIGKILL, a crashed container) and started
 * again under the same node ID before the others noticed announces its new
 * instance with an INFO. Moleculer registers the new instance's services
 * but keeps the dead instance's last heartbeat time, so the next heartbeat
 * check can drop the new instance as the dead one, until its next
 * heartbeat: calls meant for it answer 503 meanwhile. An INFO is a sign of
 * life, so it counts as a heartbeat.
 */
export function RestartedNodeMiddleware(): Middleware {
	return defineMiddleware({
		name: "RestartedNode",
		created(broker: ServiceBroker) {
			broker.localBus.on("$node.updated", (payload?: NodeUpdated) => {
				if (payload?.node && !payload.node.local) payload.node.lastHeartbeatTime = Math.round(process.uptime());
			});
		},
	});
}
