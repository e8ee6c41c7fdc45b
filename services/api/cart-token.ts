import type { IncomingMessage } from "http";
import { validationError } from "../../lib/infra/validation";

/** The X-Cart-Token header, if any: a guest cart's token, base64url, 1 to 100 characters. */
export function cartToken(req: IncomingMessage): string | undefined {
	const token = req.headers["x-cart-token"];
	if (token === undefined) return undefined;
	if (typeof token !== "string" || !/^[A-Za-z0-9_-]{1,100}$/.test(token)) {
		throw validationError(
			[{ field: "X-Cart-Token", type: "stringPattern", message: "The 'X-Cart-Token' header must be a cart token: 1 to 100 characters of A-Z, a-z, 0-9, - and _." }],
			"X-Cart-Token is not a cart token",
		);
	}
	return token;
}
