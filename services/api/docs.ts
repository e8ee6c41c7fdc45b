import crypto from "crypto";
import fs from "fs";
import type { IncomingMessage, ServerResponse } from "http";
import zlib from "zlib";
import type { OpenApiDocument } from "./openapi";

/**
 * `GET /api/openapi.json` and the page that renders it, `GET /api/docs`:
 * Swagger UI from swagger-ui-dist, served by the gateway itself (no CDN,
 * no outside network). The files are moleculer-web aliases of the
 * rate-limited REST route, so they count against the client's budget like
 * any public GET.
 */

interface DocFile {
	type: string;
	body: Buffer;
	etag: string;
	gzipped?: Buffer;
}

type AliasHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Swagger UI's files, by the path under /api they are served at. */
const VENDOR_FILES: Readonly<Record<string, string>> = {
	"/docs/swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
	"/docs/swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
	<meta charset="utf-8">
	<meta name="viewport" content="width=device-width, initial-scale=1">
	<title>Shop API</title>
	<link rel="icon" href="/favicon.svg" type="image/svg+xml">
	<link rel="stylesheet" href="/api/docs/swagger-ui.css">
</head>
<body>
	<div id="swagger-ui"></div>
	<script src="/api/docs/swagger-ui-bundle.js"></script>
	<script src="/api/docs/init.js"></script>
</body>
</html>
`;

// A file, not an inline script, so the page's CSP can forbid inline scripts. No online validator badge, no URL bar: nothing leaves the gateway.
const INIT_SCRIPT = `window.ui = SwaggerUIBundle({
	url: "/api/openapi.json",
	dom_id: "#swagger-ui",
	deepLinking: true,
	validatorUrl: null,
	presets: [SwaggerUIBundle.presets.apis],
	layout: "BaseLayout",
});
`;

/** Everything from this origin; Swagger UI draws its icons from data: URIs. */
const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

const HTML = "text/html; charset=utf-8";
const CSS = "text/css; charset=utf-8";
const JS = "text/javascript; charset=utf-8";

function docFile(type: string, body: Buffer): DocFile {
	return { type, body, etag: `"${crypto.createHash("sha1").update(body).digest("base64url")}"` };
}

let vendorFiles: Map<string, DocFile> | undefined;

/** Read once per process: they change only with the package. */
function loadVendorFiles(): Map<string, DocFile> {
	vendorFiles ??= new Map(Object.entries(VENDOR_FILES).map(([urlPath, module]) => [urlPath, docFile(module.endsWith(".css") ? CSS : JS, fs.readFileSync(require.resolve(module)))]));
	return vendorFiles;
}

/** The files of the documentation, by their path under /api. */
export function docFiles(document: OpenApiDocument): Map<string, DocFile> {
	return new Map([
		["/openapi.json", docFile("application/json; charset=utf-8", Buffer.from(JSON.stringify(document)))],
		["/docs", docFile(HTML, Buffer.from(PAGE))],
		["/docs/init.js", docFile(JS, Buffer.from(INIT_SCRIPT))],
		...loadVendorFiles(),
	]);
}

const acceptsGzip = (req: IncomingMessage) => /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));

function send(req: IncomingMessage, res: ServerResponse, file: DocFile): void {
	res.setHeader("ETag", file.etag);
	res.setHeader("Cache-Control", "no-cache");
	res.setHeader("X-Content-Type-Options", "nosniff");
	res.setHeader("Vary", "Accept-Encoding");
	if (file.type === HTML) res.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
	if (req.headers["if-none-match"] === file.etag) {
		res.writeHead(304);
		res.end();
		return;
	}
	let body = file.body;
	// Swagger UI's bundle is 1.7 MB, a third of that gzipped: compressed once, on first demand.
	if (acceptsGzip(req)) {
		body = file.gzipped ??= zlib.gzipSync(file.body);
		res.setHeader("Content-Encoding", "gzip");
	}
	res.setHeader("Content-Type", file.type);
	res.setHeader("Content-Length", body.length);
	res.writeHead(200);
	res.end(body);
}

/** moleculer-web aliases (`"GET /docs": handler`) serving the files of the route mounted at /api. */
export function docsAliases(files: ReadonlyMap<string, DocFile>): Record<string, AliasHandler> {
	return Object.fromEntries([...files].map(([urlPath, file]) => [`GET ${urlPath}`, (req: IncomingMessage, res: ServerResponse) => send(req, res, file)]));
}
