import { ServiceBroker, type ServiceSchema } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import { parseSettings } from "../../lib/infra/settings";
import { withSettings } from "../helpers/gateway";
import { HttpClient } from "../helpers/http";
import { waitFor } from "../helpers/broker";

interface Span {
	name: string;
	traceID: string;
	parentID: string | null;
	service?: { name: string };
}

describe("tracing", () => {
	it("is off by default and names the exporter TRACING asks for", () => {
		expect(brokerOptions(parseSettings({})).tracing).toEqual({ enabled: false });
		for (const [exporter, type] of [
			["console", "Console"],
			["jaeger", "Jaeger"],
			["zipkin", "Zipkin"],
			["datadog", "Datadog"],
		]) {
			expect(brokerOptions(parseSettings({ TRACING: exporter })).tracing).toMatchObject({ enabled: true, exporter: { type } });
		}
		expect(brokerOptions(parseSettings({ TRACING: "zipkin", TRACING_ENDPOINT: "http://zipkin:9411" })).tracing).toMatchObject({ exporter: { options: { baseURL: "http://zipkin:9411" } } });
	});

	it("makes one trace of an order placement, from the gateway through orders to products", async () => {
		const spans: Span[] = [];
		const options = brokerOptions(parseSettings({ TRACING: "console", DATA_DIR: ":memory:", JWT_SECRET: "tracing-test-secret-0123", BCRYPT_ROUNDS: "4" }));
		// The same tracing, its spans collected by Moleculer's Event exporter instead of printed.
		const broker = new ServiceBroker({ ...options, logger: false, tracing: { ...(options.tracing as object), exporter: { type: "Event", options: { eventName: "$spans", interval: 0 } } } });
		broker.createService({ name: "span-recorder", events: { $spans: (ctx: { params: Span[] }) => void spans.push(...ctx.params) } });
		const settings = { gateway: { port: 0 }, admin: { email: "admin@trace.test", password: "admin-password" } };
		for (const name of ["api", "customers", "products", "orders", "alerts", "analytics", "payments", "notifications"])
			broker.createService(withSettings(((await import(`../../services/${name}.service`)) as { default: ServiceSchema }).default, settings));
		await broker.start();
		try {
			const { port } = (broker.getLocalService("api") as unknown as { server: { address(): { port: number } } }).server.address();
			const http = new HttpClient(`http://127.0.0.1:${port}/api`);
			const admin = (await http.post("/auth/login", settings.admin)).body.token;
			const product = (await http.post("/products", { sku: "TRACE-1", name: "Traced", category: "t", priceCents: 100, stock: 5 }, admin)).body;
			const buyer = (await http.post("/auth/register", { name: "Tracer", email: "tracer@trace.test", password: "password-1" })).body.token;
			expect((await http.post("/orders", { items: [{ productId: product.id, quantity: 1 }] }, buyer)).status).toBe(201);
			const create = await waitFor(() => spans.find(s => s.name === "action 'orders.create'"), 5000, "the orders.create span");
			const trace = spans.filter(s => s.traceID === create.traceID).map(s => s.name);
			expect(trace).toEqual(expect.arrayContaining(["action 'orders.create'", "action 'products.reserve'"]));
			expect(trace.some(name => /api\.rest|POST \/api\/orders/.test(name))).toBe(true);
		} finally {
			await broker.stop();
		}
	});
});
