/**
 * Generators of inputs that break the public contract (API.md,
 * "Conventions"), derived from the actions' own `params` schemas as the
 * running broker registered them, so that a field or a route added later is
 * covered without a change here.
 *
 * A generated value is a small description (printed as the counterexample
 * when a property fails), turned into the real value, however large or
 * deep, only when the request is sent: `{ $$repeat: "x", n: 65 }` is a
 * 65-character string, `{ $$deep: 20000, of: "array" }` an array nested
 * 20,000 levels deep, `{ $$raw: "1e400" }` a number token JSON.stringify
 * cannot write.
 */
import fc from "fast-check";

// ---------------------------------------------------------------------------
// What the contract says beyond (or instead of) the schemas.

export const CONTRACT = {
	/** The only fields that may be `null` ("null clears them"). */
	nullable: new Set(["phone", "shippingAddress"]),
	/** Passwords are 8-72 bytes of UTF-8 (bcrypt reads no further). */
	maxUtf8Bytes: { password: 72 } as Record<string, number>,
	/** Lists: a pageSize above 100, or below 1, is 422. */
	ranges: { pageSize: { min: 1, max: 100 } } as Record<string, { min: number; max: number }>,
	maxDepth: 32,
	maxBodyBytes: 100 * 1024,
	idempotencyKey: { min: 1, max: 100 },
};

// ---------------------------------------------------------------------------
// Schemas

export interface Rule {
	type: string;
	optional?: boolean;
	nullable?: boolean;
	min?: number;
	max?: number;
	integer?: boolean;
	convert?: boolean;
	pattern?: RegExp | string;
	trim?: boolean;
	values?: unknown[];
	items?: unknown;
	props?: Record<string, unknown>;
	default?: unknown;
	/** From the contract: the most UTF-8 bytes a value may have. */
	maxBytes?: number;
	[key: string]: unknown;
}

/** One place a value can go: `items[0].quantity` is ["items", 0, "quantity"]. */
export interface FieldSpec {
	path: Array<string | number>;
	/** fastest-validator's name for it, as validation errors carry it. */
	label: string;
	/** The last key that is a name (the field's name for the contract). */
	name: string;
	rule: Rule;
	/** Rules of each step from the top, so that a nested field can be reached through valid parents. */
	chain: Rule[];
	nullable: boolean;
	/** A `:name` segment of the route (never in the body). */
	inPath: boolean;
}

const SUPPORTED = new Set(["string", "email", "number", "boolean", "enum", "date", "array", "object"]);

/** A fastest-validator rule in its object form; anything the generators cannot break on purpose fails loudly. */
export function normalizeRule(raw: unknown, where: string): Rule {
	let rule: Rule;
	if (typeof raw === "string") {
		const [type, ...flags] = raw.split("|");
		rule = { type };
		for (const flag of flags) {
			const [k, v] = flag.split(":");
			rule[k] = v === undefined ? true : v === "true" ? true : v === "false" ? false : Number.isNaN(Number(v)) ? v : Number(v);
		}
	} else if (raw && typeof raw === "object" && !Array.isArray(raw)) {
		rule = { ...(raw as Rule) };
		if (!rule.type && rule.props) rule.type = "object";
	} else {
		throw new Error(`${where}: a params rule the bad-input generators cannot read (${JSON.stringify(raw)}); describe it in test/helpers/bad-input.ts`);
	}
	if (!SUPPORTED.has(rule.type)) throw new Error(`${where}: rule type "${rule.type}" has no bad-input generator; add one in test/helpers/bad-input.ts`);
	return rule;
}

export function fvLabel(path: Array<string | number>): string {
	return path.reduce<string>((acc, step) => (typeof step === "number" ? `${acc}[${step}]` : acc ? `${acc}.${step}` : step), "");
}

