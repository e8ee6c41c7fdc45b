export type DependencyState = "up" | "down" | "none";

export interface Dependencies {
	transporter: DependencyState;
	cache: DependencyState;
}

/**
 * A node's health report: written to HEALTH_FILE by the node itself
 * (middlewares/health-file.ts) and read by a container's HEALTHCHECK
 * (bin/healthcheck.ts), so that the check asks the running node, not a
 * process of its own that would prove only that Node.js starts.
 */
export interface HealthReport {
	/** When the checks below finished, in ms since the epoch. */
	at: number;
	nodeID: string;
	pid: number;
	/** Each local service's `health` action (the service is up and its store answers): "ok", or why it failed. The gateway is checked over HTTP. */
	services: Record<string, string>;
	/** RabbitMQ and Redis as the node sees them. */
	dependencies: Dependencies;
}

/** How often a started node checks itself and writes its report. */
export const HEALTH_REPORT_INTERVAL_MS = 5_000;
/** A report older than this means the node is stuck: its event loop, or a check, hangs. */
export const HEALTH_REPORT_MAX_AGE_MS = 30_000;
/** A local `health` call that takes longer fails (a store that does not answer). */
export const HEALTH_CALL_TIMEOUT_MS = 3_000;

/** Why the report says the node is not healthy; none when it is. A Redis outage only degrades (503 where Redis is needed), so it is reported, not judged. */
export function reportProblems(report: HealthReport, now: number): string[] {
	const problems: string[] = [];
	const age = now - report.at;
	if (age > HEALTH_REPORT_MAX_AGE_MS) problems.push(`its last health report is ${Math.round(age / 1000)} s old (node stuck)`);
	for (const [service, state] of Object.entries(report.services)) if (state !== "ok") problems.push(`${service}.health failed: ${state}`);
	if (report.dependencies.transporter === "down") problems.push("the transporter is disconnected");
	return problems;
}
