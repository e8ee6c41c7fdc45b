import type { ActionSchema } from "moleculer";
import type { Route } from "../../lib/contracts/routes";
import { MAX_DEPTH } from "../../lib/infra/validation";
import { ANSWERS, HEADER_DOCS, type Answer, type ErrorAnswer, type ErrorStatus } from "./openapi-answers";
import { ANSWER_SCHEMAS } from "./openapi-schemas";
import { DEGRADED_HEALTH_EXAMPLE, ERROR_EXAMPLES, exampleOf, ownErrorExample } from "./openapi-examples";
import { webhooksSection } from "./openapi-notifications";
import { fieldsOf, isRequired, objectSchema, toJsonSchema, type JsonSchema, type ParamsSchema, type Rule } from "./json-schema";

/**
 * The OpenAPI 3.1 description of the REST API, generated at the gateway's
 * start from the route table (lib/contracts/routes.ts) and the `params` of the
 * actions it names, the very rules that validate each request: a route or
 * a rule changed is a description changed.
 */

export interface Parameter {
	name: string;
	in: "path" | "query" | "header";
	required: boolean;
	description?: string;
	schema: JsonSchema;
}

export interface Response {
	description: string;
	headers?: Record<string, { $ref: string }>;
	content?: Record<string, { schema: JsonSchema; example: unknown }>;
}

export interface Operation {
	operationId: string;
	tags: string[];
	summary: string;
	description: string;
	security?: Array<Record<string, string[]>>;
	parameters?: Parameter[];
	requestBody?: { required: boolean; description: string; content: Record<string, { schema: JsonSchema; example?: unknown }> };
	responses: Record<string, Response | { $ref: string }>;
}

export interface OpenApiDocument {
	openapi: "3.1.0";
	info: { title: string; version: string; description: string };
	servers: Array<{ url: string; description: string }>;
	tags: Array<{ name: string }>;
	paths: Record<string, Record<string, Operation>>;
	/** What the shop sends to webhook endpoints, per event type. */
	webhooks: Record<string, object>;
	components: {
		schemas: Record<string, JsonSchema>;
		securitySchemes: Record<string, object>;
		responses: Record<string, Response>;
		headers: Record<string, { description: string; schema: JsonSchema }>;
	};
}

export interface DocumentOptions {
	version: string;
	rateLimit: { max: number; windowMs: number };
}

const JSON_TYPE = "application/json";
const errorContent = (example: unknown, schema: JsonSchema = { $ref: "#/components/schemas/Error" }) => ({ [JSON_TYPE]: { schema, example } });
const RATE_HEADERS = ["X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"];
const rateHeaders = () => Object.fromEntries(RATE_HEADERS.map(h => [h, { $ref: `#/components/headers/${h}` }]));

/** The errors every route of a kind can answer, as `components.responses`, by status. */
const SHARED_ERRORS: Readonly<Record<ErrorStatus, [name: string, description: string]>> = {
	400: ["BadRequest", "Malformed JSON (`INVALID_JSON`), or a body that does not decode"],
	401: ["Unauthorized", "No token (`NO_TOKEN`), or an invalid or expired one (`INVALID_TOKEN`)"],
	403: ["Forbidden", "The caller's role may not do this"],
	404: ["NotFound", "No such resource (another customer's is not found either)"],
	409: ["Conflict", "The resource's state forbids it"],
	413: ["PayloadTooLarge", "A body over 100 kB, after decoding"],
	415: ["UnsupportedMediaType", "A Content-Encoding other than identity, gzip or deflate, or a charset other than UTF-8"],
	422: [
		"UnprocessableEntity",
		`The request breaks the action's rules (\`VALIDATION_ERROR\`, \`data\` naming each field): a wrong type (JSON is taken as typed), \`null\` where not nullable, nesting deeper than ${MAX_DEPTH}`,
	],
	429: ["TooManyRequests", "Over the client's rate limit"],
	503: ["ServiceUnavailable", "A part of the shop (a service, Redis, RabbitMQ) is unavailable right now; try again after Retry-After seconds"],
};