/** Every field an action's params describe, nested ones included, with the contract's extra rules applied. */
export function fieldsOf(action: string, params: Record<string, unknown> | undefined, pathParams: string[]): FieldSpec[] {
	const out: FieldSpec[] = [];
	const walk = (raw: unknown, path: Array<string | number>, chain: Rule[]) => {
		const name = [...path].reverse().find((s): s is string => typeof s === "string")!;
		const rule = applyContract(normalizeRule(raw, `${action} ${fvLabel(path)}`), name);
		const here = [...chain, rule];
		out.push({ path, label: fvLabel(path), name, rule, chain: here, nullable: rule.nullable === true || CONTRACT.nullable.has(name), inPath: path.length === 1 && pathParams.includes(name) });
		if (rule.type === "object" && rule.props) for (const [k, v] of Object.entries(rule.props)) if (!k.startsWith("$$")) walk(v, [...path, k], here);
		if (rule.type === "array" && rule.items !== undefined) walk(rule.items, [...path, 0], here);
	};
	for (const [key, raw] of Object.entries(params ?? {})) if (!key.startsWith("$$")) walk(raw, [key], []);
	return out;
}

function applyContract(rule: Rule, name: string): Rule {
	const range = CONTRACT.ranges[name];
	const r = { ...rule };
	if (range) Object.assign(r, range);
	if (CONTRACT.maxUtf8Bytes[name] !== undefined) r.maxBytes = CONTRACT.maxUtf8Bytes[name];
	return r;
}

// ---------------------------------------------------------------------------
// Descriptions of values, and the values they stand for

export type Desc = unknown;

/** A JSON token written as is (numbers JSON.stringify cannot write). */
export class RawJson {
	constructor(readonly text: string) {}
}

/** Nesting written without recursion, however deep. */
export class DeepJson {
	constructor(
		readonly depth: number,
		readonly of: "array" | "object",
		readonly leaf: unknown,
	) {}
}

export interface MaterializeEnv {
	/** A valid value for a field (the items of a too-long array). */
	valid(label: string): unknown;
	/** For Socket.IO: real nested objects instead of DeepJson, no raw tokens. */
	forSocket?: boolean;
}

const isMarker = (d: any, key: string) => d !== null && typeof d === "object" && !Array.isArray(d) && key in d;

export function materialize(d: Desc, env: MaterializeEnv): unknown {
	if (Array.isArray(d)) return d.map(x => materialize(x, env));
	if (d === null || typeof d !== "object") return d;
	const m = d as any;
	if (isMarker(m, "$$repeat")) return String(m.$$repeat).repeat(m.n);
	if (isMarker(m, "$$cat")) return (m.$$cat as Desc[]).map(x => materialize(x, env)).join("");
	if (isMarker(m, "$$raw")) {
		if (env.forSocket) throw new Error("raw JSON tokens are for HTTP bodies only");
		return new RawJson(m.$$raw);
	}
	if (isMarker(m, "$$deep")) {
		const leaf = materialize(m.leaf ?? 1, env);
		if (!env.forSocket) return new DeepJson(m.$$deep, m.of, leaf);
		let v: unknown = leaf;
		for (let i = 0; i < m.$$deep; i++) v = m.of === "array" ? [v] : { a: v };
		return v;
	}
	if (isMarker(m, "$$many")) {
		const item = m.item === "valid" ? undefined : materialize(m.item, env);
		return Array.from({ length: m.$$many }, () => (m.item === "valid" ? env.valid(m.of) : item));
	}
	if (isMarker(m, "$$ownProto")) {
		// An own `__proto__` key, as JSON.parse makes it: a prototype-pollution attempt.
		const o: Record<string, unknown> = {};
		Object.defineProperty(o, "__proto__", { value: materialize(m.$$ownProto, env), enumerable: true, configurable: true, writable: true });
		return o;
	}
	const out: Record<string, unknown> = {};
	for (const [k, v] of Object.entries(m)) {
		if (k === "__proto__") Object.defineProperty(out, k, { value: materialize(v, env), enumerable: true, configurable: true, writable: true });
		else out[k] = materialize(v, env);
	}
	return out;
}

/** JSON text of a materialized value: RawJson tokens as written, DeepJson without recursion, own `__proto__` keys kept. */
export function toJsonText(v: unknown): string {
	if (v instanceof RawJson) return v.text;
	if (v instanceof DeepJson) {
		const leaf = toJsonText(v.leaf);
		return v.of === "array" ? "[".repeat(v.depth) + leaf + "]".repeat(v.depth) : '{"a":'.repeat(v.depth) + leaf + "}".repeat(v.depth);
	}
	if (Array.isArray(v)) return `[${v.map(toJsonText).join(",")}]`;
	if (v !== null && typeof v === "object")
		return `{${Object.keys(v)
			.map(k => `${JSON.stringify(k)}:${toJsonText((v as any)[k])}`)
			.join(",")}}`;
	return v === undefined ? "null" : JSON.stringify(v);
}

