import fs from "fs";
import { defineMiddleware } from "../lib/contracts/schema";
import type { Middleware, ServiceBroker } from "moleculer";
import { dependencyStates } from "../lib/infra/dependencies";
import { replaceFile } from "../lib/infra/local-files";
import { HEALTH_CALL_TIMEOUT_MS, HEALTH_REPORT_INTERVAL_MS, type HealthReport } from "../lib/contracts/health-report";

/**
 * HEALTH_FILE: once the broker has started, the node calls each of its local
 * services' `health` actions (not the gateway's, which asks the whole
 * cluster, nor Moleculer's internal `$node`) and writes what it found, with the time, to the file; then again
 * every `intervalMs` after the last check finished. No file before the
 * node has started or once it is stopping; a stale one when it hangs. A
 * container's HEALTHCHECK reads it (bin/healthcheck.ts).
 */
export function HealthFileMiddleware(file: string, intervalMs = HEALTH_REPORT_INTERVAL_MS): Middleware {
	let timer: NodeJS.Timeout | undefined;
	let running = false;

	const remove = () => fs.rmSync(file, { force: true });

	async function serviceState(broker: ServiceBroker, service: string): Promise<string> {
		try {
			await broker.call(`${service}.health`, {}, { nodeID: broker.nodeID, timeout: HEALTH_CALL_TIMEOUT_MS, retries: 0 });
			return "ok";
		} catch (err) {
			return (err as Error).message || String(err);
		}
	}

	async function check(broker: ServiceBroker): Promise<void> {
		const checked = broker.services.filter(svc => svc.name !== "api" && !svc.name.startsWith("$") && svc.actions?.health);
		const services: Record<string, string> = Object.fromEntries(await Promise.all(checked.map(async svc => [svc.name, await serviceState(broker, svc.name)] as const)));
		if (!running) return;
		const report: HealthReport = { at: Date.now(), nodeID: broker.nodeID, pid: process.pid, services, dependencies: dependencyStates(broker) };
		// Written whole beside it, then renamed: the check never reads half a report.
		replaceFile(file, JSON.stringify(report));
	}

	return defineMiddleware({
		name: "HealthFile",
		created() {
			// A report left by an earlier run (a restarted container keeps /tmp) says nothing about this one.
			remove();
		},
		started(broker: ServiceBroker) {
			running = true;
			const loop = () => {
				check(broker)
					.catch((err: Error) => broker.logger.warn(`Could not write the health report to ${file}:`, err.message))
					.finally(() => {
						if (running) timer = setTimeout(loop, intervalMs).unref();
					});
			};
			loop();
		},
		stopping() {
			running = false;
			clearTimeout(timer);
			remove();
		},
	});
}
