import { STATUS_CODES } from "http";
import type { Duplex } from "stream";
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

/**
 * Moleculer's ways of saying a node or the transporter is away (a service
 * not registered yet or any more, a request lost or timed out, RabbitMQ
 * gone): to a client all are one 503, never a 404, 502 or 504. The doors
 * refuse unknown actions themselves, before any of these can arise.
 */
const UNAVAILABLE = new Set(["SERVICE_NOT_FOUND", "SERVICE_NOT_AVAILABLE", "REQUEST_TIMEOUT", "REQUEST_SKIPPED", "REQUEST_REJECTED", "BAD_GATEWAY", "QUEUE_FULL", "SERVICE_UNAVAILABLE"]);

/** Seconds a client should wait before trying a 503 again. */
export const RETRY_AFTER_S = 2;

/** The HTTP status an error stands for: its own code when it is one, else 500. */
export function statusOf(err: ErrorLike): number {
	if (UNAVAILABLE.has(err?.type ?? "")) return 503;
	for (const c of [err?.code, err?.status, err?.statusCode]) if (typeof c === "number" && Number.isInteger(c) && c >= 400 && c <= 599) return c;
	return 500;
}

/**
 * What a client sees of an error, on every door (REST and Socket.IO): a
 * 5xx that is not one of ours says no more than that; validation errors
 * echo the offending value except passwords.
 */
export function errorBody(err: ErrorLike): ErrorBody {
	if (UNAVAILABLE.has(err.type ?? "")) return { name: "ServiceUnavailableError", message: "A part of the shop is unavailable right now; try again shortly", code: 503, type: "SERVICE_UNAVAILABLE" };
	const status = statusOf(err);
	if (isUnexpected(err)) return { name: "InternalServerError", message: "Internal server error", code: 500, type: "INTERNAL_ERROR" };
	const type = err.type ?? (status === 429 ? "RATE_LIMIT_EXCEEDED" : undefined);
	const data = type === "VALIDATION_ERROR" && Array.isArray(err.data) ? (err.data as ValidationItem[]).map(validationItem) : err.data;
	return { name: String(err.name), message: String(err.message), code: status, type, data };
}

interface ValidationItem {
	field?: unknown;
	type?: unknown;
	message?: unknown;
	expected?: unknown;
	actual?: unknown;
}

/**
 * A validation error's item as a client sees it: the field, the rule and
 * the message, the expected bound, and the value sent when it is a short
 * scalar that is not a password (never a node id or the action's name).
 */
function validationItem(item: ValidationItem): ValidationItem {
	const out: ValidationItem = { field: item.field, type: item.type, message: item.message };
	if (item.expected !== undefined && (typeof item.expected !== "object" || item.expected === null)) out.expected = item.expected;
	const echo =
		!String(item.field).toLowerCase().includes("password") &&
		(typeof item.actual === "number" || typeof item.actual === "boolean" || (typeof item.actual === "string" && item.actual.length <= 200));
	if (echo) out.actual = item.actual;
	return out;
}

/**
 * A failure nobody meant to answer with: a 5xx that is not one of the
 * typed errors the services and Moleculer throw on purpose (Moleculer wraps
 * a stray TypeError in a MoleculerError without a type). Its message stays
 * in the log.
 */
export function isUnexpected(err: ErrorLike): boolean {
	return statusOf(err) >= 500 && !(err instanceof Errors.MoleculerError && typeof err.type === "string");
}

/**
 * A request Node's HTTP parser refuses (headers over 16 kB, a malformed
 * request line) is answered in the contract's error shape, not Node's bare
 * status line.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
	if (!socket.writable || err.code === "ECONNRESET") {
		socket.destroy();
		return;
	}
	const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
	const body = JSON.stringify({
		name: "BadRequest",
		message: status === 431 ? "The request's headers (the URL included) are larger than 16 kB" : "Malformed HTTP request",
		code: status,
		type: status === 431 ? "HEADERS_TOO_LARGE" : "BAD_REQUEST",
	});
	socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
