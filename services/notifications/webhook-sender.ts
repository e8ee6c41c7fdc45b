import http from "http";
import https from "https";
import net from "net";
import type { AddressGuard } from "./address-guard";

/**
 * One attempt to deliver a webhook: a POST with a deadline for the whole
 * exchange, at most `maxResponseBytes` of the answer read, redirects never
 * followed (a 3xx is a failure), and every address checked by the guard as
 * the connection is made.
 */

export interface SendLimits {
	timeoutMs: number;
	maxResponseBytes: number;
}

export interface AttemptResult {
	ok: boolean;
	/** The HTTP status, or null when none came. */
	status: number | null;
	latencyMs: number;
	error: string | null;
}

const ERROR_MAX = 300;

function statusProblem(status: number | null): string | null {
	if (status === null) return "no status";
	if (status >= 300 && status < 400) return `redirect (${status}) not followed`;
	return status >= 200 && status < 300 ? null : `HTTP ${status}`;
}

export class WebhookSender {
	private readonly active = new Set<() => void>();
	/** Kept-alive connections, each made through the guard's lookup (a connection is checked when it is made). */
	private readonly agents: { http: http.Agent; https: https.Agent };

	constructor(
		private readonly guard: AddressGuard,
		private readonly limits: SendLimits & { concurrency?: number },
	) {
		const options = { keepAlive: true, maxSockets: limits.concurrency ?? 4, lookup: guard.lookup };
		this.agents = { http: new http.Agent(options), https: new https.Agent(options) };
	}

	/** Closes the kept-alive connections. */
	close(): void {
		this.agents.http.destroy();
		this.agents.https.destroy();
	}

	/** Ends every attempt under way (a node stopping): each answers an error at once. */
	abortAll(): void {
		for (const abort of [...this.active]) abort();
	}

	async send(url: string, headers: Record<string, string>, body: string): Promise<AttemptResult> {
		const started = performance.now();
		const done = (status: number | null, error: string | null): AttemptResult => ({
			ok: error === null && status !== null && status >= 200 && status < 300,
			status,
			latencyMs: Math.round(performance.now() - started),
			error: error === null ? null : error.slice(0, ERROR_MAX),
		});
		let target: URL;
		try {
			target = new URL(url);
			// An address literal is never looked up: checked here instead.
			if (net.isIP(target.hostname.replace(/^\[|\]$/g, ""))) await this.guard.check(target.hostname);
		} catch (err) {
			return done(null, (err as Error).message);
		}
		return new Promise<AttemptResult>(resolve => {
			const secure = target.protocol === "https:";
			const client = secure ? https : http;
			let settled = false;
			/** `keep`: the answer was read to its end, so its connection may serve the next attempt. */
			const finish = (status: number | null, error: string | null, keep = false) => {
				if (settled) return;
				settled = true;
				this.active.delete(abort);
				clearTimeout(deadline);
				if (!keep) req.destroy();
				resolve(done(status, error));
			};
			const req = client.request(
				target,
				{
					method: "POST",
					headers: { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body), "user-agent": "shop-webhooks/1" },
					lookup: this.guard.lookup,
					agent: secure ? this.agents.https : this.agents.http,
				},
				res => {
					const status = res.statusCode ?? null;
					let read = 0;
					res.on("data", (chunk: Buffer) => {
						read += chunk.length;
						if (read >= this.limits.maxResponseBytes) finish(status, statusProblem(status));
					});
					res.on("end", () => finish(status, statusProblem(status), true));
					res.on("error", err => finish(status, err.message));
				},
			);
			const abort = () => finish(null, "aborted: the node is stopping");
			this.active.add(abort);
			const deadline = setTimeout(() => finish(null, `timed out after ${this.limits.timeoutMs} ms`), this.limits.timeoutMs);
			req.on("error", err => finish(null, err.message));
			req.end(body);
		});
	}
}
