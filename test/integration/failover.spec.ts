import type { ServiceBroker } from "moleculer";
import { waitFor } from "../helpers/broker";
import { TestCluster, loginAdmin, observerBroker, requireInfrastructure, waitForRunning, type ShopNode } from "../helpers/cluster";
import { HttpClient } from "../helpers/http";
import { intBetween, newSeed, pick, seededRandom } from "../helpers/random";

const STOCK = 100_000;
const CYCLES = 3;

/**
 * A products node killed with SIGKILL and started again under a new node id
 * (a rescheduled pod, a supervisor naming nodes by pid), again and again,
 * while orders and reads flow. Heartbeats are set to take ten minutes to
 * notice a dead node, so that only the cluster's own failure detection can
 * take the dead ones out of the balancing.
 */
describe("failover: a node that dies without a word and comes back under a new id", () => {
	const cluster = new TestCluster({
		RATE_LIMIT_MAX: "1000000",
		PENDING_TIMEOUT_MS: "1500",
		RECOVERY_INTERVAL_MS: "300",
		REQUEST_TIMEOUT_MS: "4000",
		// moleculer-runner's MOL_* override: a dead node would stay registered for ten minutes.
		MOL_HEARTBEAT_TIMEOUT: "600",
	});
	let gateway: ShopNode;
	let http: HttpClient;
	let observer: ServiceBroker;
	let adminToken: string;
	const tokens: string[] = [];
	const productsId = (cycle: number) => `${cluster.namespace}-products-${cycle}`;

	beforeAll(async () => {
		await requireInfrastructure();
		[gateway] = await Promise.all([
			cluster.start("gateway", "api"),
			cluster.startCustomers(),
			cluster.start("products", "products", { NODE_ID: productsId(0) }),
			cluster.start("orders", "orders"),
		]);
		http = new HttpClient(`http://127.0.0.1:${gateway.port}/api`);
		observer = observerBroker(cluster.namespace);
		await observer.start();
		await observer.waitForServices(["orders", "products", "customers"], 30_000);
		await waitForRunning(http, ["order-service", "product-service", "customer-service"]);
		adminToken = await loginAdmin(http);
		for (let i = 0; i < 4; i++) tokens.push((await http.post("/auth/register", { name: `Storm ${i}`, email: `storm${i}@shop.test`, password: "password-1" })).body.token);
	}, 180_000);

	afterAll(async () => {
		await observer?.stop();
		await cluster.stopAll();
	}, 60_000);

	/** The products nodes a node balances calls to: the gateway's as it shows them, orders' as it answers `$node.list`. */
	async function productsNodes(): Promise<{ gateway: string[]; orders: string[] }> {
		// GET /api/cluster lists offline nodes too (available: false): the gateway balances to the available ones.
		const shown = (await http.get("/cluster", adminToken)).body.nodes as Array<{ id: string; services: string[]; available: boolean }>;
		const ordersView = await observer.call<Array<{ id: string }>, object>("$node.list", { onlyAvailable: true }, { nodeID: `${cluster.namespace}-orders` });
		return {
			gateway: shown.filter(n => n.available && n.services.includes("products")).map(n => n.id),
			orders: ordersView.map(n => n.id).filter(id => id.startsWith(`${cluster.namespace}-products-`)),
		};
	}

	it("takes each dead node out at once, reaches the new one, and applies no order or reservation twice", async () => {
		const seed = newSeed();
		console.log(`fresh-id storm seed ${seed}`);
		const rand = seededRandom(seed);
		const products: string[] = [];
		for (let i = 0; i < 3; i++) products.push((await http.post("/products", { sku: `STORM-${i}`, name: `Storm ${i}`, category: "storm", priceCents: 100 + i, stock: STOCK }, adminToken)).body.id);

		const created = new Set<string>();
		let sent = 0;
		const statuses: Record<string, number> = {};
		let running = true;
		const worker = async () => {
			while (running) {
				if (rand() < 0.5) {
					const res = await http.get(`/products/${pick(rand, products)}`);
					statuses[`read ${res.status}`] = (statuses[`read ${res.status}`] ?? 0) + 1;
				} else {
					sent++;
					const res = await http.post("/orders", { items: [{ productId: pick(rand, products), quantity: intBetween(rand, 1, 3) }] }, pick(rand, tokens));
					statuses[`order ${res.status}`] = (statuses[`order ${res.status}`] ?? 0) + 1;
					if (res.status === 201) created.add(res.body.id);
				}
			}
		};
		const workers = Array.from({ length: 6 }, worker);
		try {
			for (let cycle = 1; cycle <= CYCLES; cycle++) {
				await new Promise(r => setTimeout(r, intBetween(rand, 1000, 2000)));
				await cluster.nodes.find(n => n.name === "products")!.kill();
				await cluster.start("products", "products", { NODE_ID: productsId(cycle) });
				// The dead ones are out of the balancing of the gateway and of orders, long before their heartbeats would say so.
				await waitFor(
					async () => JSON.stringify(await productsNodes()) === JSON.stringify({ gateway: [productsId(cycle)], orders: [productsId(cycle)] }),
					20_000,
					`only ${productsId(cycle)} to be balanced to`,
					200,
				).catch(async err => {
					throw new Error(`${(err as Error).message}: ${JSON.stringify(await productsNodes())}`);
				});
			}
			await new Promise(r => setTimeout(r, 1000));
		} finally {
			running = false;
			await Promise.all(workers);
		}
		console.log(`fresh-id storm answers ${JSON.stringify(statuses)}`);
		expect(Object.keys(statuses).filter(k => !/ (200|201|503)$/.test(k))).toEqual([]);

		// Calls reach the new node: it is the only one alive.
		const last = await http.post("/orders", { items: [{ productId: products[0], quantity: 1 }] }, tokens[0]);
		expect(last.status).toBe(201);
		created.add(last.body.id);
		sent++;

		const orders = await waitFor(
			async () => {
				const all: any[] = [];
				for (let page = 1; ; page++) {
					const res = await observer.call<any, object>("orders.all", { page, pageSize: 1000 });
					all.push(...res.rows);
					if (page >= res.totalPages) break;
				}
				return all.some(o => o.status === "pending") ? null : all;
			},
			20_000,
			"every order settled",
		);
		// No order twice: at most one stored per request sent, and each one answered 201 stored once, confirmed.
		expect(orders.length).toBeLessThanOrEqual(sent);
		const byId = new Map<string, any[]>();
		for (const o of orders) byId.set(o.id, [...(byId.get(o.id) ?? []), o]);
		for (const id of created) expect({ id, stored: byId.get(id)?.map(o => o.status) }).toEqual({ id, stored: ["confirmed"] });
		// No reservation twice: each product's stock is what it was less the units of the orders that hold stock.
		for (const id of products) {
			const held = orders
				.filter(o => o.status !== "cancelled")
				.flatMap(o => o.items)
				.filter((l: any) => l.productId === id)
				.reduce((sum: number, l: any) => sum + l.quantity, 0);
			const stock = (await observer.call<any, object>("products.get", { id })).stock;
			expect({ id, stock }).toEqual({ id, stock: STOCK - held });
		}
	}, 300_000);
});
