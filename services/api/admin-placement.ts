/**
 * Two headers of `POST /api/orders` (the route table lists them) that only an admin may send: the order
 * is placed for a customer (`X-On-Behalf-Of: <customerId>`), and dated when
 * it was really placed (`X-Placed-At: <ISO-8601>`, from 2000-01-01 to now): a
 * phone order, an import, the demo seed's history. Headers, not body fields,
 * so the body stays exactly the contract's (a `customerId` in it is dropped).
 */
import type { IncomingMessage } from "http";
import { ID } from "../../lib/contracts/params";
import { validationError } from "../../lib/infra/validation";

const ISO_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/** The earliest date an order may be placed at; the latest is now. */
export const PLACED_AT_MIN = "2000-01-01T00:00:00.000Z";

/**
 * The instant of a strict ISO-8601 timestamp, or NaN. Date.parse alone rolls
 * 2024-02-31 into March and T24:00 into the next day, so every field must be
 * in its calendar range (the offset within ±14:00, no leap second).
 */
function strictInstant(value: string): number {
	const m = ISO_TIMESTAMP.exec(value);
	if (!m) return NaN;
	const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = [1, 2, 3, 4, 5, 6, 9, 10].map(i => Number(m[i] ?? 0));
	const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
	const offset = (m[8] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
	if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59 || offsetMinutes > 59 || Math.abs(offset) > 14 * 60) return NaN;
	const millis = Number((m[7] ?? ".").slice(1, 4).padEnd(3, "0"));
	return Date.UTC(year, month - 1, day, hour, minute, second, millis) - offset * 60_000;
}

function header(req: IncomingMessage, name: string): string | undefined {
	const value = req.headers[name];
	return Array.isArray(value) ? value.join(", ") : value;
}

function invalid(field: string, type: string, message: string): Error {
	return validationError([{ field, type, message }], message);
}

/** X-On-Behalf-Of: a customer id; 422 when malformed. Only an admin may send it: orders decides. */
export function onBehalfOf(req: IncomingMessage): string | undefined {
	const value = header(req, "x-on-behalf-of");
	if (value !== undefined && (value.length < ID.min || value.length > ID.max))
		throw invalid("X-On-Behalf-Of", "stringLength", `The 'X-On-Behalf-Of' header must be a customer id of ${ID.min} to ${ID.max} characters.`);
	return value;
}

/** X-Placed-At: a strict ISO-8601 instant from PLACED_AT_MIN to now, normalised; 422 otherwise. Only an admin may send it: orders decides. */
export function placedAt(req: IncomingMessage): string | undefined {
	const value = header(req, "x-placed-at");
	if (value === undefined) return undefined;
	const time = strictInstant(value);
	if (Number.isNaN(time)) throw invalid("X-Placed-At", "date", "The 'X-Placed-At' header must be an ISO-8601 timestamp such as 2024-05-01T10:00:00Z.");
	if (time < Date.parse(PLACED_AT_MIN)) throw invalid("X-Placed-At", "dateMin", `The 'X-Placed-At' header must not be before ${PLACED_AT_MIN}.`);
	if (time > Date.now()) throw invalid("X-Placed-At", "dateMax", "The 'X-Placed-At' header must not be in the future.");
	return new Date(time).toISOString();
}