// ---------------------------------------------------------------------------
// Valid values (the rest of a request around the one broken field)

export interface ValidEnv {
	/** Values that must be real or unique (a product id, a fresh email, a sku), by field name. */
	overrides: Record<string, () => unknown>;
}

export function validValue(rule: Rule, name: string, env: ValidEnv): unknown {
	const override = env.overrides[name];
	if (override) return override();
	switch (rule.type) {
		case "string": {
			const len = Math.max(rule.min ?? 0, 1);
			for (const c of ["a", "A", "1", "a-1"]) {
				const s = c.repeat(len).slice(0, Math.max(len, c.length));
				if (!rule.pattern || new RegExp(rule.pattern).test(s)) return s;
			}
			throw new Error(`No valid value known for ${name} (pattern ${rule.pattern}): add an override`);
		}
		case "email":
			throw new Error(`An email field (${name}) needs an override: emails must be unique`);
		case "number": {
			const lo = rule.min ?? 0;
			const v = Math.max(lo, 1);
			return rule.max !== undefined && v > rule.max ? lo : v;
		}
		case "boolean":
			return false;
		case "enum":
			return rule.values![0];
		case "date":
			return "2020-01-01T00:00:00.000Z";
		case "array": {
			const item = normalizeRule(rule.items, name);
			return Array.from({ length: Math.max(rule.min ?? 0, 1) }, () => validValue(item, name, env));
		}
		case "object":
			return validObject(rule.props ?? {}, env, name);
		default:
			throw new Error(`No valid value for type ${rule.type}`);
	}
}

/** The required fields of a params schema, valid. */
export function validObject(props: Record<string, unknown>, env: ValidEnv, where: string, skip: string[] = []): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	for (const [k, raw] of Object.entries(props)) {
		if (k.startsWith("$$") || skip.includes(k)) continue;
		const rule = applyContract(normalizeRule(raw, `${where}.${k}`), k);
		if (rule.optional || rule.default !== undefined) continue;
		out[k] = validValue(rule, k, env);
	}
	return out;
}

/** Put `value` at the field's place in `params`, making valid parents on the way when they are missing. */
export function setAt(params: Record<string, unknown>, field: FieldSpec, value: unknown, env: ValidEnv, absent = false): void {
	let node: any = params;
	for (let i = 0; i < field.path.length - 1; i++) {
		const step = field.path[i];
		const nextRule = field.chain[i];
		if (node[step] === undefined || node[step] === null || typeof node[step] !== "object") node[step] = validValue(nextRule, String(step), env);
		node = node[step];
		if (Array.isArray(node) && node.length === 0) node.push(validValue(normalizeRule(nextRule.items, String(step)), String(step), env));
	}
	const last = field.path[field.path.length - 1];
	if (absent) {
		if (Array.isArray(node)) node.splice(Number(last), 1);
		else delete node[last];
	} else if (last === "__proto__") Object.defineProperty(node, last, { value, enumerable: true, configurable: true, writable: true });
	else node[last] = value;
}

// ---------------------------------------------------------------------------
// Violations, by family

export type Family = "null" | "type" | "operator" | "range" | "deep" | "prototype";
export const FAMILIES: Family[] = ["null", "type", "operator", "range", "deep", "prototype"];

/** Operator-shaped values (MongoDB / NeDB query operators). */
export const OPERATORS: Desc[] = [{ $gt: "" }, { $ne: null }, { $in: ["a"] }, { $regex: ".*" }, { $where: "return true" }, { $exists: true }, { $gt: 0 }, { $nin: [] }, { $or: [{}] }];

const u = <T>(xs: T[]) => [...new Map(xs.map(x => [JSON.stringify(x), x])).values()];