function sharedResponses(): Record<string, Response> {
	const out: Record<string, Response> = {};
	for (const [status, [name, description]] of Object.entries(SHARED_ERRORS)) {
		const response: Response = { description, content: errorContent(ERROR_EXAMPLES[Number(status)], status === "422" ? { $ref: "#/components/schemas/ValidationError" } : undefined) };
		if (status === "429") response.headers = rateHeaders();
		if (status === "503") response.headers = { "Retry-After": { $ref: "#/components/headers/Retry-After" } };
		out[name] = response;
	}
	return out;
}

/** What the description reads of a service schema. */
export interface SchemaLike {
	name?: string;
	actions?: object;
	mixins?: SchemaLike[];
}

/** The action's definition in a schema or, failing that, in its mixins, in the order Moleculer lets them win. */
function findAction(schema: SchemaLike, name: string): Pick<ActionSchema, "params"> | undefined {
	const own = (schema.actions as Record<string, unknown> | undefined)?.[name];
	if (own === false) return undefined;
	if (typeof own === "function") return {};
	if (own && typeof own === "object") return own;
	for (const mixin of schema.mixins ?? []) {
		const found = findAction(mixin, name);
		if (found) return found;
	}
	return undefined;
}

/** The `params` of a routed action: the route table may only name actions that exist. */
export function actionParams(services: readonly SchemaLike[], action: string): ParamsSchema {
	const dot = action.lastIndexOf(".");
	const service = services.find(s => s.name === action.slice(0, dot));
	const definition = service && findAction(service, action.slice(dot + 1));
	if (!definition) throw new Error(`The route table names '${action}', which no service defines`);
	return (definition.params ?? {}) as ParamsSchema;
}

function answerOf(action: string): Answer {
	const answer = ANSWERS[action];
	if (!answer) throw new Error(`No documented answer for '${action}' (services/api/openapi-answers.ts)`);
	return answer;
}

/** `/products/:id` as OpenAPI writes it: `/api/products/{id}`. */
export const openApiPath = (route: Route) => `/api${route.path.replace(/:(\w+)/g, "{$1}")}`;

const pathNames = (route: Route) => [...route.path.matchAll(/:(\w+)/g)].map(m => m[1]);

const takesBody = (route: Route) => route.method === "POST" || route.method === "PATCH";

function accessText(route: Route): string {
	switch (route.access) {
		case "public":
			return "Anyone.";
		case "customer":
			return "Signed in (`Authorization: Bearer <token>`).";
		default:
			return "Admins only (`Authorization: Bearer <token>` of an admin).";
	}
}

function parameters(route: Route, fields: Array<[string, Rule]>): Parameter[] {
	const params = Object.fromEntries(fields);
	const inPath = pathNames(route);
	const out: Parameter[] = inPath.map(name => ({ name, in: "path", required: true, schema: params[name] ? toJsonSchema(params[name]) : { type: "string" } }));
	if (!takesBody(route)) {
		for (const [name, rule] of fields) if (!inPath.includes(name)) out.push({ name, in: "query", required: isRequired(rule), schema: toJsonSchema(rule) });
	}
	for (const name of route.headers ?? []) out.push({ name, ...HEADER_DOCS[name], in: "header", required: false });
	return out;
}

function requestBody(fields: Array<[string, Rule]>, answer: Answer): Operation["requestBody"] {
	const schema = objectSchema(fields);
	return {
		required: Array.isArray(schema.required),
		description: 'JSON, taken as typed (`"12"` is not a number); unknown fields are removed, never stored.',
		content: { [JSON_TYPE]: { schema, ...(answer.example ? { example: answer.example } : {}) } },
	};
}

function errorResponse(status: ErrorStatus, own: ErrorAnswer | undefined): Response | { $ref: string } {
	const [name] = SHARED_ERRORS[status];
	if (own === undefined) return { $ref: `#/components/responses/${name}` };
	if (typeof own === "string")
		return {
			description: own,
			content: errorContent(ownErrorExample(status, own), status === 422 ? { anyOf: [{ $ref: "#/components/schemas/ValidationError" }, { $ref: "#/components/schemas/Error" }] } : undefined),
		};
	return { description: own.description, content: errorContent(own.degradedHealth ? DEGRADED_HEALTH_EXAMPLE : exampleOf(own.schema), own.schema) };
}

