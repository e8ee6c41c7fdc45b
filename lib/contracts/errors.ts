import { Errors } from "moleculer";

const { MoleculerClientError } = Errors;

export class NotFoundError extends MoleculerClientError {
	constructor(entity: string, id?: string) {
		super(`${entity} not found`, 404, "NOT_FOUND", id === undefined ? undefined : { id });
	}
}

export class ConflictError extends MoleculerClientError {
	constructor(message: string, type = "CONFLICT", data?: unknown) {
		super(message, 409, type, data);
	}
}

export class UnprocessableError extends MoleculerClientError {
	constructor(message: string, data?: unknown, type = "UNPROCESSABLE_ENTITY") {
		super(message, 422, type, data);
	}
}

export class UnauthorizedError extends MoleculerClientError {
	constructor(message = "Unauthorized", type = "UNAUTHORIZED") {
		super(message, 401, type);
	}
}

export class ForbiddenError extends MoleculerClientError {
	constructor(message = "Forbidden", type = "FORBIDDEN") {
		super(message, 403, type);
	}
}

export interface ShortItem {
	productId: string;
	requested: number;
	available: number;
}

export class InsufficientStockError extends MoleculerClientError {
	constructor(short: ShortItem[]) {
		super("Insufficient stock", 409, "INSUFFICIENT_STOCK", { items: short });
	}
}

/** Redis is away: what every door answers (503, with Retry-After). */
export class CacheUnavailableError extends Errors.MoleculerRetryableError {
	constructor(cause?: Error) {
		super("The cache (Redis) is unavailable; try again shortly", 503, "CACHE_UNAVAILABLE", cause ? { reason: cause.message } : undefined);
	}
}

export class RateLimitedError extends MoleculerClientError {
	constructor() {
		super("Rate limit exceeded", 429, "RATE_LIMIT_EXCEEDED");
	}
}

export class TooManyLoginAttemptsError extends MoleculerClientError {
	constructor() {
		super("Too many sign-in attempts on this account; try again later", 429, "TOO_MANY_LOGIN_ATTEMPTS");
	}
}

/** The project's errors that cross nodes, by name. */
const PROJECT_ERRORS: Record<string, new (...args: never[]) => Error> = {
	NotFoundError,
	ConflictError,
	UnprocessableError,
	UnauthorizedError,
	ForbiddenError,
	InsufficientStockError,
	CacheUnavailableError,
};

/**
 * Moleculer rebuilds only its own error classes from a remote node's answer;
 * the project's came back as plain `Error`s, which the gateway answered as
 * 500 InternalServerError. These keep their class, code, type and data.
 */
export class ShopErrorRegenerator extends Errors.Regenerator {
	restoreCustomError(plain: { name: string; message: string; code?: number; type?: string; data?: unknown }): Error | undefined {
		const Class = PROJECT_ERRORS[plain.name];
		if (!Class) return undefined;
		const err = Object.create(Class.prototype as object) as Errors.MoleculerError;
		Object.assign(err, { name: plain.name, message: plain.message, code: plain.code, type: plain.type, data: plain.data });
		return err;
	}
}
