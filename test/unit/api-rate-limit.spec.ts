import crypto from "crypto";
import http from "http";
import net from "net";
import { BACKEND_SERVICES } from "../../lib/contracts/services";
import { startInProcessShop } from "../helpers/gateway";
import { HttpClient } from "../helpers/http";

describe("api gateway rate limit (memory store)", () => {
	let shop: Awaited<ReturnType<typeof startInProcessShop>>;
	let base: string;

	beforeAll(async () => {
		shop = await startInProcessShop(["api", "products"], { gateway: { rateLimit: { max: 3, windowMs: 60_000 } } });
		base = `${shop.url}/api`;
	});
	afterAll(() => shop.stop());

	it("answers 429 to request N+1 from one client, with the limit headers", async () => {
		const http = new HttpClient(base);
		const statuses = [];
		for (let i = 0; i < 4; i++) statuses.push((await http.get("/categories")).status);
		expect(statuses).toEqual([200, 200, 200, 429]);
		const last = await http.get("/categories");
		expect(last.status).toBe(429);
		expect(last.body).toMatchObject({ code: 429, type: "RATE_LIMIT_EXCEEDED" });
		expect(last.headers.get("x-rate-limit-limit")).toBe("3");
		expect(last.headers.get("x-rate-limit-remaining")).toBe("0");
	});

	it("does not trust X-Forwarded-For unless TRUST_PROXY is set", async () => {
		// Same socket address as the previous test, which used up the limit: a forged header does not help.
		const forged = new HttpClient(base, { "x-forwarded-for": "203.0.113.9" });
		expect((await forged.get("/categories")).status).toBe(429);
	});

	describe("behind one trusted proxy (TRUST_PROXY=1)", () => {
		let proxied: Awaited<ReturnType<typeof startInProcessShop>>;
		beforeAll(async () => {
			proxied = await startInProcessShop(["api", "products"], { gateway: { trustProxyHops: 1, rateLimit: { max: 3, windowMs: 60_000 } } });
		});
		afterAll(() => proxied.stop());

		it("counts the address the proxy appended, whatever the client wrote before it", async () => {
			const statuses = [];
			for (let i = 0; i < 5; i++) {
				const http = new HttpClient(`${proxied.url}/api`, { "x-forwarded-for": `198.51.100.${i}, 203.0.113.7` });
				statuses.push((await http.get("/categories")).status);
			}
			expect(statuses).toEqual([200, 200, 200, 429, 429]);
			const another = new HttpClient(`${proxied.url}/api`, { "x-forwarded-for": "203.0.113.7, 203.0.113.8" });
			expect((await another.get("/categories")).status).toBe(200);
		});
	});
});

/** The status a WebSocket upgrade to Socket.IO gets: 101 when it is let through, else the refusal's status. */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
	return new Promise((resolve, reject) => {
		const req = http.get(`${url}/socket.io/?EIO=4&transport=websocket`, {
			headers: { ...headers, connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": crypto.randomBytes(16).toString("base64") },
		});
		req.once("upgrade", (res, socket) => {
			socket.destroy();
			resolve(res.statusCode ?? 0);
		});
		req.once("response", res => {
			res.resume();
			resolve(res.statusCode ?? 0);
		});
		req.once("error", reject);
	});
}

/** A TCP port with nothing listening on it. */
function closedPort(): Promise<number> {
	return new Promise(resolve => {
		const server = net.createServer().listen(0, "127.0.0.1", () => {
			const { port } = server.address() as net.AddressInfo;
			server.close(() => resolve(port));
		});
	});
}

describe("every door on the one budget (RATE_LIMIT_MAX=10)", () => {
	let shop: Awaited<ReturnType<typeof startInProcessShop>>;
	beforeAll(async () => {
		shop = await startInProcessShop(["api", "customers", "products", "orders", "alerts", "analytics", "payments", "notifications"], {
			gateway: { trustProxyHops: 1, rateLimit: { max: 10, windowMs: 60_000 } },
		});
	});
	afterAll(() => shop.stop());

	it("answers the 11th request of one client with 429 and the limit headers, whichever door it knocks on", async () => {
		const doors = ["/api/health", "/", "/js/main.js", "/socket.io/?EIO=4&transport=polling", "/socket.io/socket.io.esm.min.js", "/api/nope", "/nope"];
		for (const [i, door] of doors.entries()) {
			const headers = { "x-forwarded-for": `198.51.100.${i + 1}` };
			const refused = [];
			for (let n = 0; n < 15; n++) {
				const res = await fetch(shop.url + door, { headers });
				const text = await res.text();
				refused.push(res.status === 429);
				if (n === 14) {
					expect({ door, body: JSON.parse(text) }).toEqual({ door, body: expect.objectContaining({ code: 429, type: "RATE_LIMIT_EXCEEDED" }) });
					expect({ door, limit: res.headers.get("x-rate-limit-limit"), remaining: res.headers.get("x-rate-limit-remaining") }).toEqual({ door, limit: "10", remaining: "0" });
				}
			}
			expect({ door, refused }).toEqual({ door, refused: [...Array<boolean>(10).fill(false), ...Array<boolean>(5).fill(true)] });
		}
	});

	it("counts each WebSocket upgrade, and refuses the 11th with 429", async () => {
		const headers = { "x-forwarded-for": "198.51.100.99" };
		const statuses = [];
		for (let n = 0; n < 12; n++) statuses.push(await upgradeStatus(shop.url, headers));
		expect(statuses).toEqual([...Array<number>(10).fill(101), 429, 429]);
	});
});

describe("health while the rate-limit counters' Redis is unreachable", () => {
	let shop: Awaited<ReturnType<typeof startInProcessShop>>;
	beforeAll(async () => {
		shop = await startInProcessShop(["api", "customers", "products", "orders", "alerts", "analytics", "payments", "carts", "notifications"], {
			gateway: { redisUrl: `redis://127.0.0.1:${await closedPort()}` },
		});
	});
	afterAll(() => shop.stop());

	it("answers health uncounted: 503 degraded with the cache down, never CACHE_UNAVAILABLE", async () => {
		const res = await new HttpClient(`${shop.url}/api`).get("/health");
		expect(res.status).toBe(503);
		expect(res.body).toEqual({ status: "degraded", services: expect.any(Object), dependencies: { transporter: "none", cache: "down" } });
		expect(Object.values(res.body.services)).toEqual(Array(BACKEND_SERVICES.length).fill("running"));
	});

	it("keeps every other door shut with 503 CACHE_UNAVAILABLE, since the limit cannot be kept", async () => {
		const res = await new HttpClient(`${shop.url}/api`).get("/categories");
		expect(res.status).toBe(503);
		expect(res.body).toMatchObject({ code: 503, type: "CACHE_UNAVAILABLE" });
		expect((await fetch(`${shop.url}/`)).status).toBe(503);
	});
});
