import { Errors } from "moleculer";
import { assertSafeShape, validationError } from "../../lib/infra/validation";

/* What a Socket.IO `call` brings, checked before the route table and the action's own rules see it. */

const { MoleculerClientError } = Errors;

/** A Socket.IO `call`'s params as an action takes them: none is `{}`; anything but an object (`null` too: a value, not an absence) is refused. */
export function callParams(params: unknown): object {
	if (params === undefined) return {};
	if (params === null || typeof params !== "object" || Array.isArray(params)) {
		throw validationError([{ type: "object", field: "params", message: "The params of a call must be an object." }]);
	}
	assertSafeShape(params);
	return params;
}

/** The action a Socket.IO `call` names, which must be a string. */
export function callAction(action: unknown): string {
	if (typeof action !== "string") throw new MoleculerClientError("The action of a call must be a string", 400, "BAD_REQUEST");
	return action;
}
