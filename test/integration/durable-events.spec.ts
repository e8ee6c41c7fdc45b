import amqplib from "amqplib";
import type { ServiceBroker } from "moleculer";
import { CHANNELS, CONSUMER_GROUPS } from "../../lib/contracts/channels";
import { waitFor } from "../helpers/broker";
import { AMQP_URL, TestCluster, loginAdmin, observerBroker, requireInfrastructure, type ShopNode } from "../helpers/cluster";
import { HttpClient } from "../helpers/http";

/**
 * Every service in its own process over the real RabbitMQ: the alerts and
 * analytics sinks catch up on what happened while they were down, and
 * count nothing twice.
 */
describe("durable events to alerts and analytics", () => {
	const cluster = new TestCluster({ RATE_LIMIT_MAX: "1000000", PENDING_TIMEOUT_MS: "2000", RECOVERY_INTERVAL_MS: "500" });
	let gateway: ShopNode;
	let http: HttpClient;
	let observer: ServiceBroker;
	let adminToken: string;
	let customerToken: string;

	beforeAll(async () => {
		await requireInfrastructure();
		[gateway] = await Promise.all([
			cluster.start("gateway", "api"),
			cluster.startCustomers(),
			cluster.start("products", "products"),
			cluster.start("orders", "orders"),
			cluster.start("alerts", "alerts"),
			cluster.start("analytics", "analytics"),
			cluster.start("payments", "payments"),
			cluster.start("carts", "carts"),
			cluster.start("notifications", "notifications"),
		]);
		http = new HttpClient(`http://127.0.0.1:${gateway.port}/api`);
		observer = observerBroker(cluster.namespace);
		await observer.start();
		await waitFor(async () => (await http.get("/health")).status === 200, 30_000, "every service to be healthy");
		// Health is the gateway's view; the orders node must also know products and customers.
		await cluster.waitForMesh(observer);
		adminToken = await loginAdmin(http);
		customerToken = (await http.post("/auth/register", { name: "Sink", email: "sink@shop.test", password: "password-1" })).body.token;
	}, 120_000);

	afterAll(async () => {
		await observer?.stop();
		await cluster.stopAll();
	}, 60_000);

	const dashboard = async () => (await http.get("/analytics/dashboard", adminToken)).body;
	const alerts = async (type: string) => (await http.get(`/alerts?type=${type}&pageSize=100`, adminToken)).body;

	it("shows every service running", async () => {
		const health = await http.get("/health");
		expect(health.body).toEqual({
			status: "ok",
			services: {
				"order-service": "running",
				"product-service": "running",
				"customer-service": "running",
				"alert-service": "running",
				"analytics-service": "running",
				"payment-service": "running",
				"cart-service": "running",
				"notification-service": "running",
			},
			dependencies: { transporter: "up", cache: "up" },
		});
	});

	it("gives a restarted analytics node the exact totals of 30 orders and 5 cancellations placed while it was down", async () => {
		const product = (await http.post("/products", { sku: "SINK-1", name: "Sink", category: "c", priceCents: 250, stock: 1000 }, adminToken)).body;
		await waitFor(async () => (await dashboard()).totalOrders === 0, 5000, "an empty dashboard");
		await cluster.nodes.find(n => n.name === "analytics")!.stop();

		const orders = [];
		for (let i = 0; i < 30; i++) {
			const res = await http.post("/orders", { items: [{ productId: product.id, quantity: 1 + (i % 3) }] }, customerToken);
			expect(res.status).toBe(201);
			orders.push(res.body);
		}
		for (const o of orders.slice(0, 5)) expect((await http.post(`/orders/${o.id}/cancel`, {}, customerToken)).status).toBe(200);
		const kept = orders.slice(5);
		const revenue = kept.reduce((s, o) => s + o.totalCents, 0);

		await cluster.start("analytics", "analytics");
		let last: unknown;
		const dash = await waitFor(
			async () => {
				const d = (last = await dashboard());
				return d?.totalOrders === 30 && d.ordersByStatus.cancelled === 5 && d.revenueCents === revenue ? d : null;
			},
			5000,
			"the dashboard to catch up",
		).catch(err => {
			throw new Error(`${err.message}; last answer ${JSON.stringify(last)}`);
		});
		expect(dash).toMatchObject({
			totalOrders: 30,
			ordersByStatus: { pending: 0, confirmed: 25, shipped: 0, delivered: 0, cancelled: 5 },
			revenueCents: revenue,
			averageOrderValueCents: Math.round(revenue / 25),
			topProducts: [{ productId: product.id, name: "Sink", quantity: kept.reduce((s, o) => s + o.items[0].quantity, 0), revenueCents: revenue }],
		});

		// The same events delivered again: the totals do not move.
		for (const o of orders) {
			const current = await observer.call<any, object>("orders.get", { id: o.id }, { meta: { user: { id: "admin", role: "admin", email: "a@b.c" } } });
			await observer.sendToChannel(CHANNELS.orderStatus, { order: current, cancelReason: "CANCELLED_BY_CUSTOMER" });
			await observer.sendToChannel(CHANNELS.orderStatus, { order: o });
		}
		const marker = (await http.post("/orders", { items: [{ productId: product.id, quantity: 1 }] }, customerToken)).body;
		const after = await waitFor(
			async () => {
				const d = await dashboard();
				return d?.totalOrders === 31 ? d : null;
			},
			5000,
			"the marker order after the redelivered ones",
		);
		expect(after.ordersByStatus).toMatchObject({ confirmed: 26, cancelled: 5 });
		expect(after.revenueCents).toBe(revenue + marker.totalCents);
	});

	it("gives a restarted alerts node every alert raised while it was down, once", async () => {
		await cluster.nodes.find(n => n.name === "alerts")!.stop();
		const product = (await http.post("/products", { sku: "LOW-1", name: "Lowly", category: "c", priceCents: 100, stock: 6, lowStockThreshold: 3 }, adminToken)).body;
		const placed = [];
		for (let i = 0; i < 3; i++) placed.push((await http.post("/orders", { items: [{ productId: product.id, quantity: 2 }] }, customerToken)).body);
		expect(placed.map(o => o.status)).toEqual(["confirmed", "confirmed", "confirmed"]);
		for (const o of placed.slice(0, 2)) await http.post(`/orders/${o.id}/cancel`, {}, customerToken);

		await cluster.start("alerts", "alerts");
		// 5 cancellations from the analytics test, 2 from this one.
		await waitFor(async () => (await alerts("order_cancelled")).total === 7 && (await alerts("out_of_stock")).total === 1, 5000, "the alerts to catch up");
		const low = (await alerts("stock_low")).rows.filter((a: any) => a.data.productId === product.id);
		expect(low).toHaveLength(1);
		expect(low[0].data).toEqual({ productId: product.id, sku: "LOW-1", name: "Lowly", stock: 2, threshold: 3 });
		expect((await alerts("out_of_stock")).rows[0].data).toMatchObject({ productId: product.id, stock: 0 });

		// Redelivered: nothing new.
		for (const o of placed.slice(0, 2)) {
			const current = await observer.call<any, object>("orders.get", { id: o.id }, { meta: { user: { id: "admin", role: "admin", email: "a@b.c" } } });
			await observer.sendToChannel(CHANNELS.orderStatus, { order: current, cancelReason: "CANCELLED_BY_CUSTOMER" });
		}
		await observer.sendToChannel(CHANNELS.orderStatus, { order: { id: "marker-order", customerId: "x", status: "cancelled", statusHistory: [] }, cancelReason: "CANCELLED_BY_ADMIN" });
		await waitFor(async () => (await alerts("order_cancelled")).rows.some((a: any) => a.data.orderId === "marker-order"), 5000, "the marker alert");
		expect((await alerts("order_cancelled")).total).toBe(8);
	});

	it("moves a message that always fails its handler to the dead-letter queue, and the flow goes on", async () => {
		const connection = await amqplib.connect(AMQP_URL);
		const channel = await connection.createChannel();
		const dlq = `${cluster.namespace}.DEAD_LETTER`;
		try {
			const before = (await channel.checkQueue(dlq)).messageCount;
			await observer.sendToChannel(CHANNELS.orderStatus, { order: { poison: true } });
			await observer.sendToChannel(CHANNELS.orderStatus, { order: { id: "after-poison", customerId: "x", status: "cancelled", statusHistory: [] }, cancelReason: "CANCELLED_BY_ADMIN" });
			// Every consumer group (alerts, analytics, payments, notifications) gives up on it after its retries.
			const groups = CONSUMER_GROUPS[CHANNELS.orderStatus].length;
			await waitFor(async () => (await channel.checkQueue(dlq)).messageCount === before + groups, 10_000, `${groups} dead letters`);
			const dead = await channel.get(dlq, { noAck: false });
			expect(dead && JSON.parse(dead.content.toString())).toEqual({ order: { poison: true } });
			await waitFor(async () => (await alerts("order_cancelled")).rows.some((a: any) => a.data.orderId === "after-poison"), 5000, "the message after the poison one");
			if (dead) channel.nack(dead, false, true);
		} finally {
			await channel.close();
			await connection.close();
		}
	});
});
