import type { DbAdapter } from "../lib/db/adapter";
import { defineMixin, state } from "../lib/contracts/types";

/** `<service>.health`: answers when the service is up and its store is reachable. */
const HealthMixin = defineMixin({
	needs: state<{ adapter?: DbAdapter }>(),
	actions: {
		health: {
			visibility: "public",
			async handler() {
				// An indexed lookup: proves the store answers without scanning it.
				if (this.adapter) await this.adapter.findById("__health__");
				return { status: "ok", nodeID: this.broker.nodeID };
			},
		},
	},
});

export default HealthMixin;
