import type { IncomingMessage } from "http";
import { validationError } from "../../lib/infra/validation";

/** The Idempotency-Key header, if any: 1 to 100 characters. */
export function idempotencyKey(req: IncomingMessage): string | undefined {
	const key = req.headers["idempotency-key"];
	if (key === undefined) return undefined;
	if (typeof key !== "string" || key.length < 1 || key.length > 100) {
		throw validationError(
			[{ field: "Idempotency-Key", type: "stringLength", message: "The 'Idempotency-Key' header must be 1 to 100 characters." }],
			"Idempotency-Key must be 1 to 100 characters",
		);
	}
	return key;
}