/** Strings that break a pattern and nothing else, odd encodings among them. */
function patternBreakers(rule: Rule): string[] {
	if (!rule.pattern) return [];
	const re = new RegExp(rule.pattern);
	const candidates = ["a b", "a/b", "é", "a\u0000b", "💥", "<x>", "a;b", "$gt", "a+b", "a\u202eb", "\ud800", "a\nb", "a.b", "%00", "a'b", 'a"b', "ａ"];
	return candidates.filter(s => !re.test(s) && s.length >= (rule.min ?? 0) && s.length <= (rule.max ?? Infinity));
}

/** A JSON value of another type than the rule's (typed JSON bodies: "12" for an integer is 422). */
function wrongTypes(f: FieldSpec): Desc[] {
	const r = f.rule;
	switch (r.type) {
		case "string":
		case "email":
			return u([0, 12, -1.5, true, false, [], ["a"], {}, { a: "b" }]);
		case "enum":
			return u([0, 1, true, false, [], {}, [r.values?.[0]], { value: r.values?.[0] }]);
		case "date":
			return u([0, 1700000000000, true, false, [], {}, ["2020-01-01"], { date: "2020-01-01" }]);
		case "number":
			return u(["12", "1", "0", String(r.min ?? 1), "abc", "", " ", true, false, [], [1], {}, { n: 1 }, "1e3"]);
		case "boolean":
			return u(["true", "false", 1, 0, "1", "0", "on", "yes", [], [true], {}]);
		case "array":
			return u(["x", 1, true, {}, { 0: 1 }, ""]);
		case "object":
			return u(["x", 1, true, [], [{}], ""]);
		default:
			return [[], {}, true, 0, "x"];
	}
}

/** Values of the right type that break a bound, a pattern, a format or an enum. */
/**
 * Choices, never filters: a filter whose predicate one whole arbitrary can
 * never meet makes fast-check loop forever (seen with a query's string range).
 * `ascii` leaves out the non-ASCII repeats (query strings); `noRaw` the raw
 * JSON numbers (Socket.IO sends real values only).
 */
