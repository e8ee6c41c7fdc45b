import { Errors, Validators, type ServiceBroker } from "moleculer";
import sjson from "secure-json-parse";

/**
 * The project's validator: fastest-validator, with two rules of the
 * contract that it does not have, applied to every action's params on every
 * door (REST, Socket.IO, calls between services):
 * - `null` is a value, not an absence: a field sent as `null` is refused
 *   unless its rule says `nullable: true` (fastest-validator lets `null`
 *   through every `optional` field, and replaces it with the `default`);
 * - params nested deeper than MAX_DEPTH levels are refused, and so are
 *   keys that would reach an object's prototype (`__proto__`, or
 *   `constructor` holding `prototype`) at any depth, and params whose own
 *   prototype is not a plain object's: handlers and cache keys see only a
 *   request's own fields;
 * - a refusal lists at most MAX_LISTED_ISSUES problems and says how many
 *   there were;
 * - JSON is taken as typed: a rule that converts (`convert: true`, for
 *   query strings) converts only the params a REST request took from its
 *   query string (`ctx.meta.$queryFields`, set by the gateway); in a body,
 *   a Socket.IO call or a call between services, `"12"` for a number is
 *   refused, and a date is an ISO-8601 string.
 */

export const MAX_DEPTH = 32;

/** fastest-validator's messages where its own say the wrong thing (its enum message prints the allowed values as the value sent). */
export const MESSAGES = {
	enumValue: "The '{field}' field must be one of {expected} (not '{actual}').",
};
/** A refusal lists this many problems at most (a 99 kB body of 33,000 empty items made a 7.3 MB answer). */
export const MAX_LISTED_ISSUES = 20;

export interface ValidationIssue {
	type: string;
	field: string;
	message: string;
	expected?: unknown;
	actual?: unknown;
}

/** True when `value` nests objects or arrays more than `limit` levels deep. Iterative: a deep value cannot overflow the stack. */
export function exceedsDepth(value: unknown, limit = MAX_DEPTH): boolean {
	const stack: Array<[object, number]> = value !== null && typeof value === "object" ? [[value, 1]] : [];
	while (stack.length) {
		const [node, depth] = stack.pop()!;
		if (depth > limit) return true;
		for (const child of Object.values(node)) if (child !== null && typeof child === "object") stack.push([child as object, depth + 1]);
	}
	return false;
}

const DEPTH_ISSUE: ValidationIssue = { type: "objectMaxDepth", field: "", message: `The request may nest at most ${MAX_DEPTH} levels.`, expected: MAX_DEPTH };
export const PROTOTYPE_ISSUE: ValidationIssue = {
	type: "prototypeKey",
	field: "",
	message: "The request may not hold a key that reaches an object's prototype (__proto__, or constructor holding prototype).",
};

/** secure-json-parse's refusal of a key that reaches a prototype: `__proto__`, or `constructor` holding `prototype`. */
const PROTOTYPE_KEYS = { protoAction: "error", constructorAction: "error" } as const;

/** JSON text parsed as the shop parses all JSON it is given: a key that would reach a prototype throws, at any depth. */
export function parseOwnJson(text: string): unknown {
	return sjson.parse(text, undefined, PROTOTYPE_KEYS);
}

/** True when `value` holds a key that would reach an object's prototype, at any depth (secure-json-parse's scan), or is not a plain object itself. */
export function reachesPrototype(value: unknown): boolean {
	if (value === null || typeof value !== "object") return false;
	const proto = Object.getPrototypeOf(value) as unknown;
	if (proto !== Object.prototype && proto !== null && proto !== Array.prototype) return true;
	try {
		sjson.scan(value, PROTOTYPE_KEYS);
		return false;
	} catch {
		return true;
	}
}

/** What makes params unsafe to walk at all, before any rule: too deep, or reaching a prototype. Depth first: the scan walks everything. */
export function shapeIssue(params: unknown): ValidationIssue | undefined {
	if (exceedsDepth(params)) return DEPTH_ISSUE;
	if (reachesPrototype(params)) return PROTOTYPE_ISSUE;
	return undefined;
}

/** The contract's 422, the one way every door and service builds it: at most MAX_LISTED_ISSUES problems listed, and how many there were. */
export function validationError(issues: readonly ValidationIssue[], message = "Parameters validation error!"): Errors.ValidationError {
	const counted = issues.length > MAX_LISTED_ISSUES ? `${message} ${issues.length} problems; the first ${MAX_LISTED_ISSUES} are listed.` : message;
	return new Errors.ValidationError(counted, "VALIDATION_ERROR", issues.slice(0, MAX_LISTED_ISSUES));
}

/** Params unsafe to walk are refused with the contract's 422. */
export function assertSafeShape(params: unknown): void {
	const issue = shapeIssue(params);
	if (issue) throw validationError([issue]);
}

type Rule = string | Record<string, unknown> | Rule[];
type NullCheck = (value: unknown, field: string, issues: ValidationIssue[]) => void;

function isNullable(rule: Rule): boolean {
	if (Array.isArray(rule)) return rule.some(isNullable);
	if (typeof rule === "string") return /\|\s*nullable\b/.test(rule);
	return rule.nullable === true;
}

