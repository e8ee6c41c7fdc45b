import type { AddressInfo } from "net";
import type { ServiceBroker } from "moleculer";
import { createTestBroker } from "../helpers/broker";
import { HttpClient } from "../helpers/http";

describe("api gateway rate limit (memory store)", () => {
	let broker: ServiceBroker;
	let base: string;

	beforeAll(async () => {
		Object.assign(process.env, { PORT: "0", RATE_LIMIT_MAX: "3", RATE_LIMIT_WINDOW_MS: "60000" });
		jest.resetModules();
		broker = createTestBroker();
		broker.createService((await import("../../services/api.service")).default);
		broker.createService((await import("../../services/products.service")).default);
		await broker.start();
		base = `http://127.0.0.1:${((broker.getLocalService("api") as any).server.address() as AddressInfo).port}/api`;
	});
	afterAll(async () => {
		await broker.stop();
		for (const k of ["PORT", "RATE_LIMIT_MAX", "RATE_LIMIT_WINDOW_MS", "TRUST_PROXY"]) delete process.env[k];
	});

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
});
