import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "http";
import type { Duplex } from "stream";
import { RateLimitedError } from "../../lib/contracts/errors";
import type { RateBudget, RateStanding } from "./rate-budget";
import { RETRY_AFTER_S, errorBody, statusOf } from "./errors";

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;
type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface GateOptions {
	budget: RateBudget;
	/** The client a request counts against. */
	clientOf: (req: IncomingMessage) => string;
	/** Answers a refused request: 429, or 503 while the counters cannot be reached. */
	refuse: (req: IncomingMessage, res: ServerResponse, err: Error) => void;
}

/**
 * Let through uncounted when the counters cannot be reached: health says the
 * gateway is degraded, rather than every container's health check failing
 * during a Redis outage.
 */
const FAILS_OPEN = new Set(["/api/health"]);

/** Let through (with where the client stands, when it was counted), or refused with this error. */
type Admission = { standing?: RateStanding; refusal?: Error };

/**
 * Every request and upgrade the gateway's HTTP server receives spends from
 * its client's budget before anything else sees it: REST, the operations
 * page and its files, Socket.IO's client file, its polling requests and its
 * WebSocket upgrades alike, whoever answers them (moleculer-web, Socket.IO
 * and Engine.IO each wrap the server's listeners). Installed once they all
 * have: it wraps every listener there is, so none is reached past it.
 */
export function gateEveryRequest(server: Server, options: GateOptions): void {
	const onRequest = server.listeners("request") as RequestListener[];
	const onUpgrade = server.listeners("upgrade") as UpgradeListener[];
	server.removeAllListeners("request");
	server.removeAllListeners("upgrade");

	server.on("request", (req: IncomingMessage, res: ServerResponse) => {
		void admit(req, options).then(({ standing, refusal }) => {
			if (standing) for (const [name, value] of Object.entries(rateHeaders(standing))) res.setHeader(name, value);
			if (refusal) options.refuse(req, res, refusal);
			else for (const listener of onRequest) listener.call(server, req, res);
		});
	});

	server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
		// Node leaves an upgraded socket without an error listener: a reset while it waits for its count must not end the process.
		const ignore = () => undefined;
		socket.on("error", ignore);
		void admit(req, options).then(({ standing, refusal }) => {
			socket.off("error", ignore);
			if (refusal) refuseUpgrade(socket, refusal, standing);
			else for (const listener of onUpgrade) listener.call(server, req, socket, head);
		});
	});
}

async function admit(req: IncomingMessage, { budget, clientOf }: GateOptions): Promise<Admission> {
	try {
		const standing = await budget.take(clientOf(req));
		return { standing, refusal: standing.remaining < 0 ? new RateLimitedError() : undefined };
	} catch (err) {
		return FAILS_OPEN.has(pathOf(req)) ? {} : { refusal: err as Error };
	}
}

/** The request's path, as moleculer-web matches it (no query, no trailing slash). */
function pathOf(req: IncomingMessage): string {
	const path = (req.url ?? "").split("?")[0];
	return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

function rateHeaders({ limit, remaining, resetTime }: RateStanding): Record<string, string> {
	return { "X-Rate-Limit-Limit": String(limit), "X-Rate-Limit-Remaining": String(Math.max(0, remaining)), "X-Rate-Limit-Reset": String(resetTime) };
}

/** A WebSocket upgrade has no ServerResponse: the refusal is written on its socket, in the contract's error shape. */
function refuseUpgrade(socket: Duplex, err: Error, standing: RateStanding | undefined): void {
	const status = statusOf(err);
	const body = JSON.stringify(errorBody(err));
	const headers = {
		...(standing ? rateHeaders(standing) : {}),
		...(status === 503 ? { "Retry-After": String(RETRY_AFTER_S) } : {}),
		"Content-Type": "application/json; charset=utf-8",
		"Content-Length": String(Buffer.byteLength(body)),
		Connection: "close",
	};
	const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
	if (socket.writable) socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head.join("")}\r\n${body}`);
	else socket.destroy();
}
