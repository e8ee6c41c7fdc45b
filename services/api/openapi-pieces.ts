import type { JsonSchema } from "./json-schema";
import type { Answer } from "./openapi-answers";

/**
 * What the OpenAPI description's schemas and answers are written with, in a
 * module of their own: the general schemas (./openapi-schemas.ts) and the
 * notifications' (./openapi-notifications.ts), which the general ones
 * include, both use them.
 */

export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
export const str: JsonSchema = { type: "string" };
export const int: JsonSchema = { type: "integer" };
export const timestamp: JsonSchema = { type: "string", format: "date-time" };

/** An object whose properties are all present but the `optional` ones. */
export function record(properties: Record<string, JsonSchema>, optional: readonly string[] = []): JsonSchema {
	return { type: "object", properties, required: Object.keys(properties).filter(k => !optional.includes(k)) };
}

/** A page of a list: `{ rows, total, page, pageSize, totalPages }`. */
export const page = (item: string): JsonSchema =>
	record({ rows: { type: "array", items: ref(item) }, total: int, page: { type: "integer", minimum: 1 }, pageSize: { type: "integer", minimum: 1, maximum: 100 }, totalPages: int });

/** What an answer says beyond its status, description and body. */
type More = Pick<Answer, "replayed" | "errors" | "example">;

function answer(status: Answer["status"], description: string, schema: JsonSchema | undefined, more: More = {}): Answer {
	return { status, description, ...(schema && { schema }), ...more };
}

/** Answers with a body: their description, the body's schema, and the errors and request example they have. */
export const ok = (description: string, schema: JsonSchema, more?: More) => answer(200, description, schema, more);
export const created = (description: string, schema: JsonSchema, more?: More) => answer(201, description, schema, more);
export const accepted = (description: string, schema: JsonSchema, more?: More) => answer(202, description, schema, more);
/** A 204 answer, without a body. */
export const noContent = (description: string, more?: More) => answer(204, description, undefined, more);
