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

	describe("behind one trusted proxy (TRUST_PROXY=1), finding 7", () => {
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
