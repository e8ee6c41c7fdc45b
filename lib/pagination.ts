/** Validation of `page` / `pageSize` (query strings, so converted). */
export const pageParams = {
	page: { type: "number", integer: true, min: 1, max: 1_000_000, convert: true, optional: true, default: 1 },
	pageSize: { type: "number", integer: true, min: 1, max: 100, convert: true, optional: true, default: 20 },
} as const;

export interface Page<T> {
	rows: T[];
	total: number;
	page: number;
	pageSize: number;
	totalPages: number;
}

export function toPage<T>(rows: T[], total: number, page: number, pageSize: number): Page<T> {
	return { rows, total, page, pageSize, totalPages: Math.ceil(total / pageSize) };
}

export function pageWindow(page: number, pageSize: number): { offset: number; limit: number } {
	return { offset: (page - 1) * pageSize, limit: pageSize };
}
