import type { Page } from "../../lib/contracts/pagination";
import { sleep } from "./processes";

/** A refusal of the shop's API: its status and the contract's error body. */
export class ApiError extends Error {
	name = "ApiError";
	constructor(
		readonly method: string,
		readonly path: string,
		readonly status: number,
		readonly body: { message?: string; type?: string; data?: unknown } | undefined,
	) {
		super(`${method} ${path}: ${status} ${body?.type ?? ""} ${body?.message ?? ""}`.replace(/\s+/g, " ").trim());
	}
}

const MAX_WAIT_MS = 65_000;
const MAX_ATTEMPTS = 5;

/**
 * A JSON client of the shop's REST API, as any client would use it: a
 * `429` waits for the end of the rate-limit window (`X-Rate-Limit-Reset`)
 * and a `503` for its `Retry-After`, then the request is sent again.
 * Only requests that may be repeated are sent here (reads, and writes
 * that are idempotent or carry an Idempotency-Key).
 */
export class ShopClient {
	token?: string;

	constructor(readonly baseUrl: string) {}

	async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
		for (let attempt = 1; ; attempt++) {
			const res = await fetch(`${this.baseUrl}/api${path}`, {
				method,
				headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...headers },
				body: body === undefined ? undefined : JSON.stringify(body),
				signal: AbortSignal.timeout(30_000),
			});
			const text = await res.text();
			const parsed = text ? (JSON.parse(text) as unknown) : undefined;
			if (res.ok) return parsed as T;
			const wait = retryDelay(res);
			if (wait === undefined || attempt >= MAX_ATTEMPTS) throw new ApiError(method, path, res.status, parsed as ApiError["body"]);
			await sleep(wait);
		}
	}

	get<T>(path: string): Promise<T> {
		return this.request<T>("GET", path);
	}

	post<T>(path: string, body: unknown = {}, headers?: Record<string, string>): Promise<T> {
		return this.request<T>("POST", path, body, headers);
	}

	patch<T>(path: string, body: unknown): Promise<T> {
		return this.request<T>("PATCH", path, body);
	}

	/** Every row of a list, page by page. */
	async all<T>(path: string): Promise<T[]> {
		const rows: T[] = [];
		const sep = path.includes("?") ? "&" : "?";
		for (let page = 1; ; page++) {
			const res = await this.get<Page<T>>(`${path}${sep}page=${page}&pageSize=100`);
			rows.push(...res.rows);
			if (page >= res.totalPages) return rows;
		}
	}
}

/** How long to wait before sending a refused request again; undefined when waiting would not help. */
function retryDelay(res: Response): number | undefined {
	if (res.status === 429) {
		const reset = Number(res.headers.get("x-rate-limit-reset"));
		return Math.min(Math.max((reset || Date.now() + 1000) - Date.now(), 100), MAX_WAIT_MS);
	}
	if (res.status === 503) return Math.min((Number(res.headers.get("retry-after")) || 1) * 1000, MAX_WAIT_MS);
	return undefined;
}
