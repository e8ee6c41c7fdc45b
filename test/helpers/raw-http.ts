import http from "http";

export interface RawResult {
	status: number;
	text: string;
	/** The body parsed as JSON, or undefined when it is not JSON. */
	body: any;
	headers: http.IncomingHttpHeaders;
}

/**
 * One HTTP request with any method, any headers and any body bytes (fetch
 * refuses a body on GET and sets some headers itself): what a hostile
 * client can send.
 */
export class RawHttp {
	private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

	constructor(private readonly base: string) {}

	request(method: string, path: string, opts: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<RawResult> {
		const url = new URL(this.base + path);
		const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body, "utf8");
		const headers: Record<string, string | number> = { ...opts.headers };
		if (body !== undefined) headers["content-length"] = body.length;
		return new Promise((resolve, reject) => {
			const req = http.request({ agent: this.agent, host: url.hostname, port: url.port, method, path: url.pathname + url.search, headers }, res => {
				const chunks: Buffer[] = [];
				res.on("data", (c: Buffer) => chunks.push(c));
				res.on("error", reject);
				res.on("end", () => {
					const text = Buffer.concat(chunks).toString("utf8");
					let parsed: unknown;
					try {
						parsed = text ? JSON.parse(text) : undefined;
					} catch {
						parsed = undefined;
					}
					resolve({ status: res.statusCode ?? 0, text, body: parsed, headers: res.headers });
				});
			});
			req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${path}: no answer in 15 s`)));
			req.on("error", reject);
			req.end(body);
		});
	}

	close(): void {
		this.agent.destroy();
	}
}
