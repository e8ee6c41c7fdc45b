import type { IncomingMessage } from "http";
import qs from "qs";
import { PROTOTYPE_ISSUE, reachesPrototype, validationError } from "../../lib/infra/validation";

/** A query key that would reach a prototype: a `__proto__` segment (`__proto__[x]`, `a[__proto__]`), or `constructor` then `prototype`. */
const PROTOTYPE_KEY = /(?:^|\[)(?:__proto__|constructor\]?\[prototype)(?:\]|\[|$)/;

/**
 * moleculer-web's query-string parsing (qs, with its options), with the
 * contract's rule: a key that would reach a prototype is a 422, where qs
 * drops it in silence. qs's decoder sees every key before it is dropped.
 */
export function parseQuery(req: IncomingMessage): { query: Record<string, unknown>; url: string } {
	const url = req.url ?? "/";
	const at = url.indexOf("?", 1);
	if (at === -1) return { query: {}, url };
	let prototypeKey = false;
	const query = qs.parse(url.slice(at + 1), {
		decoder(text, decode, charset, type) {
			const decoded: unknown = decode(text, decode, charset);
			if (type === "key" && typeof decoded === "string" && PROTOTYPE_KEY.test(decoded)) prototypeKey = true;
			return decoded;
		},
	});
	if (prototypeKey || reachesPrototype(query)) throw validationError([PROTOTYPE_ISSUE]);
	return { query, url: url.slice(0, at) };
}
