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

/** A duplicate-key error from either adapter (NeDB or MongoDB). */
export function isDuplicateKeyError(err: unknown): boolean {
	const e = err as { errorType?: string; code?: number };
	return e?.errorType === "uniqueViolated" || e?.code === 11000;
}
