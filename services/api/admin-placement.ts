import type { IncomingMessage } from "http";
import type { AuthUser } from "../../lib/auth";
import { ForbiddenError, UnprocessableError } from "../../lib/errors";
import { ID } from "../../lib/params";

/**
 * Two headers of `POST /api/orders` that only an admin may send: the order
 * is placed for a customer (`X-On-Behalf-Of: <customerId>`), and dated when
 * it was really placed (`X-Placed-At: <ISO-8601>`, not in the future): a
 * phone order, an import, the demo seed's history. Headers, not body fields,
 * so the body stays exactly the contract's (a `customerId` in it is dropped).
 */
export interface AdminPlacement {
	onBehalfOf?: string;
	placedAt?: string;
}

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function header(req: IncomingMessage, name: string): string | undefined {
	const value = req.headers[name];
	return Array.isArray(value) ? value.join(", ") : value;
}

function invalid(field: string, type: string, message: string): UnprocessableError {
	return new UnprocessableError(message, [{ field, type, message }], "VALIDATION_ERROR");
}

/** The admin's placement headers as call meta; 403 when someone else sends them, 422 when malformed. */
export function adminPlacement(req: IncomingMessage, user: AuthUser | null | undefined): AdminPlacement {
	const onBehalfOf = header(req, "x-on-behalf-of");
	const placedAt = header(req, "x-placed-at");
	if (onBehalfOf === undefined && placedAt === undefined) return {};
	if (user?.role !== "admin") throw new ForbiddenError("Only an admin may place an order for a customer or date it (X-On-Behalf-Of, X-Placed-At)");
	const out: AdminPlacement = {};
	if (onBehalfOf !== undefined) {
		if (onBehalfOf.length < ID.min || onBehalfOf.length > ID.max)
			throw invalid("X-On-Behalf-Of", "stringLength", `The 'X-On-Behalf-Of' header must be a customer id of ${ID.min} to ${ID.max} characters.`);
		out.onBehalfOf = onBehalfOf;
	}
	if (placedAt !== undefined) {
		const time = ISO_TIMESTAMP.test(placedAt) ? Date.parse(placedAt) : NaN;
		if (Number.isNaN(time)) throw invalid("X-Placed-At", "date", "The 'X-Placed-At' header must be an ISO-8601 timestamp such as 2024-05-01T10:00:00Z.");
		if (time > Date.now()) throw invalid("X-Placed-At", "dateMax", "The 'X-Placed-At' header must not be in the future.");
		out.placedAt = new Date(time).toISOString();
	}
	return out;
}
