import type { Socket } from "socket.io-client";
import type { CacheVersions } from "../../lib/infra/cache-versions";
import ProductsService from "../../services/products.service";
import { waitFor } from "../helpers/broker";
import { startInProcessShop } from "../helpers/gateway";
import { HttpClient } from "../helpers/http";
import { connectSocket, recordEvents, socketCall } from "../helpers/socket";

describe("api gateway over Socket.IO (embedded default)", () => {
	let http: HttpClient;
	let url: string;
	let adminToken: string;
	let owner: { token: string; id: string };
	let other: { token: string; id: string };
	const sockets: Socket[] = [];
	const connect = async (token?: string) => {
		const s = await connectSocket(url, token);
		sockets.push(s);
		return s;
	};

	let shop: Awaited<ReturnType<typeof startInProcessShop>>;

	beforeAll(async () => {
		shop = await startInProcessShop(["api", "customers", "products", "orders", "alerts", "analytics", "payments", "notifications"], {
			admin: { email: "admin@shop.test", password: "admin-password" },
		});
		url = shop.url;
		http = new HttpClient(`${url}/api`);
		adminToken = (await http.post("/auth/login", { email: "admin@shop.test", password: "admin-password" })).body.token;
		const register = async (email: string) => {
			const res = await http.post("/auth/register", { name: email, email, password: "password-1" });
			return { token: res.body.token, id: res.body.customer.id };
		};
		owner = await register("owner@shop.test");
		other = await register("other@shop.test");
	});
	afterAll(async () => {
		for (const s of sockets) s.close();
		await shop.stop();
	});

	describe("handshake", () => {
		it("refuses a connection without a token", async () => {
			await expect(connectSocket(url)).rejects.toMatchObject({ message: "unauthorized" });
		});

		it("refuses a forged token", async () => {
			const forged = owner.token.slice(0, -4) + (owner.token.endsWith("abcd") ? "dcba" : "abcd");
			await expect(connectSocket(url, forged)).rejects.toMatchObject({ message: "unauthorized" });
		});

		it("refuses a blocked customer whose token is still valid", async () => {
			const res = await http.post("/auth/register", { name: "Blocked", email: "blocked@shop.test", password: "password-1" });
			await http.patch(`/customers/${res.body.customer.id}`, { blocked: true }, adminToken);
			await expect(connectSocket(url, res.body.token)).rejects.toMatchObject({ message: "unauthorized" });
		});
	});

	describe("pushed events", () => {
		it("sends order.updated to the owner and admins only, for creation, cancellation and shipping; admins also get alerts and analytics", async () => {
			const ownerSocket = await connect(owner.token);
			const otherSocket = await connect(other.token);
			const adminSocket = await connect(adminToken);
			const [ownerSeen, otherSeen, adminSeen] = [ownerSocket, otherSocket, adminSocket].map(recordEvents);

			const product = (await http.post("/products", { sku: "SOCK-1", name: "Sock", category: "c", priceCents: 300, stock: 6, lowStockThreshold: 3 }, adminToken)).body;
			const first = (await http.post("/orders", { items: [{ productId: product.id, quantity: 2 }] }, owner.token)).body;
			const second = (await http.post("/orders", { items: [{ productId: product.id, quantity: 2 }] }, owner.token)).body;
			await http.post(`/orders/${first.id}/cancel`, {}, owner.token);
			await http.patch(`/orders/${second.id}/status`, { status: "shipped" }, adminToken);

			const statusesOf = (seen: typeof ownerSeen, id: string) => seen.filter(e => e.event === "order.updated" && e.payload.order.id === id).map(e => e.payload.order.status);
			await waitFor(() => statusesOf(ownerSeen, second.id).includes("shipped") && statusesOf(ownerSeen, first.id).includes("cancelled"), 5000, "the owner's events");
			expect(statusesOf(ownerSeen, first.id)).toEqual(["confirmed", "cancelled"]);
			expect(statusesOf(ownerSeen, second.id)).toEqual(["confirmed", "shipped"]);

			await waitFor(() => statusesOf(adminSeen, second.id).includes("shipped") && statusesOf(adminSeen, first.id).includes("cancelled"), 5000, "the admin's events");
			expect(statusesOf(adminSeen, first.id)).toEqual(["confirmed", "cancelled"]);
			await waitFor(() => adminSeen.some(e => e.event === "alert" && e.payload.alert.type === "stock_low" && e.payload.alert.data.productId === product.id), 5000, "the stock_low alert");
			await waitFor(() => adminSeen.some(e => e.event === "analytics.updated" && e.payload.dashboard.totalOrders >= 2), 5000, "analytics.updated");
			await waitFor(() => ownerSeen.some(e => e.event === "product.updated" && e.payload.product.id === product.id), 5000, "product.updated to everyone");

			// The other customer saw products change, and nothing of the order or the admin feed.
			await waitFor(() => otherSeen.some(e => e.event === "product.updated"), 5000, "product.updated to the other customer");
			expect(otherSeen.filter(e => e.event !== "product.updated")).toEqual([]);
			expect(ownerSeen.filter(e => e.event === "alert" || e.event === "analytics.updated")).toEqual([]);
		});
	});

	describe("call", () => {
		it("lets a customer call products.list", async () => {
			const socket = await connect(owner.token);
			const page = await socketCall(socket, "products.list", { pageSize: 5 });
			expect(page).toMatchObject({ page: 1, pageSize: 5, rows: expect.any(Array) });
		});

		it("refuses customers.list to a customer and allows it to an admin", async () => {
			const customer = await connect(owner.token);
			await expect(socketCall(customer, "customers.list", {})).rejects.toMatchObject({ code: 403 });
			const admin = await connect(adminToken);
			expect((await socketCall(admin, "customers.list", {})).total).toBeGreaterThanOrEqual(3);
		});

		it("shows a customer only their own orders through call, like REST", async () => {
			const socket = await connect(other.token);
			const mine = await socketCall(socket, "orders.list", {});
			expect(mine.rows.every((o: any) => o.customerId === other.id)).toBe(true);
		});

		it("refuses moleculer-io's own actions and internal ones to everyone", async () => {
			const admin = await connect(adminToken);
			const customer = await connect(owner.token);
			for (const socket of [admin, customer]) {
				for (const action of ["api.broadcast", "api.getClients", "products.reserve", "customers.canOrder"]) {
					await expect(socketCall(socket, action, { event: "x", orderId: "o", items: [], id: "x" })).rejects.toMatchObject({ code: 404 });
				}
			}
		});
	});

	describe("call has REST's validation and error shape", () => {
		const expectContractError = (err: any, code: number) => {
			expect(err).toMatchObject({ name: expect.any(String), message: expect.any(String), code });
			expect(Object.keys(err).sort()).toEqual(expect.arrayContaining(["code", "message", "name"]));
			expect(err.message).not.toMatch(/TypeError|Cannot destructure|Illegal arguments|ctx\.params/);
		};
		const rawCall = (socket: Socket, ...args: unknown[]) => new Promise<{ err: any; res: any }>(resolve => socket.emit("call", ...args, (err: any, res: any) => resolve({ err, res })));

		it("treats a call without params as {}, for every action whose params are all optional; params of null are a value, refused", async () => {
			const socket = await connect(adminToken);
			for (const action of ["products.list", "orders.list", "customers.list", "alerts.list", "products.categories", "analytics.dashboard", "analytics.sales", "customers.me", "api.health"]) {
				const { err } = await rawCall(socket, action);
				expect([action, err]).toEqual([action, null]);
			}
			expectContractError((await rawCall(socket, "products.list", null)).err, 422);
			const typed = await rawCall(socket, "products.list", { page: "2" });
			expectContractError(typed.err, 422);
			expect(typed.err.data).toEqual([expect.objectContaining({ field: "page" })]);
		});

		it("refuses bad params with 422 naming the field, and params that are not an object", async () => {
			const socket = await connect(owner.token);
			const typed = await rawCall(socket, "products.list", { pageSize: 1000 });
			expectContractError(typed.err, 422);
			expect(typed.err).toMatchObject({ type: "VALIDATION_ERROR", data: [expect.objectContaining({ field: "pageSize" })] });
			expect(JSON.stringify(typed.err)).not.toContain("nodeID");
			for (const params of ["abc", 12, [1, 2]]) expectContractError((await rawCall(socket, "products.list", params)).err, 422);
			expectContractError((await rawCall(socket, "customers.updateMe", { password: 12345678 })).err, 422);
			expectContractError((await rawCall(socket, "customers.updateMe", { name: null })).err, 422);
			expectContractError((await rawCall(socket, 42, {})).err, 400);
		});

		it("refuses params holding a key that would reach a prototype (422), at any depth", async () => {
			const socket = await connect(owner.token);
			for (const text of ['{"__proto__":{"category":"NoSuch"}}', '{"page":1,"sort":"name","__proto__":{"search":[[[[1]]]]}}', '{"ids":"a","constructor":{"prototype":{"category":"x"}}}']) {
				const { err } = await rawCall(socket, "products.list", JSON.parse(text));
				expectContractError(err, 422);
				expect([text, err.data]).toEqual([text, [expect.objectContaining({ type: "prototypeKey" })]]);
			}
			const nested = await rawCall(socket, "orders.create", JSON.parse('{"items":[{"productId":"p","quantity":1,"__proto__":{"quantity":5}}]}'));
			expectContractError(nested.err, 422);
		});

		it("refuses an invalid call even when REST has cached the answer to a valid request with the same values", async () => {
			expect((await http.get("/products?pageSize=7")).status).toBe(200);
			const socket = await connect(owner.token);
			const typed = await rawCall(socket, "products.list", { pageSize: "7" });
			expectContractError(typed.err, 422);
			expect(typed.err.data).toEqual([expect.objectContaining({ field: "pageSize" })]);
		});

		it("lists at most the first 20 problems of a refused call and says how many there were", async () => {
			const socket = await connect(owner.token);
			const { err } = await rawCall(socket, "orders.create", { items: Array.from({ length: 30_000 }, () => ({})) });
			expectContractError(err, 422);
			expect(err.data).toHaveLength(20);
			expect(err.message).toMatch(/\b\d{5,} problems; the first 20 are listed/);
		});
	});

	describe("one budget per client for REST, the handshake and each call", () => {
		let limited: Awaited<ReturnType<typeof startInProcessShop>>;
		let limitedHttp: HttpClient;
		let token: string;
		beforeAll(async () => {
			limited = await startInProcessShop(["api", "customers", "products"], { gateway: { rateLimit: { max: 8, windowMs: 60_000 } } });
			limitedHttp = new HttpClient(`${limited.url}/api`);
			token = (await limitedHttp.post("/auth/register", { name: "Guess", email: "guess@shop.test", password: "password-1" })).body.token; // 1
		});
		afterAll(() => limited.stop());

		it("counts every entry point against the same budget and refuses calls over it with 429", async () => {
			const socket = await connectSocket(limited.url, token); // 2: its WebSocket upgrade, 3: its Socket.IO handshake
			sockets.push(socket);
			for (let i = 0; i < 3; i++) await socketCall(socket, "customers.login", { email: "guess@shop.test", password: `wrong-${i}` }).catch(() => undefined); // 4..6
			expect((await limitedHttp.get("/categories")).status).toBe(200); // 7
			// 8: the upgrade is let through; 9: the handshake is over the limit.
			await expect(connectSocket(limited.url, token)).rejects.toMatchObject({ message: "Rate limit exceeded", data: { code: 429 } });
			await expect(socketCall(socket, "customers.login", { email: "guess@shop.test", password: "password-1" })).rejects.toMatchObject({ code: 429 });
			expect((await limitedHttp.get("/categories")).status).toBe(429);
			// Over the limit the upgrade itself is refused (HTTP 429), before Socket.IO sees it.
			await expect(connectSocket(limited.url, token)).rejects.toMatchObject({ message: "websocket error", description: expect.objectContaining({ message: expect.stringContaining("429") }) });
		});
	});

	describe("what one customer may hold on a gateway node", () => {
		let roomy: Awaited<ReturnType<typeof startInProcessShop>>;
		let token: string;
		const held: Socket[] = [];
		beforeAll(async () => {
			roomy = await startInProcessShop(["api", "customers", "products"], { gateway: { rateLimit: { max: 100_000, windowMs: 60_000 } } });
			token = (await new HttpClient(`${roomy.url}/api`).post("/auth/register", { name: "Many", email: "many@shop.test", password: "password-1" })).body.token;
		});
		afterAll(async () => {
			for (const s of held) s.close();
			await roomy.stop();
		});

		it("refuses a 21st socket with `too many connections` (429), and takes one again once a socket closed", async () => {
			for (let i = 0; i < 20; i++) held.push(await connectSocket(roomy.url, token));
			await expect(connectSocket(roomy.url, token)).rejects.toMatchObject({ message: "too many connections", data: { code: 429, type: "TOO_MANY_CONNECTIONS" } });
			held.pop()!.close();
			await waitFor(
				async () => {
					const again = await connectSocket(roomy.url, token).catch(() => null);
					if (again) held.push(again);
					return again;
				},
				5000,
				"a socket again once one closed",
			);
		});

		it("closes a socket whose message is over REST's 100 kB body limit, and answers one just under it", async () => {
			const socket = await connectSocket(
				roomy.url,
				(await new HttpClient(`${roomy.url}/api`).post("/auth/register", { name: "Big", email: "big@shop.test", password: "password-1" })).body.token,
			);
			held.push(socket);
			const under = await new Promise<any>(resolve => socket.emit("call", "products.list", { search: "x".repeat(100 * 1024 - 200) }, (err: unknown) => resolve(err)));
			expect(under).toMatchObject({ code: 422 });
			const outcome = await new Promise<string>(resolve => {
				socket.once("disconnect", reason => resolve(reason));
				socket.emit("call", "products.list", { search: "x".repeat(100 * 1024 + 1) }, () => resolve("answered"));
			});
			expect(outcome).toMatch(/^transport (close|error)$/);
		});
	});

	describe("a socket lives no longer than its right to be there", () => {
		it("is closed (pushes stopped) when its customer is blocked", async () => {
			const res = await http.post("/auth/register", { name: "Soon Blocked", email: "soon-blocked@shop.test", password: "password-1" });
			const socket = await connect(res.body.token);
			const closed = new Promise<string>(resolve => socket.once("disconnect", reason => resolve(reason)));
			expect((await http.patch(`/customers/${res.body.customer.id}`, { blocked: true }, adminToken)).status).toBe(200);
			expect(await closed).toBe("io server disconnect");
			expect(socket.connected).toBe(false);
		});

		it("is closed when its customer signs out everywhere, and cannot connect again with that token", async () => {
			const res = await http.post("/auth/register", { name: "Leaver", email: "leaver@shop.test", password: "password-1" });
			const socket = await connect(res.body.token);
			const closed = new Promise<string>(resolve => socket.once("disconnect", reason => resolve(reason)));
			expect((await http.post("/auth/logout-all", undefined, res.body.token)).status).toBe(204);
			expect(await closed).toBe("io server disconnect");
			await expect(connectSocket(url, res.body.token)).rejects.toMatchObject({ message: "unauthorized" });
		});

		it("answers a sign-out everywhere asked through the socket itself, then closes it", async () => {
			const res = await http.post("/auth/register", { name: "Caller", email: "caller@shop.test", password: "password-1" });
			const socket = await connect(res.body.token);
			const closed = new Promise<string>(resolve => socket.once("disconnect", reason => resolve(reason)));
			await expect(socketCall(socket, "customers.logoutAll")).resolves.toBeNull();
			expect(await closed).toBe("io server disconnect");
		});

		it("is closed when its customer's password changes, while a socket of the fresh token stays open", async () => {
			const res = await http.post("/auth/register", { name: "Mover", email: "mover@shop.test", password: "password-1" });
			const old = await connect(res.body.token);
			const closed = new Promise<string>(resolve => old.once("disconnect", reason => resolve(reason)));
			const changed = await http.patch("/customers/me", { password: "password-2", currentPassword: "password-1" }, res.body.token);
			expect(changed.status).toBe(200);
			const fresh = await connect(changed.body.token);
			expect(await closed).toBe("io server disconnect");
			expect(await socketCall(fresh, "customers.me")).toMatchObject({ id: res.body.customer.id });
			expect(fresh.connected).toBe(true);
		});

		it("refuses a call with a revoked token, and closes its socket, even when no revocation event reached the gateway", async () => {
			const res = await http.post("/auth/register", { name: "Quiet", email: "quiet@shop.test", password: "password-1" });
			const socket = await connect(res.body.token);
			expect(await socketCall(socket, "customers.me")).toMatchObject({ id: res.body.customer.id });
			// The revocation as the store sees it, without its event (events are not durable).
			const customers = shop.broker.getLocalService("customers") as any;
			await customers.adapter.updateById(res.body.customer.id, { $inc: { tokenVersion: 1 } });
			await customers.entityChanged("updated", { id: res.body.customer.id }, null);
			const closed = new Promise<string>(resolve => socket.once("disconnect", reason => resolve(reason)));
			await expect(socketCall(socket, "customers.me")).rejects.toMatchObject({ code: 401, message: "unauthorized" });
			expect(await closed).toBe("io server disconnect");
		});

		it("is closed when its token expires, and cannot connect again with it", async () => {
			const short = await startInProcessShop(["api", "customers", "products"], { auth: { jwtExpiresInS: 2 } });
			try {
				const shortHttp = new HttpClient(`${short.url}/api`);
				const reg = await shortHttp.post("/auth/register", { name: "Brief", email: "brief@shop.test", password: "password-1" });
				const socket = await connectSocket(short.url, reg.body.token);
				const closed = new Promise<string>(resolve => socket.once("disconnect", reason => resolve(reason)));
				expect(await closed).toBe("io server disconnect");
				await expect(connectSocket(short.url, reg.body.token)).rejects.toMatchObject({ message: "unauthorized" });
			} finally {
				await short.stop();
			}
		});
	});
});

