/** A small HTTP client for seeding and for timing single requests (keep-alive, no retries). */
import http from "http";
import { performance } from "perf_hooks";

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface Answer {
	status: number;
	body: any;
	/** Milliseconds from sending to the last byte of the answer. */
	ms: number;
}

export function request(method: string, url: string, body?: unknown, token?: string): Promise<Answer> {
	const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
	const headers: Record<string, string | number> = {};
	if (payload) headers["content-type"] = "application/json";
	if (payload) headers["content-length"] = payload.length;
	if (token) headers.authorization = `Bearer ${token}`;
	return new Promise((resolve, reject) => {
		const started = performance.now();
		const req = http.request(url, { method, headers, agent }, res => {
			const chunks: Buffer[] = [];
			res.on("data", (c: Buffer) => chunks.push(c));
			res.on("end", () => {
				const ms = performance.now() - started;
				const text = Buffer.concat(chunks).toString("utf8");
				let parsed: unknown = text;
				try {
					parsed = text ? JSON.parse(text) : undefined;
				} catch {
					// not JSON: keep the text
				}
				resolve({ status: res.statusCode ?? 0, body: parsed, ms });
			});
			res.on("error", reject);
		});
		req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${url}: no answer in 60 s`)));
		req.on("error", reject);
		req.end(payload);
	});
}

/** The answer's body when the status is 2xx, else an error naming the request. */
export async function json(method: string, url: string, body?: unknown, token?: string): Promise<any> {
	const res = await request(method, url, body, token);
	if (res.status < 200 || res.status > 299) throw new Error(`${method} ${url}: ${res.status} ${typeof res.body === "string" ? res.body : JSON.stringify(res.body)}`);
	return res.body;
}

/** `fn` over `items`, at most `concurrency` at a time, answers in the items' order. */
export async function pool<T, R>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
	const out: R[] = new Array(items.length);
	let next = 0;
	const worker = async () => {
		while (next < items.length) {
			const i = next++;
			out[i] = await fn(items[i], i);
		}
	};
	await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
	return out;
}

export function closeClient(): void {
	agent.destroy();
}
