import { waitFor } from "../helpers/broker";
import { TestCluster, loginAdmin, requireInfrastructure, type ShopNode } from "../helpers/cluster";
import { HttpClient } from "../helpers/http";
import { WebhookReceiver } from "../helpers/webhook-receiver";

/**
 * Chaos, counted at the receiver: every service in its own process over the
 * real RabbitMQ and Redis, a webhook endpoint in this process answering
 * slowly, and the notifications node killed (SIGKILL) twice while it is
 * delivering. Every event reaches the endpoint: the unique, verified
 * `webhook-id`s it received equal the events there were.
 */
describe("webhooks survive the notifications node being killed mid-delivery", () => {
	const cluster = new TestCluster({
		RATE_LIMIT_MAX: "1000000",
		PENDING_TIMEOUT_MS: "2000",
		RECOVERY_INTERVAL_MS: "500",
		NODE_ENV: "test",
		WEBHOOK_ALLOW: "127.0.0.1",
		WEBHOOK_RETRY_SCHEDULE: "100ms,200ms,500ms,1s,2s,2s,2s,2s",
		WEBHOOK_TIMEOUT_MS: "1000",
	});
	const receiver = new WebhookReceiver();
	let notifications: ShopNode;
	let http: HttpClient;
	let admin: string;

	beforeAll(async () => {
		await requireInfrastructure();
		await receiver.start();
		let gateway: ShopNode;
		[gateway, , , , notifications] = await Promise.all([
			cluster.start("gateway", "api"),
			cluster.startCustomers(),
			cluster.start("products", "products"),
			cluster.start("orders", "orders"),
			cluster.start("notifications", "notifications"),
		]);
		http = new HttpClient(`http://127.0.0.1:${gateway.port}/api`);
		await cluster.waitForMeshAlone(30_000);
		admin = await loginAdmin(http);
	}, 120_000);

	afterAll(async () => {
		await cluster.stopAll();
		await receiver.stop();
	}, 60_000);

	it("delivers every event once per webhook-id, whatever the kills cut", async () => {
		const hook = await http.post("/webhooks", { url: receiver.url, eventTypes: ["order.placed", "order.shipped"] }, admin);
		expect(hook.status).toBe(201);
		receiver.secret = hook.body.secret;
		receiver.mode = "slow";
		receiver.slowMs = 150;
		const buyer = (await http.post("/auth/register", { name: "Chaos", email: "chaos@shop.test", password: "password-1" })).body.token;
		const product = (await http.post("/products", { sku: "CHAOS-1", name: "Chaos", category: "c", priceCents: 100, stock: 10_000 }, admin)).body;

		const orders: string[] = [];
		const place = async (n: number) => {
			for (let i = 0; i < n; i++) {
				const res = await http.post("/orders", { items: [{ productId: product.id, quantity: 1 }] }, buyer);
				expect(res.status).toBe(201);
				orders.push(res.body.id);
			}
		};
		await place(20);
		// Killed while deliveries of those orders are under way (the receiver takes 150 ms each).
		await waitFor(() => receiver.inFlight > 0, 20_000, "a delivery under way");
		await notifications.kill();
		await place(20);
		notifications = await cluster.start("notifications", "notifications");
		await waitFor(() => receiver.received.length > 25 && receiver.inFlight > 0, 30_000, "deliveries under way after the restart");
		await notifications.kill();
		for (const id of orders.slice(0, 10)) expect((await http.patch(`/orders/${id}/status`, { status: "shipped" }, admin)).status).toBe(200);
		notifications = await cluster.start("notifications", "notifications");

		const expected = orders.length + 10;
		await waitFor(() => receiver.uniqueIds().size >= expected, 90_000, `${expected} unique webhook-ids`);
		// Past the lease of the attempts the kills cut (timeout + 5 s): their second delivery, same id, has arrived.
		await new Promise(r => setTimeout(r, 7000));
		const ids = receiver.uniqueIds();
		const placed = new Set(receiver.received.filter(r => r.payload?.type === "order.placed").map(r => r.payload!.data.order.id));
		const shipped = new Set(receiver.received.filter(r => r.payload?.type === "order.shipped").map(r => r.payload!.data.order.id));
		console.log(`chaos: ${expected} events, ${ids.size} unique webhook-ids at the receiver, ${receiver.received.length} requests received (duplicates ${receiver.received.length - ids.size})`);
		expect({ unique: ids.size, placed: placed.size, shipped: shipped.size, allVerified: receiver.received.every(r => r.verified) }).toEqual({
			unique: expected,
			placed: 40,
			shipped: 10,
			allVerified: true,
		});
	}, 240_000);
});
