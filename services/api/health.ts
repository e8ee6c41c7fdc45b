import type { Context } from "moleculer";
import { keptFor } from "../../lib/infra/coalesce";
import type { Dependencies } from "../../lib/contracts/health-report";
import { dependencyStates } from "../../lib/infra/dependencies";
import { registryOf } from "../../lib/infra/registry";
import { type Meta, defineMixin, state } from "../../lib/contracts/types";
import { BACKEND_SERVICES, HEALTH_NAMES } from "../../lib/contracts/services";
import { RETRY_AFTER_S } from "./errors";

/** How long GET /api/health waits for each service (lib/contracts/health-report.ts's HEALTH_CALL_TIMEOUT_MS is the health file's, longer). */
const GATEWAY_HEALTH_TIMEOUT_MS = 1500;
/** How long the gateway answers health from its last report: monitors that ask often cost one fan-out a second. */
const HEALTH_REPORT_TTL_MS = 1000;

export interface HealthReport {
	status: "ok" | "degraded";
	services: Record<string, string>;
	dependencies: Dependencies;
}

/** GET /api/health: every service and dependency, from a report at most a second old, shared by the requests that arrive while it is made. */
const GatewayHealthMixin = defineMixin({
	// The gateway's rate-limit counters, which say whether their Redis answers.
	needs: state<{ counters: { ready?: boolean } }>(),
	state: state<{ healthReport: () => Promise<HealthReport> }>(),

	actions: {
		health: {
			async handler(ctx: Context<unknown, Meta>) {
				const report = await this.healthReport();
				if (report.status !== "ok") {
					ctx.meta.$statusCode = 503;
					ctx.meta.$responseHeaders = { "Retry-After": String(RETRY_AFTER_S) };
				}
				return report;
			},
		},
	},

	methods: {
		/** Each service's `health` and the dependencies, this node's Redis connections included (the rate-limit counters' too). */
		async checkHealth(): Promise<HealthReport> {
			const entries = await Promise.all(BACKEND_SERVICES.map(async service => [HEALTH_NAMES[service], (await this.isServiceUp(service)) ? "running" : "down"]));
			const services = Object.fromEntries(entries) as Record<string, string>;
			const dependencies = dependencyStates(this.broker);
			if (this.counters.ready === false) dependencies.cache = "down";
			const healthy = entries.every(([, state]) => state === "running") && !Object.values(dependencies).includes("down");
			return { status: healthy ? "ok" : "degraded", services, dependencies };
		},

		async isServiceUp(service: string): Promise<boolean> {
			if (!registryOf(this.broker).hasService(service)) return false;
			try {
				await this.broker.call(`${service}.health`, {}, { timeout: GATEWAY_HEALTH_TIMEOUT_MS, retries: 0 });
				return true;
			} catch {
				return false;
			}
		},
	},

	created() {
		this.healthReport = keptFor(HEALTH_REPORT_TTL_MS, () => this.checkHealth());
	},
});

export default GatewayHealthMixin;
