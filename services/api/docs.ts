import type { IncomingMessage, ServerResponse } from "http";
import { fileOnDisk, findUp, sendStaticFile, staticFile, type StaticFile } from "../../lib/infra/static-files";
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

/**
 * The page and its start script, markup and script files in public/api-docs/
 * (the operations page's route leaves that folder out). The script is a file,
 * not inline, so the page's CSP can forbid inline scripts; it sets no online
 * validator badge and no URL bar: nothing leaves the gateway.
 */
const PAGE_FILES: Readonly<Record<string, string>> = {
	"/docs": "api-docs/index.html",
	"/docs/init.js": "api-docs/init.js",
};

let fixedFiles: Map<string, StaticFile> | undefined;

/** Read once per process: they change only with the package and the page. */
function loadFixedFiles(): Map<string, StaticFile> {
	if (fixedFiles) return fixedFiles;
	const page = Object.entries(PAGE_FILES).map(([urlPath, file]) => [urlPath, findUp(`public/${file}`)]);
	const vendor = Object.entries(VENDOR_FILES).map(([urlPath, module]) => [urlPath, require.resolve(module)]);
	fixedFiles = new Map([...page, ...vendor].map(([urlPath, file]) => [urlPath, fileOnDisk(file)]));
	return fixedFiles;
}

/** The files of the documentation, by their path under /api. */
export function docFiles(document: OpenApiDocument): Map<string, StaticFile> {
	return new Map([["/openapi.json", staticFile("application/json; charset=utf-8", Buffer.from(JSON.stringify(document)))], ...loadFixedFiles()]);
}

/** moleculer-web aliases (`"GET /docs": handler`) serving the files of the route mounted at /api (gzipped for clients that accept it: Swagger UI's bundle is 1.7 MB, a third of that gzipped). */
export function docsAliases(files: ReadonlyMap<string, StaticFile>): Record<string, AliasHandler> {
	return Object.fromEntries([...files].map(([urlPath, file]) => [`GET ${urlPath}`, (req: IncomingMessage, res: ServerResponse) => sendStaticFile(req, res, file, { gzip: true })]));
}
