/**
 * Hostile JSON on the embedded default: the node's RSS before and after
 * 1,000 requests whose body hides a value 20,000 levels deep behind a
 * `__proto__` key (`GET /api/products`, `POST /api/orders`), and how they
 * were answered. Such a request once made the cache key builder recurse
 * until the stack overflowed, and left its context tracked: about 1 MB
 * kept per request.
 */
import http from "http";
import { settings } from "../config";
import { rssBytes, waitUntilQuiet } from "../procs";
import { atMost, fmt, rows } from "../report";
import { startEmbedded, seed } from "../systems";

const REQUESTS = 1000;
const CONCURRENCY = 10;
const MB = 1024 * 1024;
const DEEP = 20_000;

function send(base: string, method: string, path: string, body: string, token?: string): Promise<number> {
	return new Promise((resolve, reject) => {
		const headers: Record<string, string | number> = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
		if (token) headers.authorization = `Bearer ${token}`;
		const req = http.request(`${base}${path}`, { method, headers }, res => {
			res.resume();
			res.on("end", () => resolve(res.statusCode ?? 0));
		});
		req.on("error", reject);
		req.end(body);
	});
}

export async function hostileScenario(): Promise<void> {
	const system = await startEmbedded("hostile");
	try {
		const seeded = await seed(system.base, { products: 2, customers: 1 });
		const token = seeded.customers[0].token;
		const hidden = `{"search":${"[".repeat(DEEP)}${"]".repeat(DEEP)}}`;
		const bodies: Array<[string, string, string]> = [
			["GET", "/products", `{"__proto__":${hidden}}`],
			["POST", "/orders", `{"__proto__":${hidden},"items":[{"productId":"${seeded.productIds[0]}","quantity":1}]}`],
		];
		const pid = system.children[0].proc.pid!;
		await waitUntilQuiet(pid);
		const before = rssBytes(pid);
		const statuses = new Map<number, number>();
		let next = 0;
		await Promise.all(
			Array.from({ length: CONCURRENCY }, async () => {
				while (next < REQUESTS) {
					const [method, path, body] = bodies[next++ % bodies.length];
					const status = await send(system.base, method, path, body, token);
					statuses.set(status, (statuses.get(status) ?? 0) + 1);
				}
			}),
		);
		await waitUntilQuiet(pid);
		const after = rssBytes(pid);
		const answers = [...statuses].map(([status, n]) => `${fmt(n)} × ${status}`).join(", ");
		rows.push({ scenario: "hostile", figure: "RSS MB before", system: system.label, values: [before / MB], value: before / MB, decimals: 1 });
		rows.push({
			scenario: "hostile",
			figure: `RSS MB after ${fmt(REQUESTS)} prototype-key bodies`,
			system: system.label,
			values: [after / MB],
			value: after / MB,
			decimals: 1,
			ratio: `+${fmt((after - before) / MB, 1)} MB`,
			target: atMost((after - before) / MB, 50, "≤ +50 MB (was ~1 GB)"),
			notes: `answers: ${answers}${settings.rounds > 1 ? "; one run" : ""}`,
		});
	} finally {
		await system.stop();
	}
}
