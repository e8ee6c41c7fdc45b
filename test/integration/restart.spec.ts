import { waitFor } from "../helpers/broker";
import { ADMIN_ENV, HEALTH_POLL_MS, TestCluster, loginAdmin } from "../helpers/cluster";
import { HttpClient } from "../helpers/http";
import { BACKEND_SERVICES } from "../../lib/contracts/services";

/** The embedded default (`npm start`): one process, no outside servers, data on disk. */
describe("the embedded default across a restart", () => {
	const cluster = new TestCluster({ TRANSPORTER: "", CACHER: "", ...ADMIN_ENV });
	afterAll(() => cluster.stopAll(), 30_000);

	const healthy = async (http: HttpClient) => waitFor(async () => (await http.get("/health")).status === 200, 20_000, "all services running", HEALTH_POLL_MS);

	it("keeps customers, products, orders and stock after a restart", async () => {
		const first = await cluster.start("shop", ["api", ...BACKEND_SERVICES].join(","));
		const http = new HttpClient(`http://127.0.0.1:${first.port}/api`);
		await healthy(http);
		const admin = await loginAdmin(http);
		const buyer = (await http.post("/auth/register", { name: "Kept", email: "kept@shop.test", password: "password-1" })).body.token;
		const product = (await http.post("/products", { sku: "KEEP-1", name: "Kept", category: "c", priceCents: 500, stock: 9 }, admin)).body;
		const order = (await http.post("/orders", { items: [{ productId: product.id, quantity: 4 }] }, buyer)).body;
		expect(order.status).toBe("confirmed");
		await first.stop();

		const second = await cluster.start("shop", ["api", ...BACKEND_SERVICES].join(","));
		expect(second.port).toBe(first.port);
		await healthy(http);
		const login = await http.post("/auth/login", { email: "kept@shop.test", password: "password-1" });
		expect(login.status).toBe(200);
		expect((await http.get(`/products/${product.id}`)).body).toMatchObject({ sku: "KEEP-1", stock: 5 });
		expect((await http.get(`/orders/${order.id}`, login.body.token)).body).toMatchObject({ status: "confirmed", totalCents: 2000 });
		expect((await http.get("/analytics/dashboard", admin)).body).toMatchObject({ totalOrders: 1, revenueCents: 2000 });
	});
});
