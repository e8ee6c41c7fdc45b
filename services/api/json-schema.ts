import Validator from "fastest-validator";

/**
 * fastest-validator rules (the actions' `params`) as JSON Schema 2020-12,
 * the dialect of OpenAPI 3.1. What the validator checks in code (`custom`
 * functions) is not expressible and is left to the rule's own description.
 */

/** A JSON Schema object: keywords to JSON values. */
export type JsonSchema = { [keyword: string]: unknown };

/** A fastest-validator rule as written in a `params` schema. */
export type Rule = string | RuleObject | Rule[];

export interface RuleObject {
	type: string;
	optional?: boolean;
	nullable?: boolean;
	default?: unknown;
	[property: string]: unknown;
}

/** A `params` schema; its `$$` keys are options of the validator, not fields. */
export type ParamsSchema = Record<string, Rule>;

// fastest-validator's typings leave its shorthand parser out.
const shorthand = new Validator() as unknown as { parseShortHand(rule: string): RuleObject };

/** The rule in its object form: shorthands (`"string|min:3"`) as fastest-validator itself reads them. */
function ruleObject(rule: string | RuleObject): RuleObject {
	return typeof rule === "string" ? shorthand.parseShortHand(rule) : rule;
}

/** A field is required when it is neither optional nor filled by a default. */
export function isRequired(rule: Rule): boolean {
	if (Array.isArray(rule)) return rule.every(isRequired);
	const r = ruleObject(rule);
	return r.optional !== true && r.default === undefined;
}

/** The fields of a params schema, without the validator's `$$` options. */
export function fieldsOf(params: ParamsSchema): Array<[string, Rule]> {
	return Object.entries(params).filter(([name]) => !name.startsWith("$$"));
}

/** An object schema of the given fields. */
export function objectSchema(fields: Array<[string, Rule]>): JsonSchema {
	const required = fields.filter(([, rule]) => isRequired(rule)).map(([name]) => name);
	return {
		type: "object",
		properties: Object.fromEntries(fields.map(([name, rule]) => [name, toJsonSchema(rule)])),
		...(required.length ? { required } : {}),
	};
}

/** Copies the rule's properties that are set to the keywords they stand for. */
function keywords(r: RuleObject, map: Record<string, string>): JsonSchema {
	const out: JsonSchema = {};
	for (const [property, keyword] of Object.entries(map)) if (r[property] !== undefined) out[keyword] = r[property];
	return out;
}

function stringSchema(r: RuleObject): JsonSchema {
	const out: JsonSchema = { type: "string", ...keywords(r, { min: "minLength", max: "maxLength", enum: "enum" }) };
	if (typeof r.length === "number") out.minLength = out.maxLength = r.length;
	if (r.empty === false && out.minLength === undefined) out.minLength = 1;
	if (r.pattern instanceof RegExp) out.pattern = r.pattern.source;
	else if (typeof r.pattern === "string") out.pattern = r.pattern;
	return out;
}

function numberSchema(r: RuleObject): JsonSchema {
	const out: JsonSchema = { type: r.integer === true ? "integer" : "number", ...keywords(r, { min: "minimum", max: "maximum", equal: "const" }) };
	if (r.positive === true) out.exclusiveMinimum = 0;
	if (r.negative === true) out.exclusiveMaximum = 0;
	return out;
}

function arraySchema(r: RuleObject): JsonSchema {
	const out: JsonSchema = { type: "array", ...keywords(r, { min: "minItems", max: "maxItems" }) };
	if (typeof r.length === "number") out.minItems = out.maxItems = r.length;
	if (r.unique === true) out.uniqueItems = true;
	if (r.items !== undefined) out.items = toJsonSchema(r.items as Rule);
	if (Array.isArray(r.enum)) out.items = { enum: r.enum };
	return out;
}

function objectRuleSchema(r: RuleObject): JsonSchema {
	const props = (r.props ?? r.properties) as ParamsSchema | undefined;
	return { ...(props ? objectSchema(fieldsOf(props)) : { type: "object" }), ...keywords(r, { minProps: "minProperties", maxProps: "maxProperties" }) };
}

/** An enum with its values' type, when they share one: Swagger UI shows an untyped schema as `any`. */
function enumSchema(values: unknown[]): JsonSchema {
	const types = new Set(values.map(v => (Number.isInteger(v) ? "integer" : typeof v)));
	const [type] = types;
	return types.size === 1 && ["string", "integer", "number", "boolean"].includes(type) ? { type, enum: values } : { enum: values };
}

/** The schema of a value of the rule's type, before `nullable` and `default`. */
function typeSchema(r: RuleObject): JsonSchema {
	switch (r.type) {
		case "any":
			return {};
		case "string":
			return stringSchema(r);
		case "email":
			return { type: "string", format: "email", ...keywords(r, { min: "minLength", max: "maxLength" }) };
		case "url":
			return { type: "string", format: "uri" };
		case "uuid":
			return { type: "string", format: "uuid" };
		case "number":
			return numberSchema(r);
		case "boolean":
			return { type: "boolean" };
		case "enum":
			return enumSchema(r.values as unknown[]);
		case "equal":
			return { const: r.value };
		case "date":
			// Only a converting rule takes what JSON can carry: a date string.
			return { type: "string", format: "date-time" };
		case "array":
			return arraySchema(r);
		case "object":
			return objectRuleSchema(r);
		case "multi":
			return { anyOf: (r.rules as Rule[]).map(toJsonSchema) };
		default:
			// Taught here before a route may use it: the description must not silently say less than the validator checks.
			throw new Error(`No JSON Schema for the fastest-validator rule type '${r.type}'`);
	}
}

/** `null` added to what the schema accepts. */
function withNull(schema: JsonSchema): JsonSchema {
	if (Array.isArray(schema.enum)) return { ...schema, ...(typeof schema.type === "string" ? { type: [schema.type, "null"] } : {}), enum: [...(schema.enum as unknown[]), null] };
	if (typeof schema.type === "string") return { ...schema, type: [schema.type, "null"] };
	return { anyOf: [schema, { type: "null" }] };
}

/** The JSON Schema of one fastest-validator rule. */
export function toJsonSchema(rule: Rule): JsonSchema {
	if (Array.isArray(rule)) return { anyOf: rule.map(toJsonSchema) };
	const r = ruleObject(rule);
	let schema = typeSchema(r);
	if (r.nullable === true) schema = withNull(schema);
	if (r.default !== undefined && typeof r.default !== "function") schema = { ...schema, default: r.default };
	return schema;
}
