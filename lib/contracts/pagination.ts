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