function responses(route: Route, fields: Array<[string, Rule]>, answer: Answer): Operation["responses"] {
	const success = (description: string): Response => ({
		description,
		headers: rateHeaders(),
		...(answer.schema ? { content: { [JSON_TYPE]: { schema: answer.schema, example: exampleOf(answer.schema) } } } : {}),
	});
	const out: Operation["responses"] = { [answer.status]: success(answer.description) };
	if (answer.replayed) out[200] = success(answer.replayed);
	const statuses = new Set<ErrorStatus>(Object.keys(answer.errors ?? {}).map(Number) as ErrorStatus[]);
	// A body nested too deep is 422 on any route that takes one, fields or none.
	if (takesBody(route)) for (const s of [400, 413, 415, 422] as const) statuses.add(s);
	if (route.access !== "public") statuses.add(401);
	if (route.access === "admin") statuses.add(403);
	if (pathNames(route).length) statuses.add(404);
	if (fields.length) statuses.add(422);
	statuses.add(429);
	statuses.add(503);
	for (const status of [...statuses].sort((a, b) => a - b)) out[status] = errorResponse(status, answer.errors?.[status]);
	return out;
}

function operation(route: Route, services: readonly SchemaLike[]): Operation {
	const fields = fieldsOf(actionParams(services, route.action));
	const answer = answerOf(route.action);
	const inPath = pathNames(route);
	const bodyFields = takesBody(route) ? fields.filter(([name]) => !inPath.includes(name)) : [];
	const params = parameters(route, fields);
	return {
		operationId: route.action,
		tags: [route.tag],
		summary: route.summary,
		description: accessText(route),
		...(route.access === "public" ? {} : { security: [{ bearerAuth: [] }] }),
		...(params.length ? { parameters: params } : {}),
		...(bodyFields.length ? { requestBody: requestBody(bodyFields, answer) } : {}),
		responses: responses(route, fields, answer),
	};
}

/** The document for these routes, whose actions the given service schemas define. */
export function buildOpenApi(routes: readonly Route[], services: readonly SchemaLike[], options: DocumentOptions): OpenApiDocument {
	const paths: OpenApiDocument["paths"] = {};
	for (const route of routes) (paths[openApiPath(route)] ??= {})[route.method.toLowerCase()] = operation(route, services);
	const { max, windowMs } = options.rateLimit;
	return {
		openapi: "3.1.0",
		info: {
			title: "Shop API",
			version: options.version,
			description: [
				"The REST API of the shop's gateway. JSON in and out; money is an integer number of cents; timestamps are ISO-8601 strings; ids are opaque strings.",
				`Every request but health counts against the client's rate limit: ${max} requests per ${windowMs} ms (\`X-Rate-Limit-*\` headers; \`429\` over it).`,
				"Lists take `page` and `pageSize` (1 to 100) and answer `{ rows, total, page, pageSize, totalPages }`.",
				"Generated from the gateway's route table and the actions' validation rules.",
			].join("\n\n"),
		},
		servers: [{ url: "/", description: "This gateway" }],
		tags: [...new Set(routes.map(r => r.tag))].map(name => ({ name })),
		paths,
		webhooks: webhooksSection(),
		components: {
			schemas: ANSWER_SCHEMAS,
			securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "The token of `POST /api/auth/register` or `POST /api/auth/login`" } },
			responses: sharedResponses(),
			headers: {
				"X-Rate-Limit-Limit": { description: "Requests allowed per window", schema: { type: "integer" } },
				"X-Rate-Limit-Remaining": { description: "Requests left in this window", schema: { type: "integer" } },
				"X-Rate-Limit-Reset": { description: "When the window ends (ms since the epoch)", schema: { type: "integer" } },
				"Retry-After": { description: "Seconds to wait before trying again", schema: { type: "integer" } },
			},
		},
	};
}
