import type { IncomingMessage } from "http";
import qs from "qs";
import { PROTOTYPE_ISSUE, reachesPrototype, validationError } from "../../lib/validation";

/** A `__proto__` segment of a query key (`__proto__[x]`, `a[__proto__]`), which qs drops whatever its options say. */
const PROTO_SEGMENT = /(?:^|\[)__proto__(?:\]|\[|$)/;

/**
 * moleculer-web's query-string parsing (qs, with its limits), with the
 * contract's rule: a key that would reach a prototype is a 422, not
 * dropped in silence (qs's way). Keys are kept as own keys of
 * prototype-less objects, so the parsed query can be checked (and reaches
 * no prototype either way); qs's decoder reports the `__proto__` keys it
 * would drop.
 */
export function parseQuery(req: IncomingMessage): { query: Record<string, unknown>; url: string } {
	const url = req.url ?? "/";
	const at = url.indexOf("?", 1);
	if (at === -1) return { query: {}, url };
	let protoKey = false;
	const query = qs.parse(url.slice(at + 1), {
		allowPrototypes: true,
		plainObjects: true,
		decoder(text, decode, charset, type) {
			const decoded: unknown = decode(text, decode, charset);
			if (type === "key" && typeof decoded === "string" && PROTO_SEGMENT.test(decoded)) protoKey = true;
			return decoded;
		},
	});
	if (protoKey || reachesPrototype(query)) throw validationError([PROTOTYPE_ISSUE]);
	return { query, url: url.slice(0, at) };
}