describe("api gateway over Socket.IO while an action's one node is replaced", () => {
	let shop: Awaited<ReturnType<typeof startInProcessShop>>;
	let socket: Socket;
	let token: string;
	beforeAll(async () => {
		shop = await startInProcessShop(["api", "customers", "products"]);
		const reg = await new HttpClient(`${shop.url}/api`).post("/auth/register", { name: "Waiter", email: "waiter@shop.test", password: "password-1" });
		token = reg.body.token;
		socket = await connectSocket(shop.url, token);
	});
	afterAll(async () => {
		socket.close();
		await shop.stop();
	});

	it("waits for the new node, as REST does, and is answered by it", async () => {
		const bus = shop.broker.localBus;
		const waiting = () => bus.listenerCount("$services.changed");
		const before = waiting();
		await shop.broker.destroyService(shop.broker.getLocalService("products"));
		const settled: string[] = [];
		const note = <T>(door: string, p: Promise<T>) => p.finally(() => settled.push(door));
		const rest = note("rest", new HttpClient(`${shop.url}/api`).get("/products"));
		const viaSocket = note("socket", socketCall(socket, "products.list", {}));
		viaSocket.catch(() => undefined);
		// Both doors wait for the action's node (each listens for it), unless one answered already.
		await waitFor(() => waiting() === before + 2 || settled.length > 0, 10_000, "both doors waiting");
		expect(settled).toEqual([]);
		shop.broker.createService(ProductsService);
		expect((await rest).status).toBe(200);
		await expect(viaSocket).resolves.toMatchObject({ rows: [], total: 0 });
	});

	it("reads a signed-in read's versions in one snapshot, as REST does (the token check and the cached answer), where reading them costs a round trip", async () => {
		const cacher = shop.broker.cacher as unknown as { versions: CacheVersions };
		const memory = cacher.versions;
		const snapshots: string[][] = [];
		// This shop's versions are in its memory; read as Redis' are (a round trip each, nothing read now), both doors take one snapshot.
		cacher.versions = {
			read: service => memory.read(service),
			readMany: services => (snapshots.push([...services]), memory.readMany(services)),
			begin: (service, holder, leaseMs) => memory.begin(service, holder, leaseMs),
			end: (service, holder) => memory.end(service, holder),
			renew: service => memory.renew(service),
		};
		try {
			expect((await new HttpClient(`${shop.url}/api`).get("/products", token)).status).toBe(200);
			const rest = snapshots.splice(0);
			await socketCall(socket, "products.list", {});
			expect({ rest, socket: snapshots }).toEqual({ rest: [["customers", "products"]], socket: [["customers", "products"]] });
		} finally {
			cacher.versions = memory;
		}
	});
});