function rangeBreakers(f: FieldSpec, opts: { ascii?: boolean; noRaw?: boolean } = {}): fc.Arbitrary<Desc>[] {
	const r = f.rule;
	const values = (...all: Desc[]): fc.Arbitrary<Desc> => fc.constantFrom(...(opts.noRaw ? all.filter(d => !JSON.stringify(d).includes("$$raw")) : all));
	const arbs: fc.Arbitrary<Desc>[] = [];
	switch (r.type) {
		case "string": {
			if (r.max !== undefined) {
				arbs.push(fc.integer({ min: r.max + 1, max: r.max + 2000 }).map(n => ({ $$repeat: "x", n })));
				if (!opts.ascii) arbs.push(fc.integer({ min: r.max + 1, max: r.max + 50 }).map(n => ({ $$repeat: "é", n })));
			}
			if ((r.min ?? 0) >= 1) {
				if (r.trim)
					arbs.push(
						fc.integer({ min: 0, max: 8 }).map(n => ({ $$repeat: " ", n })),
						fc.constantFrom("\t", "\n", " \n\t "),
					);
				else arbs.push(fc.integer({ min: 0, max: r.min! - 1 }).map(n => ({ $$repeat: "x", n })));
			}
			const breakers = patternBreakers(r);
			if (breakers.length) arbs.push(fc.constantFrom(...breakers));
			if (r.maxBytes !== undefined) {
				// Over the byte limit while within the schema's character limit: only the contract's rule is broken.
				const head = { $$repeat: "ä", n: Math.floor(r.maxBytes / 2) }; // maxBytes bytes exactly
				const room = (r.max ?? 128) - Math.floor(r.maxBytes / 2);
				arbs.push(
					fc
						.record({ c: fc.constantFrom(...(opts.ascii ? ["x", "y"] : ["x", "é", "€", "😀"])), n: fc.integer({ min: 1, max: Math.max(1, Math.floor(room / 2)) }) })
						.map(({ c, n }) => ({ $$cat: [head, { $$repeat: c, n }] })),
				);
				// ASCII over the byte limit, where the character limit leaves room for it.
				if ((r.max ?? 128) > r.maxBytes) arbs.push(fc.integer({ min: r.maxBytes + 1, max: r.max ?? 128 }).map(n => ({ $$repeat: "p", n })));
			}
			break;
		}
		case "email": {
			arbs.push(fc.constantFrom("plainaddress", "@example.com", "user@", "user name@example.com", "user@exa mple.com", "", " ", "user@@", "user@example"));
			if (r.max !== undefined) arbs.push(fc.integer({ min: r.max + 1, max: r.max + 500 }).map(n => ({ $$cat: [{ $$repeat: "a", n: n - "@bad-input.test".length }, "@bad-input.test"] })));
			break;
		}
		case "number": {
			const lo = r.min;
			const hi = r.max;
			if (lo !== undefined) arbs.push(values(lo - 1, lo - 1000, -1e15, { $$raw: "-1e400" }));
			if (hi !== undefined) arbs.push(values(hi + 1, hi + 1000, 1e15, 1e300, { $$raw: "1e400" }, 2 ** 53 + 2));
			if (r.integer) arbs.push(values((lo ?? 0) + 0.5, 1.5, 0.1, (lo ?? 0) + 1e-9, { $$raw: "1.0000001" }));
			break;
		}
		case "enum": {
			const values = (r.values ?? []).map(String);
			const v0 = values[0] ?? "x";
			const bad = ["", "x", v0.toUpperCase(), ` ${v0}`, `${v0} `, `${v0}\u0000`, "__proto__", "constructor", "toString", values.join(","), `${v0}s`].filter(s => !values.includes(s));
			arbs.push(fc.constantFrom(...bad));
			break;
		}
		case "date":
			arbs.push(fc.constantFrom("yesterday", "2020-13-45", "not-a-date", "", "2020-01-01T25:61:00Z", "0000-00-00", "Invalid Date"));
			break;
		case "array": {
			if ((r.min ?? 0) >= 1) arbs.push(fc.constant([]));
			if (r.max !== undefined) arbs.push(fc.integer({ min: r.max + 1, max: r.max + 200 }).map(n => ({ $$many: n, item: "valid", of: f.label })));
			arbs.push(fc.integer({ min: 1000, max: 20000 }).map(n => ({ $$many: n, item: 0 })));
			break;
		}
		default:
			break;
	}
	return arbs;
}

/** The contract's depth limit, broken: just over it, or far over it. */
export const deepValue: fc.Arbitrary<Desc> = fc
	.record({
		depth: fc.oneof(fc.integer({ min: CONTRACT.maxDepth + 1, max: 64 }), fc.integer({ min: 65, max: 20_000 })),
		of: fc.constantFrom("array" as const, "object" as const),
	})
	// Objects take 5 characters a level: keep them under the body limit (413 is another property).
	.map(({ depth, of }) => ({ $$deep: of === "object" ? Math.min(depth, 12_000) : depth, of }));

/** The same over Socket.IO, where the client library walks the params recursively: deep, but not 20,000 levels (1,000 at most). */
export const socketDeepValue: fc.Arbitrary<Desc> = deepValue.map(d => ({ ...(d as object), $$deep: Math.min((d as { $$deep: number }).$$deep, 1000) }));

/** What a prototype key may hide: values that would matter to a handler or a cache key, were they inherited. */
const HIDDEN: Desc[] = [{ role: "admin", priceCents: 0 }, { category: "NoSuch", search: "x" }, { quantity: 1000, totalCents: 0 }, { pageSize: "9" }, { id: "someone-else", customerId: "x" }];

/**
 * A key that would reach an object's prototype: an own `__proto__` (as
 * JSON.parse makes it) or `constructor` holding `prototype`, hiding values
 * that would matter; over HTTP also one hiding a value nested 20,000 deep
 * (which the cache key builder once recursed into).
 */
export function prototypeValue(opts: { socket?: boolean } = {}): fc.Arbitrary<Desc> {
	const hidden = opts.socket ? HIDDEN : [...HIDDEN, { search: { $$deep: 20_000, of: "array" } }];
	return fc.oneof(
		fc.constantFrom(...hidden).map(h => ({ $$ownProto: h })),
		fc.constantFrom(...hidden).map(h => ({ constructor: { prototype: h } })),
	);
}

