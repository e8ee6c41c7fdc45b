import type { IncomingMessage } from "http";

/** The client a request counts against: the socket's address, or what the trusted proxies say. */
export function clientAddress(req: IncomingMessage, trustProxyHops: number): string {
	if (trustProxyHops > 0) {
		const forwarded = req.headers["x-forwarded-for"];
		const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim();
		if (first) return first;
	}
	return req.socket.remoteAddress || "unknown";
}
