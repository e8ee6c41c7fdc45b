import type { ServiceSchema } from "moleculer";
import type { DbAdapter } from "../lib/db/adapter";
import { defineMixin, type ServiceBase } from "../lib/contracts/types";

/** `<service>.health`: answers when the service is up and its store is reachable. */
const HealthMixin: Partial<ServiceSchema> = defineMixin<object, ServiceBase<object> & { adapter?: DbAdapter }>({
	actions: {
		health: {
			visibility: "public",
			async handler(this: ServiceBase<object> & { adapter?: DbAdapter }) {
				// An indexed lookup: proves the store answers without scanning it.
				if (this.adapter) await this.adapter.findById("__health__");
				return { status: "ok", nodeID: this.broker.nodeID };
			},
		},
	},
});

export default HealthMixin;
