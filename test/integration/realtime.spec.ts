import { stripVTControlCharacters } from "util";
import { spawn } from "child_process";
import path from "path";
import type { Socket } from "socket.io-client";
import { waitFor } from "../helpers/broker";
import { AMQP_URL, REDIS_URL, TestCluster, loginAdmin, requireInfrastructure, waitForRunning, type ShopNode } from "../helpers/cluster";
import { HttpClient } from "../helpers/http";
import { connectSocket, recordEvents } from "../helpers/socket";

/** Two gateway processes over the real RabbitMQ and Redis, and the REPL joining the same cluster. */
describe("real time across gateway nodes, and the REPL", () => {
	const cluster = new TestCluster({ RATE_LIMIT_MAX: "1000000" });
	let gatewayA: ShopNode;
	let gatewayB: ShopNode;
	let httpA: HttpClient;
	let adminToken: string;
	let customer: { token: string; id: string };
	const sockets: Socket[] = [];

	beforeAll(async () => {
		await requireInfrastructure();
		[gatewayA, gatewayB] = await Promise.all([
			cluster.start("gateway-a", "api"),
			cluster.start("gateway-b", "api"),
			cluster.startCustomers(),
			cluster.start("products", "products"),
			cluster.start("orders", "orders"),
		]);
		httpA = new HttpClient(`http://127.0.0.1:${gatewayA.port}/api`);
		const httpB = new HttpClient(`http://127.0.0.1:${gatewayB.port}/api`);
		for (const http of [httpA, httpB]) await waitForRunning(http, ["order-service", "product-service", "customer-service"]);
		await cluster.waitForMeshAlone();
		adminToken = await loginAdmin(httpA);
		const reg = await httpA.post("/auth/register", { name: "Live", email: "live@shop.test", password: "password-1" });
		customer = { token: reg.body.token, id: reg.body.customer.id };
	}, 120_000);

	afterAll(async () => {
		for (const s of sockets) s.close();
		await cluster.stopAll();
	}, 60_000);

	it("pushes to a client on gateway B, exactly once, the order.updated of an order placed through gateway A", async () => {
		const socket = await connectSocket(`http://127.0.0.1:${gatewayB.port}`, customer.token);
		sockets.push(socket);
		const seen = recordEvents(socket);
		const product = (await httpA.post("/products", { sku: "LIVE-1", name: "Live", category: "c", priceCents: 100, stock: 10 }, adminToken)).body;
		const order = (await httpA.post("/orders", { items: [{ productId: product.id, quantity: 1 }] }, customer.token)).body;
		expect(order.status).toBe("confirmed");
		await httpA.post(`/orders/${order.id}/cancel`, {}, customer.token);
		// A later order's event marks the point by which any duplicate of the first would have arrived.
		const marker = (await httpA.post("/orders", { items: [{ productId: product.id, quantity: 1 }] }, customer.token)).body;
		await waitFor(() => seen.some(e => e.event === "order.updated" && e.payload.order.id === marker.id), 10_000, "the marker order's event on gateway B");
		const forOrder = seen.filter(e => e.event === "order.updated" && e.payload.order.id === order.id).map(e => e.payload.order.status);
		expect(forOrder).toEqual(["confirmed", "cancelled"]);
	});

	it("runs `npm run repl` in the cluster: `call products.list` answers from the products process", async () => {
		const repl = spawn("npm", ["run", "--silent", "repl"], {
			cwd: path.resolve(__dirname, "../.."),
			env: { ...process.env, NAMESPACE: cluster.namespace, TRANSPORTER: AMQP_URL, CACHER: REDIS_URL, LOG_LEVEL: "warn", NODE_ID: `${cluster.namespace}-repl`, NO_COLOR: "1", FORCE_COLOR: "0" },
			stdio: ["pipe", "pipe", "pipe"],
			// Its own process group: npm runs the REPL node as a child, and a kill must reach both.
			detached: true,
		});
		let output = "";
		repl.stdout.on("data", chunk => (output += chunk.toString()));
		repl.stderr.on("data", chunk => (output += chunk.toString()));
		// A REPL that died is reported by the waits below, not as an unhandled EPIPE.
		repl.stdin.on("error", () => undefined);
		const exited = new Promise<number | null>(resolve => repl.once("exit", code => resolve(code)));
		try {
			await waitFor(() => output.includes("mol $"), 60_000, "the REPL prompt");
			// The console node must see the products service before it can call it: asked again until it does.
			await waitFor(
				async () => {
					repl.stdin.write("services\n");
					await new Promise(r => setTimeout(r, 500));
					return output.includes("products");
				},
				20_000,
				"products in the REPL's service list",
			);
			repl.stdin.write("call products.list --pageSize 5\n");
			await waitFor(() => stripVTControlCharacters(output).includes("LIVE-1"), 20_000, "the products.list answer");
			const plain = stripVTControlCharacters(output);
			expect(plain).toMatch(/pageSize: 5/);
			repl.stdin.write("quit\n");
			expect(await exited).toBe(0);
		} finally {
			if (repl.exitCode === null) process.kill(-repl.pid!, "SIGKILL");
		}
	}, 120_000);
});
