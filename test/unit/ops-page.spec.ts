import { ServiceBroker } from "moleculer";
import type { Socket } from "socket.io-client";
import { brokerOptions } from "../../moleculer.config";
import { settings } from "../../lib/infra/settings";
import ApiService from "../../services/api.service";
import { waitFor } from "../helpers/broker";
import { startInProcessShop, withSettings } from "../helpers/gateway";
import { HttpClient } from "../helpers/http";
import { connectSocket, recordEvents } from "../helpers/socket";

/** The gateway's part of the operations page (services/api/ops-page.ts), in process. */
describe("api gateway: the operations page's files, api.cluster and cluster.changed", () => {
	let shop: Awaited<ReturnType<typeof startInProcessShop>>;
	let http: HttpClient;
	let adminToken: string;
	let customerToken: string;
	const sockets: Socket[] = [];

	beforeAll(async () => {
		shop = await startInProcessShop(["api", "customers"], { admin: { email: "admin@shop.test", password: "admin-password" } });
		http = new HttpClient(`${shop.url}/api`);
		adminToken = (await http.post("/auth/login", { email: "admin@shop.test", password: "admin-password" })).body.token;
		customerToken = (await http.post("/auth/register", { name: "Ops", email: "ops@shop.test", password: "password-1" })).body.token;
	});
	afterAll(async () => {
		for (const s of sockets) s.close();
		await shop.stop();
	});

	const get = (path: string, headers: Record<string, string> = {}) => fetch(shop.url + path, { headers });

	describe("static files", () => {
		it("serves the page at / and its modules, styles and vendor files with their types", async () => {
			for (const [path, type] of [
				["/", "text/html"],
				["/index.html", "text/html"],
				["/js/main.js", "text/javascript"],
				["/ops.css", "text/css"],
				["/vendor/uPlot.esm.js", "text/javascript"],
				["/vendor/uPlot.min.css", "text/css"],
			]) {
				const res = await get(path);
				expect({ path, status: res.status }).toEqual({ path, status: 200 });
				expect(res.headers.get("content-type")).toContain(type);
				expect(res.headers.get("x-content-type-options")).toBe("nosniff");
			}
			expect((await get("/")).headers.get("content-security-policy")).toContain("default-src 'self'");
		});

		it("allows images from this origin only, unless IMAGE_ORIGINS names more", async () => {
			const csp = (await get("/")).headers.get("content-security-policy")!;
			expect(csp).toMatch(/img-src 'self'( data:)?;/);
			const other = await startInProcessShop(["api"], { gateway: { imageOrigins: ["https://cdn.example.com", "https://img.example.org"] } });
			try {
				const allowed = (await fetch(`${other.url}/`)).headers.get("content-security-policy")!;
				expect(allowed).toMatch(/img-src 'self'( data:)? https:\/\/cdn\.example\.com https:\/\/img\.example\.org;/);
				expect(allowed).toContain("default-src 'self'");
			} finally {
				await other.stop();
			}
		});

		it("answers an unchanged file with 304", async () => {
			const etag = (await get("/js/main.js")).headers.get("etag")!;
			expect((await get("/js/main.js", { "if-none-match": etag })).status).toBe(304);
		});

		it("keeps the JSON 404 for unknown paths, /api paths that name a page file, and the rest of node_modules", async () => {
			for (const path of [
				"/nope",
				"/vendor/",
				"/vendor/nope.js",
				"/api",
				"/api/",
				"/api/index.html",
				"/api/js/main.js",
				"/node_modules/uplot/package.json",
				"/vendor/../package.json",
				"/%2e%2e/package.json",
			]) {
				const res = await get(path);
				expect({ path, status: res.status }).toEqual({ path, status: 404 });
				expect(await res.json()).toMatchObject({ name: "NotFoundError", code: 404 });
			}
		});

		it("leaves the REST API as it was", async () => {
			expect((await http.get("/health")).body.status).toBeDefined();
			expect((await http.post("/", { x: 1 })).status).toBe(404);
		});
	});

	describe("GET /api/cluster", () => {
		it("lists this node with its services and uptime, and the dependencies, to admins", async () => {
			const res = await http.get("/cluster", adminToken);
			expect(res.status).toBe(200);
			expect(res.body.nodes).toEqual([expect.objectContaining({ id: shop.broker.nodeID, local: true, services: ["api", "customers"], uptimeSeconds: expect.any(Number) })]);
			expect(res.body.dependencies).toEqual({ transporter: "none", cache: "none" });
		});

		it("keeps a node that left, marked offline with the time it left, instead of dropping it", async () => {
			// Two brokers on Moleculer's in-process transporter: the second one joins, then leaves.
			const namespace = `ops-offline-${process.pid}`;
			const options = { ...brokerOptions(settings), logger: false, metrics: { enabled: false }, transporter: "Fake", namespace, cacher: undefined };
			const gateway = new ServiceBroker({ ...options, nodeID: "gateway-node" });
			gateway.createService(withSettings(ApiService, { gateway: { port: 0 } }));
			const other = new ServiceBroker({ ...options, nodeID: "products-node" });
			other.createService({ name: "products" });
			try {
				await gateway.start();
				await other.start();
				const nodes = () => gateway.call<any, any>("api.cluster", {}).then(view => view.nodes);
				await waitFor(async () => (await nodes()).some((n: { id: string }) => n.id === "products-node"), 5000, "the second node to join");
				expect((await nodes()).find((n: { id: string }) => n.id === "products-node")).toMatchObject({ available: true, offlineSince: null, services: ["products"] });
				await other.stop();
				const left = await waitFor(async () => (await nodes()).find((n: { id: string; available: boolean }) => n.id === "products-node" && !n.available), 5000, "the node to show offline");
				expect(left).toMatchObject({ available: false, uptimeSeconds: null, services: ["products"] });
				expect(Date.now() - Date.parse(left.offlineSince)).toBeLessThan(60_000);
				expect((await nodes()).find((n: { id: string }) => n.id === "gateway-node")).toMatchObject({ available: true, local: true });
			} finally {
				await other.stop();
				await gateway.stop();
			}
		});

		it("is 401 without a token and 403 for a customer", async () => {
			expect((await http.get("/cluster")).status).toBe(401);
			expect((await http.get("/cluster", customerToken)).status).toBe(403);
		});
	});

	describe("cluster.changed", () => {
		it("is pushed to admins, not customers, when a node connects, changes or leaves", async () => {
			const admin = await connectSocket(shop.url, adminToken);
			const customer = await connectSocket(shop.url, customerToken);
			sockets.push(admin, customer);
			const [adminSeen, customerSeen] = [admin, customer].map(recordEvents);
			for (const event of ["$node.connected", "$node.updated", "$node.disconnected"]) void shop.broker.broadcastLocal(event, { node: { id: "elsewhere" } });
			await waitFor(() => adminSeen.filter(e => e.event === "cluster.changed").length === 3, 5000, "three cluster.changed on the admin socket");
			expect(customerSeen.filter(e => e.event === "cluster.changed")).toEqual([]);
		});
	});
});