/** The null check of an object's props, built once per schema. */
function propsCheck(props: Record<string, Rule>): NullCheck {
	const fields = Object.entries(props)
		.filter(([name]) => !name.startsWith("$$"))
		.map(([name, rule]) => ({ name, nullable: isNullable(rule), inner: innerCheck(rule) }));
	return (value, path, issues) => {
		if (value === null || typeof value !== "object") return;
		const obj = value as Record<string, unknown>;
		for (const { name, nullable, inner } of fields) {
			const field = path ? `${path}.${name}` : name;
			if (obj[name] === null) {
				if (!nullable) issues.push({ type: "notNull", field, message: `The '${field}' field may not be null.` });
			} else inner?.(obj[name], field, issues);
		}
	};
}

/** The check of what a rule contains: an object's props, an array's items. */
function innerCheck(rule: Rule): NullCheck | undefined {
	if (typeof rule !== "object" || Array.isArray(rule)) return undefined;
	if (rule.type === "object" && rule.props) return propsCheck(rule.props as Record<string, Rule>);
	if (rule.type === "array" && rule.items) {
		const items = rule.items as Rule;
		const nullable = isNullable(items);
		const inner = innerCheck(items);
		return (value, path, issues) => {
			if (!Array.isArray(value)) return;
			value.forEach((item, i) => {
				if (item === null && !nullable) issues.push({ type: "notNull", field: `${path}[${i}]`, message: `The '${path}[${i}]' field may not be null.` });
				else inner?.(item, `${path}[${i}]`, issues);
			});
		};
	}
	return undefined;
}

const JSON_TYPES: Record<string, { is: (v: unknown) => boolean; message: string }> = {
	number: { is: v => typeof v === "number", message: "a number" },
	boolean: { is: v => typeof v === "boolean", message: "a boolean" },
	// A Date arrives only from a check that converted already (the gateway's, in the same process): JSON has none.
	date: { is: v => typeof v === "string" || v instanceof Date, message: "a date (an ISO-8601 string)" },
};

type TypedCheck = (value: unknown, fromQuery: readonly string[], issues: ValidationIssue[]) => void;

/** The JSON type check of the top-level fields whose rule converts, built once per schema. */
function typedCheck(schema: Record<string, Rule>): TypedCheck {
	const fields = Object.entries(schema).flatMap(([name, rule]) => {
		const json = typeof rule === "object" && !Array.isArray(rule) && rule.convert === true ? JSON_TYPES[rule.type as string] : undefined;
		return json ? [{ name, json }] : [];
	});
	return (value, fromQuery, issues) => {
		if (value === null || typeof value !== "object") return;
		const obj = value as Record<string, unknown>;
		for (const { name, json } of fields) {
			if (obj[name] === undefined || obj[name] === null || fromQuery.includes(name) || json.is(obj[name])) continue;
			issues.push({ type: "jsonType", field: name, message: `The '${name}' field must be ${json.message}.`, actual: typeof obj[name] });
		}
	};
}

/** The params a REST request took from its query string (the validator is called with `{ meta: ctx }`). */
function queryFields(opts: unknown): readonly string[] {
	const fields = (opts as { meta?: { meta?: { $queryFields?: unknown } } } | undefined)?.meta?.meta?.$queryFields;
	return Array.isArray(fields) ? (fields as string[]) : [];
}

export type Check = ((params: unknown, opts?: unknown) => true | ValidationIssue[] | Promise<true | ValidationIssue[]>) & { async?: boolean };

type Handler = (ctx: { params: unknown }) => Promise<unknown>;
interface Checked {
	params?: unknown;
}

// Moleculer's typings leave the validator's compile out.
export class ShopValidator extends (Validators.Fastest as unknown as new (opts?: object) => { compile(schema: object): Check }) {
	compile(schema: Record<string, Rule>): Check {
		const check = super.compile(schema);
		const nulls = propsCheck(schema);
		const typed = typedCheck(schema);
		const guarded: Check = (params, opts) => {
			const shape = shapeIssue(params);
			if (shape) return refuse(check, [shape]);
			const issues: ValidationIssue[] = [];
			nulls(params, "", issues);
			typed(params, queryFields(opts), issues);
			return issues.length ? refuse(check, issues) : check(params, opts);
		};
		guarded.async = check.async;
		return guarded;
	}

	/**
	 * Moleculer's Validator middleware, with the contract's refusal
	 * (validationError: bounded, counted); it wraps the cacher
	 * (moleculer.config.ts orders the middlewares), so no cached answer is
	 * served to a request that validation refuses, and cache keys are built
	 * from validated, converted params.
	 */
	middleware(_broker: ServiceBroker) {
		const wrap = (handler: Handler, schema: Checked) => {
			if (!schema.params || typeof schema.params !== "object") return handler;
			const check = this.compile(schema.params as Record<string, Rule>);
			return function validated(ctx: { params: unknown }): Promise<unknown> {
				const res = check(ctx.params ?? {}, { meta: ctx });
				if (res === true) return handler(ctx);
				if (Array.isArray(res)) return Promise.reject(validationError(res));
				return res.then(r => (r === true ? handler(ctx) : Promise.reject(validationError(r))));
			};
		};
		return { name: "Validator", localAction: wrap, localEvent: wrap };
	}
}

function refuse(check: Check, issues: ValidationIssue[]): ValidationIssue[] | Promise<ValidationIssue[]> {
	return check.async ? Promise.resolve(issues) : issues;
}
