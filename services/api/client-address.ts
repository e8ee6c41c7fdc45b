import type { IncomingMessage } from "http";
import proxyaddr from "proxy-addr";

/**
 * The client a request counts against: the socket's address, or, behind
 * `trustProxyHops` proxies the operator runs, the address the outermost
 * trusted proxy appended to X-Forwarded-For (never the leftmost entry, which
 * the client writes itself).
 */
export function clientAddress(req: IncomingMessage, trustProxyHops: number): string {
	if (trustProxyHops <= 0) return req.socket.remoteAddress || "unknown";
	return proxyaddr(req, (_addr, hop) => hop < trustProxyHops) || "unknown";
}
