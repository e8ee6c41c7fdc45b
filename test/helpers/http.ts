import http from "http";

export interface HttpResult {
	status: number;
	body: any;
	text: string;
	headers: Headers;
}

/** A small JSON client that remembers every body it saw (to check none leaks a stack or a hash). */
export class HttpClient {
	readonly seen: string[] = [];

	constructor(
		public base: string,
		private readonly defaultHeaders: Record<string, string> = {},
	) {}

	async request(method: string, path: string, opts: { body?: unknown; raw?: string; token?: string; headers?: Record<string, string> } = {}): Promise<HttpResult> {
		const headers: Record<string, string> = { ...this.defaultHeaders, ...opts.headers };
		if (opts.token) headers.authorization = `Bearer ${opts.token}`;
		let body: string | undefined;
		if (opts.raw !== undefined) body = opts.raw;
		else if (opts.body !== undefined) body = JSON.stringify(opts.body);
		if (body !== undefined) headers["content-type"] ??= "application/json";
		const res = await fetch(this.base + path, { method, headers, body });
		const text = await res.text();
		this.seen.push(text);
		let parsed: unknown;
		try {
			parsed = text ? JSON.parse(text) : undefined;
		} catch {
			parsed = undefined;
		}
		return { status: res.status, body: parsed, text, headers: res.headers };
	}

	/** Any bytes with any headers, a GET with a body included (fetch refuses those). */
	raw(method: string, path: string, body: Buffer | string | undefined, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string }> {
		return new Promise((resolve, reject) => {
			const length = body === undefined ? {} : { "content-length": String(Buffer.byteLength(body)) };
			const req = http.request(this.base + path, { method, headers: { ...this.defaultHeaders, ...length, ...headers } }, res => {
				const chunks: Buffer[] = [];
				res.on("data", (c: Buffer) => chunks.push(c));
				res.on("end", () => {
					const text = Buffer.concat(chunks).toString("utf8");
					this.seen.push(text);
					let parsed: unknown;
					try {
						parsed = text ? JSON.parse(text) : undefined;
					} catch {
						parsed = undefined;
					}
					resolve({ status: res.statusCode ?? 0, body: parsed, text });
				});
			});
			req.on("error", reject);
			req.end(body);
		});
	}

	get(path: string, token?: string, headers?: Record<string, string>) {
		return this.request("GET", path, { token, headers });
	}
	post(path: string, body?: unknown, token?: string, headers?: Record<string, string>) {
		return this.request("POST", path, { body, token, headers });
	}
	patch(path: string, body?: unknown, token?: string) {
		return this.request("PATCH", path, { body, token });
	}
	delete(path: string, token?: string) {
		return this.request("DELETE", path, { token });
	}
}
