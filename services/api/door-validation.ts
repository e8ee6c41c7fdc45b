import type { ServiceSchema } from "moleculer";
import { assertSafeShape, validationError, type Check } from "../../lib/infra/validation";
import { actionParams } from "./openapi";

interface Validator {
	compile(schema: object): Check;
}

/**
 * Every routed action's params checked at the door, REST and Socket.IO
 * alike, with the action's own rules (the schemas the gateway documents):
 * an invalid request is refused before anything on the way (the near
 * cache, the owner's cache) could answer it, and cache keys are built from
 * params that passed, converted (`?pageSize=9` and `{"pageSize":"9"}` are
 * not one key: the second is a 422). The owning service checks again, as
 * it does for every caller.
 */
export class DoorValidation {
	private readonly checks = new Map<string, Check | null>();

	constructor(
		private readonly validator: Validator,
		private readonly services: readonly ServiceSchema[],
	) {}

	/** Refuses params that break the action's rules with the contract's 422; converts and strips them as the owner would. */
	async assert(action: string, params: object, meta: object): Promise<void> {
		assertSafeShape(params);
		const check = this.checkOf(action);
		if (!check) return;
		const res = await check(params, { meta: { meta } });
		if (res !== true) throw validationError(res);
	}

	private checkOf(action: string): Check | null {
		let check = this.checks.get(action);
		if (check === undefined) {
			const schema = actionParams(this.services, action);
			check = Object.keys(schema).length ? this.validator.compile(schema) : null;
			this.checks.set(action, check);
		}
		return check;
	}
}
