import fs from "fs";
import type { IncomingMessage, ServerResponse } from "http";
import { sendStaticFile, staticFile, type StaticFile } from "../../lib/infra/static-files";
import type { OpenApiDocument } from "./openapi";

/**
 * `GET /api/openapi.json` and the page that renders it, `GET /api/docs`:
 * Swagger UI from swagger-ui-dist, served by the gateway itself (no CDN,
 * no outside network). The files are moleculer-web aliases of the
 * rate-limited REST route, so they count against the client's budget like
 * any public GET.
 */

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

const HTML = "text/html; charset=utf-8";
const CSS = "text/css; charset=utf-8";
const JS = "text/javascript; charset=utf-8";

let vendorFiles: Map<string, StaticFile> | undefined;

/** Read once per process: they change only with the package. */
function loadVendorFiles(): Map<string, StaticFile> {
	vendorFiles ??= new Map(Object.entries(VENDOR_FILES).map(([urlPath, module]) => [urlPath, staticFile(module.endsWith(".css") ? CSS : JS, fs.readFileSync(require.resolve(module)))]));
	return vendorFiles;
}

/** The files of the documentation, by their path under /api. */
export function docFiles(document: OpenApiDocument): Map<string, StaticFile> {
	return new Map([
		["/openapi.json", staticFile("application/json; charset=utf-8", Buffer.from(JSON.stringify(document)))],
		["/docs", staticFile(HTML, Buffer.from(PAGE))],
		["/docs/init.js", staticFile(JS, Buffer.from(INIT_SCRIPT))],
		...loadVendorFiles(),
	]);
}

/** moleculer-web aliases (`"GET /docs": handler`) serving the files of the route mounted at /api (gzipped for clients that accept it: Swagger UI's bundle is 1.7 MB, a third of that gzipped). */
export function docsAliases(files: ReadonlyMap<string, StaticFile>): Record<string, AliasHandler> {
	return Object.fromEntries([...files].map(([urlPath, file]) => [`GET ${urlPath}`, (req: IncomingMessage, res: ServerResponse) => sendStaticFile(req, res, file, { gzip: true })]));
}
