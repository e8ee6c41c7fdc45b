import { Errors } from "moleculer";

/** The contract's error body: moleculer-web's shape, never a stack. */
export interface ErrorBody {
	name: string;
	message: string;
	code: number;
	type?: string;
	data?: unknown;
}

interface ErrorLike {
	name?: string;
	message?: string;
	code?: unknown;
	status?: unknown;
	statusCode?: unknown;
	type?: string;
	data?: unknown;
}

/** The HTTP status an error stands for: its own code when it is one, else 500. */
export function statusOf(err: ErrorLike): number {
	for (const c of [err?.code, err?.status, err?.statusCode]) if (typeof c === "number" && Number.isInteger(c) && c >= 400 && c <= 599) return c;
	return 500;
}

/**
 * What a client sees of an error, on every door (REST and Socket.IO): a
 * 5xx that is not one of ours says no more than that; validation errors
 * echo the offending value except passwords.
 */
export function errorBody(err: ErrorLike): ErrorBody {
	const status = statusOf(err);
	if (status === 413) return { name: "PayloadTooLarge", message: "Request body is larger than 100 kB", code: 413, type: "PAYLOAD_TOO_LARGE" };
	if (status === 400 && err.type === "entity.parse.failed") return { name: "BadRequest", message: "Malformed JSON body", code: 400, type: "INVALID_JSON" };
	if (status >= 500 && !(err instanceof Errors.MoleculerError)) return { name: "InternalServerError", message: "Internal server error", code: 500, type: "INTERNAL_ERROR" };
	const body: ErrorBody = { name: String(err.name), message: String(err.message), code: status, type: err.type ?? (status === 429 ? "RATE_LIMIT_EXCEEDED" : undefined), data: err.data };
	if (body.type === "VALIDATION_ERROR" && Array.isArray(body.data)) {
		body.data = (body.data as Array<{ actual?: unknown; field?: string }>).map(({ actual, ...rest }) => (String(rest.field).includes("password") ? rest : { ...rest, actual }));
	}
	return body;
}

/** True for an error the client did not cause: worth a line in the log. */
export function isUnexpected(err: ErrorLike): boolean {
	return statusOf(err) >= 500 && !(err instanceof Errors.MoleculerError);
}
