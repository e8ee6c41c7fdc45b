import type { IncomingMessage, ServerResponse } from "http";
import bodyParser from "body-parser";
import { Errors } from "moleculer";
import { exceedsDepth, MAX_DEPTH } from "../../lib/validation";

const { MoleculerClientError } = Errors;

export const BODY_LIMIT = "100kb";

const parseJson = bodyParser.json({ strict: true, limit: BODY_LIMIT });

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
 * The REST route's body parser: JSON (body-parser, which inflates gzip and
 * deflate and applies the limit after decoding), its errors in the
 * contract's words. moleculer-web's own parsers turn a decoding error into
 * a 500.
 */
export function jsonBody(req: IncomingMessage & { body?: unknown }, res: ServerResponse, next: (err?: Error) => void): void {
	if (hasBody(req) && !isJson(req)) {
		next(new MoleculerClientError("A request body must be JSON (Content-Type: application/json)", 415, "UNSUPPORTED_MEDIA_TYPE"));
		return;
	}
	parseJson(req, res, (err?: BodyParserError) => {
		if (err) return next(bodyError(err));
		const body = req.body;
		if (body !== undefined && (body === null || typeof body !== "object" || Array.isArray(body))) return next(new MoleculerClientError("A JSON body must be an object", 400, "INVALID_BODY"));
		next();
	});
}

/** A body is coming: a length above zero, or chunks. */
function hasBody(req: IncomingMessage): boolean {
	return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

function isJson(req: IncomingMessage): boolean {
	return /^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(req.headers["content-type"] ?? "");
}

/**
 * Params nested deeper than the contract allows are refused at the door,
 * before anything walks them (the cacher's key builder recurses).
 */
export function assertShallow(params: unknown): void {
	if (exceedsDepth(params))
		throw new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
			{ type: "objectMaxDepth", field: "", message: `The request may nest at most ${MAX_DEPTH} levels.`, expected: MAX_DEPTH },
		]);
}
