import crypto from "crypto";
import fs from "fs";
import type { IncomingMessage, ServerResponse } from "http";
import path from "path";
import zlib from "zlib";

/**
 * Files the gateway serves itself (the operations page, the API
 * documentation): held in memory, read once, each with its ETag.
 */
export interface StaticFile {
	type: string;
	body: Buffer;
	etag: string;
	/** Compressed on first demand, when the file is served with `gzip`. */
	gzipped?: Buffer;
}

/**
 * Everything from this origin (Socket.IO's WebSocket included); icons may be
 * data: URIs; images also from `imageOrigins` (IMAGE_ORIGINS: product images
 * on a CDN).
 */
export function contentSecurityPolicy(imageOrigins: readonly string[] = []): string {
	const images = ["'self'", "data:", ...imageOrigins].join(" ");
	return `default-src 'self'; img-src ${images}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'`;
}

export const CONTENT_SECURITY_POLICY = contentSecurityPolicy();

/**
 * `relative` in the nearest folder above this file that holds it (public/
 * at the project's root): the same answer from lib/infra/ (ts-jest, tsx) and
 * from dist/lib/infra/ (the compiled build).
 */
export function findUp(relative: string): string {
	for (let dir = __dirname; ; dir = path.dirname(dir)) {
		if (fs.existsSync(path.join(dir, relative))) return path.join(dir, relative);
		if (path.dirname(dir) === dir) throw new Error(`No ${relative} in any folder above ${__dirname}`);
	}
}

export function staticFile(type: string, body: Buffer): StaticFile {
	return { type, body, etag: `"${crypto.createHash("sha1").update(body).digest("base64url")}"` };
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
	".html": "text/html; charset=utf-8",
	".js": "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
	".png": "image/png",
	".ico": "image/x-icon",
};

/** A file read from disk, its type by its extension. */
export function fileOnDisk(file: string): StaticFile {
	return staticFile(CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream", fs.readFileSync(file));
}

const acceptsGzip = (req: IncomingMessage) => /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));

/** Revalidated on each use (no-cache, 304 on a matching ETag); an HTML page gets the CSP; with `gzip`, compressed for clients that accept it. */
export function sendStaticFile(req: IncomingMessage, res: ServerResponse, file: StaticFile, { gzip = false, csp = CONTENT_SECURITY_POLICY } = {}): void {
	res.setHeader("ETag", file.etag);
	res.setHeader("Cache-Control", "no-cache");
	res.setHeader("X-Content-Type-Options", "nosniff");
	if (gzip) res.setHeader("Vary", "Accept-Encoding");
	if (file.type.startsWith("text/html")) res.setHeader("Content-Security-Policy", csp);
	if (req.headers["if-none-match"] === file.etag) {
		res.writeHead(304);
		res.end();
		return;
	}
	let body = file.body;
	if (gzip && acceptsGzip(req)) {
		body = file.gzipped ??= zlib.gzipSync(file.body);
		res.setHeader("Content-Encoding", "gzip");
	}
	res.setHeader("Content-Type", file.type);
	res.setHeader("Content-Length", body.length);
	res.writeHead(200);
	res.end(req.method === "HEAD" ? undefined : body);
}