/** Violations of one family for one field as a JSON value (a body, or Socket.IO params); null when the family has none for it. */
export function jsonViolation(f: FieldSpec, family: Family, opts: { socket?: boolean } = {}): fc.Arbitrary<Desc> | null {
	switch (family) {
		case "null":
			return f.nullable ? null : fc.constant(null);
		case "type":
			return fc.oneof(
				fc.constantFrom(...wrongTypes(f)),
				...(f.nullable || f.rule.optional || f.rule.default !== undefined || f.path.some(s => typeof s === "number") ? [] : [fc.constant({ $$absent: true })]),
			);
		case "operator":
			return f.rule.type === "array"
				? fc.oneof(
						fc.constantFrom(...OPERATORS),
						fc.constantFrom(...OPERATORS).map(o => [o]),
					)
				: fc.constantFrom(...OPERATORS);
		case "range": {
			const arbs = rangeBreakers(f, { noRaw: opts.socket });
			return arbs.length ? fc.oneof(...arbs) : null;
		}
		case "deep":
			return opts.socket ? socketDeepValue : deepValue;
		case "prototype":
			return f.rule.type === "array"
				? fc.oneof(
						prototypeValue(opts),
						prototypeValue(opts).map(v => [v]),
					)
				: prototypeValue(opts);
	}
}

/** The same families in a query string (GET routes): everything arrives as a string, converted by the schema. */
export function queryViolation(f: FieldSpec, family: Family): fc.Arbitrary<Desc> | null {
	const r = f.rule;
	if (f.path.length !== 1) return null;
	switch (family) {
		case "null":
		case "deep":
			return null; // a query string has no null, and qs stops at 5 levels
		case "prototype":
			return fc.constantFrom<Desc>({ $$ownProto: { category: "NoSuch" } }, { constructor: { prototype: { role: "admin" } } });
		case "type": {
			const common: Desc[] = [["a", "b"], { a: "b" }, { a: { b: "c" } }];
			if (r.type === "number") return fc.constantFrom<Desc>("abc", "1e", "0x1g", "one", "NaN", "--1", "1,5", ...common);
			if (r.type === "boolean") return fc.constantFrom<Desc>("maybe", "yes", "TRUE", "2", "", "null", ...common);
			if (r.type === "date") return fc.constantFrom<Desc>("yesterday", "not-a-date", "2020-13-45", ["x", "y"], { a: "b" });
			return fc.constantFrom<Desc>(...common);
		}
		case "operator":
			return fc.constantFrom<Desc>({ $gt: "" }, { $ne: "x" }, { $regex: ".*" }, { $in: ["a", "b"] }, { $where: "1" }, { $exists: "true" });
		case "range": {
			const arbs: fc.Arbitrary<Desc>[] = [];
			if (r.type === "number") {
				if (r.min !== undefined) arbs.push(fc.constantFrom(String(r.min - 1), String(r.min - 1000), "-1e15", ...(r.min > 0 ? [""] : [])));
				if (r.max !== undefined) arbs.push(fc.constantFrom(String(r.max + 1), String(r.max + 1000), "1e15", "1e400", "Infinity"));
				if (r.integer) arbs.push(fc.constantFrom(`${(r.min ?? 0) + 0.5}`, "1.5", "0.1", "2.000001"));
			} else if (r.type === "string" || r.type === "enum" || r.type === "date") {
				// ASCII only, so that the URL stays well under Node's 16 kB header limit (the structure property tests that limit).
				arbs.push(...rangeBreakers(f, { ascii: true }));
			}
			return arbs.length ? fc.oneof(...arbs) : null;
		}
	}
}

// ---------------------------------------------------------------------------
// Unknown fields, mixed with a broken one: removed, never stored, never a reason to accept.

export const EXTRA_FIELDS: Record<string, Desc> = {
	role: "admin",
	stock: 999_999,
	status: "delivered",
	customerId: "someone-else",
	totalCents: 0,
	deleted: true,
	blocked: true,
	passwordHash: "$2a$04$abcdefghijklmnopqrstuv",
	_id: "forced-id",
	createdAt: "1970-01-01T00:00:00.000Z",
	$where: "return true",
	"a.b": 1,
};

