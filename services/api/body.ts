import type { IncomingMessage, ServerResponse } from "http";
import bodyParser from "body-parser";
import { Errors } from "moleculer";
import { PROTOTYPE_ISSUE, parseOwnJson, validationError } from "../../lib/infra/validation";
import { rawBodyRoute } from "../../lib/contracts/routes";
import type { Meta } from "../../lib/contracts/types";

const { MoleculerClientError } = Errors;

export const BODY_LIMIT = "100kb";

/** The body as text: body-parser inflates gzip and deflate, decodes the charset and applies the limit after decoding. */
const readText = bodyParser.text({ type: () => true, limit: BODY_LIMIT, defaultCharset: "utf-8" });

interface BodyParserError {
	status?: number;
	type?: string;
}

/** body-parser's refusal as the contract's: 400, 413 or 415, with a type a client can act on. */
function bodyError(err: BodyParserError): Error {
	switch (err.status) {
		case 413:
			return new MoleculerClientError("Request body is larger than 100 kB", 413, "PAYLOAD_TOO_LARGE");
		case 415:
			return new MoleculerClientError("Content-Encoding must be identity, gzip or deflate, and the charset UTF-8", 415, "UNSUPPORTED_MEDIA_TYPE");
		default:
			if (err.type === "entity.parse.failed") return new MoleculerClientError("Malformed JSON body", 400, "INVALID_JSON");
			return new MoleculerClientError("The request body could not be read or decoded", 400, "UNREADABLE_BODY");
	}
}

/**
 * The REST route's body parser: JSON read by body-parser, parsed by
 * secure-json-parse, its errors in the contract's words. A key that would
 * reach an object's prototype is a 422 at any depth, before moleculer-web
 * merges the body into the params (its Object.assign would make a
 * `__proto__` key the params' prototype). moleculer-web's own parsers turn
 * a decoding error into a 500.
 */
export function jsonBody(req: RawReq, res: ServerResponse, next: (err?: Error) => void): void {
	if (rawBodyRoute(req.method, req.parsedUrl ?? "")) return rawBody(req, res, next);
	if (!hasBody(req)) return next();
	if (!isJson(req)) return next(new MoleculerClientError("A request body must be JSON (Content-Type: application/json)", 415, "UNSUPPORTED_MEDIA_TYPE"));
	if (!isUtfCharset(req)) return next(bodyError({ status: 415 }));
	readText(req, res, (err?: BodyParserError) => {
		if (err) return next(bodyError(err));
		try {
			req.body = parseObject(req.body as string);
			next();
		} catch (parseErr) {
			next(parseErr as Error);
		}
	});
}

type RawReq = IncomingMessage & { body?: unknown; parsedUrl?: string; $rawBody?: string };

/**
 * A raw-body route's body (lib/contracts/routes.ts): read as text with the
 * same limit and decoding, never parsed; the action gets it in its meta
 * (rawBodyToMeta), the params nothing of it.
 */
function rawBody(req: RawReq, res: ServerResponse, next: (err?: Error) => void): void {
	if (!hasBody(req)) {
		req.$rawBody = "";
		return next();
	}
	readText(req, res, (err?: BodyParserError) => {
		if (err) return next(bodyError(err));
		req.$rawBody = req.body as string;
		req.body = {};
		next();
	});
}

/** moleculer-web's onBeforeCall: a raw-body route's body reaches the action's meta (its headers come as every route's do: route-headers.ts). */
export function rawBodyToMeta(ctx: { meta: Meta }, _route: unknown, req: RawReq): void {
	if (rawBodyRoute(req.method, req.parsedUrl ?? "")?.rawBody) ctx.meta.rawBody = req.$rawBody ?? "";
}

/** A JSON object: malformed JSON or another value is a 400, a prototype key a 422. */
function parseObject(text: string): object {
	if (!/^[\s\uFEFF]*[{[]/.test(text)) throw bodyError({ type: "entity.parse.failed" });
	let body: unknown;
	try {
		body = parseOwnJson(text);
	} catch {
		// Only on the way out: was it the JSON, or a key secure-json-parse refused?
		throw isJsonText(text) ? validationError([PROTOTYPE_ISSUE]) : bodyError({ type: "entity.parse.failed" });
	}
	if (body === null || typeof body !== "object" || Array.isArray(body)) throw new MoleculerClientError("A JSON body must be an object", 400, "INVALID_BODY");
	return body;
}

function isJsonText(text: string): boolean {
	try {
		JSON.parse(text);
		return true;
	} catch {
		return false;
	}
}

/** body-parser's JSON rule: a charset, when given, is one of UTF's. */
function isUtfCharset(req: IncomingMessage): boolean {
	const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers["content-type"] ?? "")?.[1];
	return charset === undefined || charset.toLowerCase().startsWith("utf-");
}

/** A body is coming: a length above zero, or chunks. */
function hasBody(req: IncomingMessage): boolean {
	return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

function isJson(req: IncomingMessage): boolean {
	return /^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(req.headers["content-type"] ?? "");
}
