import { Errors } from "moleculer";
import { assertSafeShape, validationError } from "../../lib/validation";

const { MoleculerClientError } = Errors;

/** moleculer-web's rate-limit store: the Memory one, or ours in Redis. */
export interface RateLimitStore {
	inc(key: string): number | Promise<number>;
	resetTime: number;
}

export class RateLimitedError extends MoleculerClientError {
	constructor() {
		super("Rate limit exceeded", 429, "RATE_LIMIT_EXCEEDED");
	}
}

/**
 * One budget per client for every door: the REST route's own store, so a
 * Socket.IO handshake or call spends from the same counter as a REST
 * request (and, with Redis, across gateways).
 */
export class RateBudget {
	constructor(
		private readonly store: RateLimitStore,
		private readonly limit: number,
	) {}

	/** Count one request of this client; throws 429 past the limit. */
	async spend(client: string): Promise<void> {
		if ((await this.take(client)).remaining < 0) throw new RateLimitedError();
	}

	/** Count one request of this client and say where it stands (what the X-Rate-Limit headers tell); negative remaining is past the limit. */
	async take(client: string): Promise<RateStanding> {
		const count = await this.store.inc(client);
		return { limit: this.limit, remaining: this.limit - count, resetTime: this.store.resetTime };
	}
}

export interface RateStanding {
	limit: number;
	remaining: number;
	/** The end of the current window, in ms since the epoch. */
	resetTime: number;
}

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