export const extrasArb: fc.Arbitrary<string[]> = fc.oneof(
	{ weight: 2, arbitrary: fc.constant([] as string[]) },
	{ weight: 1, arbitrary: fc.subarray(Object.keys(EXTRA_FIELDS), { minLength: 1, maxLength: 4 }) },
);

// ---------------------------------------------------------------------------
// Checks of an answer

/** A JS engine's or a library's own error: never what a client should read. */
export const INTERNAL_MESSAGE =
	/TypeError|ReferenceError|RangeError|SyntaxError|Cannot (read|destructure|set|convert)|is not a function|is not defined|is not iterable|Illegal arguments|Maximum call stack|incorrect header check|unexpected end of file|Unexpected (token|end)|invalid (stored block|distance)|ECONN|ENOENT|E11000|Z_[A-Z_]+|undefined|\[object Object\]|null \(reading/;
const BUILTIN_ERROR_NAMES = new Set(["Error", "TypeError", "RangeError", "SyntaxError", "ReferenceError", "EvalError", "URIError", "MoleculerError", "MoleculerServerError", "InternalServerError"]);

/**
 * The contract's error shape `{ name, message, code, type, data }`, and
 * nothing a client must not see. Returns the problems found (empty when fine).
 */
export function errorShapeProblems(err: any, status: number, forbiddenTexts: string[], violated?: string): string[] {
	const problems: string[] = [];
	if (!err || typeof err !== "object" || Array.isArray(err)) return [`the error is not a JSON object: ${JSON.stringify(err)?.slice(0, 200)}`];
	if (typeof err.name !== "string" || !err.name) problems.push("no `name`");
	else if (BUILTIN_ERROR_NAMES.has(err.name)) problems.push(`\`name\` is an internal error class (${err.name})`);
	if (typeof err.message !== "string" || !err.message) problems.push("no `message`");
	else if (INTERNAL_MESSAGE.test(err.message)) problems.push(`an internal message: ${JSON.stringify(err.message.slice(0, 160))}`);
	if (err.code !== status) problems.push(`\`code\` ${JSON.stringify(err.code)} is not the status ${status}`);
	if (typeof err.type !== "string" || !/^[A-Z][A-Z0-9_]*$/.test(err.type)) problems.push(`\`type\` ${JSON.stringify(err.type)} is not an UPPER_SNAKE error type`);
	if ("data" in err && err.data !== null && typeof err.data !== "object") problems.push("`data` is not an object or array");
	const extra = Object.keys(err).filter(k => !["name", "message", "code", "type", "data"].includes(k));
	if (extra.length) problems.push(`keys outside the error shape: ${extra.join(", ")}`);
	const text = JSON.stringify(err);
	if (/"stack"|\n\s+at \S+ \(|\bat .+\.(js|ts):\d+/.test(text)) problems.push("a stack trace");
	if (/passwordHash|\$2[aby]\$\d\d\$/.test(text)) problems.push("a password hash");
	if (/"nodeID"|"hostname"|"pid"/.test(text)) problems.push("a server's node id");
	for (const t of forbiddenTexts) if (t && text.includes(t)) problems.push(`the server's name (${t})`);
	if (status === 422 && err.type === "VALIDATION_ERROR") {
		if (!Array.isArray(err.data) || err.data.length === 0) problems.push("a validation error whose `data` does not list the fields");
		else {
			for (const d of err.data) {
				if (typeof d?.field !== "string" || typeof d?.type !== "string" || typeof d?.message !== "string") {
					problems.push(`a validation entry without field/type/message: ${JSON.stringify(d).slice(0, 160)}`);
					break;
				}
			}
			if (
				violated &&
				!err.data.some(
					(d: any) =>
						typeof d?.field === "string" &&
						(violated === d.field || violated.startsWith(`${d.field}.`) || violated.startsWith(`${d.field}[`) || d.field.startsWith(`${violated}.`) || d.field.startsWith(`${violated}[`)),
				)
			) {
				problems.push(`\`data\` does not name the broken field ${violated} (names: ${err.data.map((d: any) => d?.field).join(", ")})`);
			}
		}
	}
	return problems;
}
