import type { IncomingMessage } from "http";
import { UnprocessableError } from "../../lib/errors";

/** The Idempotency-Key header, if any: 1 to 100 characters. */
export function idempotencyKey(req: IncomingMessage): string | undefined {
	const key = req.headers["idempotency-key"];
	if (key === undefined) return undefined;
	if (typeof key !== "string" || key.length < 1 || key.length > 100) {
		throw new UnprocessableError(
			"Idempotency-Key must be 1 to 100 characters",
			[{ field: "Idempotency-Key", type: "stringLength", message: "The 'Idempotency-Key' header must be 1 to 100 characters." }],
			"VALIDATION_ERROR",
		);
	}
	return key;
}
