/**
 * A container's HEALTHCHECK (the Dockerfile runs it every few seconds):
 * exit 0 when the node in this container is healthy, 1 otherwise, with one
 * line saying why (Docker keeps it: `docker inspect`). It asks the running
 * node, with the node's own settings (the container's environment, `.env`
 * in the working directory under it, as the runner reads them):
 * - its health report (HEALTH_FILE, middlewares/health-file.ts): the broker
 *   has started, is not stuck, each local service's store answers, and the
 *   transporter is connected;
 * - on a gateway node, `GET /api/health` on its own port: the gateway
 *   answers. A `503 degraded` answer (another service or Redis away) is
 *   still a gateway that serves, so the load balancer keeps it; the body
 *   says what is missing.
 */
import fs from "fs";
import { reportProblems, type HealthReport } from "../lib/contracts/health-report";
import { loadDotEnv } from "./lib/processes";
import type * as SettingsModule from "../lib/infra/settings";

const HTTP_TIMEOUT_MS = 4_000;

function readReport(file: string): HealthReport | string {
	try {
		return JSON.parse(fs.readFileSync(file, "utf8")) as HealthReport;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === "ENOENT"
			? `no health report at ${file}: the node has not started, or is stopping`
			: `unreadable health report at ${file}: ${(err as Error).message}`;
	}
}

/** A problem, or undefined when the gateway answers; `notes` receives what a healthy gateway reports missing. */
async function gatewayProblem(host: string, port: number, notes: string[]): Promise<string | undefined> {
	const address = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
	const url = `http://${address.includes(":") ? `[${address}]` : address}:${port}/api/health`;
	try {
		const res = await fetch(url, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
		const body = (await res.json().catch(() => undefined)) as { status?: string } | undefined;
		if (res.status === 200 && body?.status === "ok") return undefined;
		if (res.status === 503 && body?.status === "degraded") {
			notes.push(`the gateway answers; the cluster is degraded: ${JSON.stringify(body)}`);
			return undefined;
		}
		return `${url} answered ${res.status} ${JSON.stringify(body)}`;
	} catch (err) {
		return `${url} does not answer: ${(err as Error).message}`;
	}
}

async function main(): Promise<{ problems: string[]; notes: string[] }> {
	loadDotEnv();
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const { settings } = require("../lib/infra/settings") as typeof SettingsModule;
	const problems: string[] = [];
	const notes: string[] = [];
	if (!settings.healthFile) problems.push("HEALTH_FILE is not set: the node writes no health report");
	else {
		const report = readReport(settings.healthFile);
		if (typeof report === "string") problems.push(report);
		else problems.push(...reportProblems(report, Date.now()));
	}
	if (settings.services.includes("api")) {
		const problem = await gatewayProblem(settings.gateway.host, settings.gateway.port, notes);
		if (problem) problems.push(problem);
	}
	return { problems, notes };
}

main().then(
	({ problems, notes }) => {
		if (problems.length === 0) console.log(["healthy", ...notes].join("; "));
		else console.log(`unhealthy: ${[...problems, ...notes].join("; ")}`);
		process.exitCode = problems.length === 0 ? 0 : 1;
	},
	(err: Error) => {
		console.log(`unhealthy: ${err.message}`);
		process.exitCode = 1;
	},
);
