import { spawn } from "child_process";
import fs from "fs";
import http from "http";
import type { AddressInfo } from "net";
import os from "os";
import path from "path";
import { CARTS, CHECKOUTS, CUSTOMERS, DEMO_PASSWORD, ORDERS, PRODUCTS, paymentOf } from "../../bin/lib/seed-data";
import { lockDataDir, lockHolder, recordApi, releaseDataDir } from "../../lib/db/data-dir-lock";
import { waitFor } from "../helpers/broker";
import { ADMIN, ADMIN_ENV, freePort } from "../helpers/cluster";
import { HttpClient } from "../helpers/http";
import { startShopProcess, type ShopProcess } from "../helpers/shop-process";

const ROOT = path.resolve(__dirname, "../..");
const SEED = path.join(ROOT, "dist/bin/seed.js");
/** Where the seed's orders rest right after seeding (checkouts not paid await payment until their deadline). */
const SETTLED_STATUSES = ["awaiting_payment", "confirmed", "shipped", "delivered", "cancelled"] as const;

interface SeedRun {
	stdout: string;
	stderr: string;
	/** Resolves with the exit code once the seed has ended. */
	done: Promise<number | null>;
}

/** `node dist/bin/seed.js` as `npm run seed` runs it once built, in an empty folder (no .env) with only these variables. */
function runSeed(cwd: string, env: Record<string, string>): SeedRun {
	const child = spawn(process.execPath, [SEED], { cwd, env: { PATH: process.env.PATH, BCRYPT_ROUNDS: "4", ...env }, stdio: ["ignore", "pipe", "pipe"] });
	const run: SeedRun = { stdout: "", stderr: "", done: new Promise(resolve => child.once("exit", code => resolve(code))) };
	child.stdout.on("data", (chunk: Buffer) => (run.stdout += chunk.toString()));
	child.stderr.on("data", (chunk: Buffer) => (run.stderr += chunk.toString()));
	return run;
}

async function seeded(cwd: string, env: Record<string, string>): Promise<SeedRun> {
	const run = runSeed(cwd, env);
	const code = await run.done;
	if (code !== 0) throw new Error(`The seed exited ${code}:\n${run.stdout}\n${run.stderr}`);
	return run;
}

/**
 * A stand-in on a port, answering `/api/health` 200 as a shop would: what a
 * seed sends it is recorded, and it must never get the admin's credentials.
 */
async function standIn(): Promise<{ port: number; requests: string[]; close(): Promise<void> }> {
	const requests: string[] = [];
	const server = http.createServer((req, res) => {
		let body = "";
		req.on("data", (chunk: Buffer) => (body += chunk.toString()));
		req.on("end", () => {
			requests.push(`${req.method} ${req.url} ${body}`.trim());
			res.writeHead(200, { "content-type": "application/json" }).end(req.url === "/api/health" ? '{"status":"ok"}' : '{"token":"t","customer":{"role":"admin"}}');
		});
	});
	await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
	return { port: (server.address() as AddressInfo).port, requests, close: () => new Promise(resolve => server.close(() => resolve())) };
}

/** The admin the shop on `dataDir` generated (no ADMIN_* given), as it wrote it. */
function generatedAdmin(dataDir: string): { email: string; password: string } {
	const file = path.join(dataDir, "generated-admin.json");
	expect(fs.statSync(file).mode & 0o777).toBe(0o600);
	return JSON.parse(fs.readFileSync(file, "utf8"));
}

/** What an admin sees of the shop: everything the seed could add or change. */
async function shopState(url: string, admin = ADMIN) {
	const http = new HttpClient(`${url}/api`);
	const token = (await http.post("/auth/login", admin)).body.token;
	const products = (await http.get("/products?pageSize=100&sort=sku")).body;
	const byStatus: Record<string, number> = {};
	for (const status of SETTLED_STATUSES) byStatus[status] = (await http.get(`/orders?status=${status}&pageSize=1`, token)).body.total;
	return {
		http,
		token,
		products: products.rows.map((p: any) => ({ sku: p.sku, stock: p.stock, lowStockThreshold: p.lowStockThreshold })),
		productTotal: products.total,
		customers: (await http.get("/customers?pageSize=100", token)).body.rows.map((c: any) => c.email).sort(),
		orderTotal: (await http.get("/orders?pageSize=1", token)).body.total,
		byStatus,
	};
}

const expectedByStatus = Object.fromEntries(SETTLED_STATUSES.map(s => [s, [...ORDERS, ...CHECKOUTS].filter(o => o.status === s).length]));
const awaitingPayment = CHECKOUTS.filter(c => c.status === "awaiting_payment").length;

/** Each seeded cart as its owner reads it (`sku x quantity`): a customer signed in with the demo password, the guest with the token the seed reported. */
async function cartsOf(http: HttpClient, seedOutput: string): Promise<Record<string, string[]>> {
	const lines = (body: any) => body.lines.map((l: any) => `${l.sku} x ${l.quantity}`).sort();
	const carts: Record<string, string[]> = {};
	for (const { email } of CUSTOMERS) {
		const token = (await http.post("/auth/login", { email, password: DEMO_PASSWORD })).body.token;
		carts[email] = lines((await http.get("/cart", token)).body);
	}
	const guestToken = /X-Cart-Token: (\S+)/.exec(seedOutput)![1];
	carts.guest = lines((await http.get("/cart", undefined, { "x-cart-token": guestToken })).body);
	return carts;
}

const expectedCarts = Object.fromEntries(
	[...CUSTOMERS.map(c => c.email), "guest"].map(owner => [owner, (CARTS.find(c => (c.customer ?? "guest") === owner)?.items ?? []).map(([sku, n]) => `${sku} x ${n}`).sort()]),
);

describe("npm run seed", () => {
	const base = fs.mkdtempSync(path.join(os.tmpdir(), "shop-seed-"));
	const shops: ShopProcess[] = [];
	const start = async (dataDir: string, port?: number, env: Record<string, string> = ADMIN_ENV) => {
		const shop = await startShopProcess({ port: port ?? (await freePort()), dataDir, env: { ...env, BCRYPT_ROUNDS: "4" } });
		shops.push(shop);
		return shop;
	};
	afterAll(async () => {
		await Promise.all(shops.map(s => s.stop()));
		fs.rmSync(base, { recursive: true, force: true });
	});

	it("fills a running shop through its API (BASE_URL), with history for the dashboard and the sales series; a second run adds nothing", async () => {
		const shop = await start(path.join(base, "running"));
		const first = await seeded(base, { BASE_URL: shop.url, ...ADMIN_ENV });
		expect(first.stdout).toMatch(new RegExp(`products: +${PRODUCTS.length} created, 0 already there`));
		expect(first.stdout).toMatch(new RegExp(`orders: +${ORDERS.length} created`));
		expect(first.stdout).toMatch(new RegExp(`checkouts: +${CHECKOUTS.length} created, ${awaitingPayment} of them awaiting payment`));
		expect(first.stdout).toMatch(new RegExp(`carts: +${CARTS.length} filled`));

		const state = await shopState(shop.url);
		expect(state.productTotal).toBe(PRODUCTS.length);
		expect(new Set(PRODUCTS.map(p => p.category)).size).toBeGreaterThanOrEqual(3);
		const low = state.products.filter((p: any) => p.stock <= p.lowStockThreshold);
		expect(low.length).toBeGreaterThanOrEqual(3);
		expect(low.some((p: any) => p.stock === 0)).toBe(true);
		expect(state.customers).toEqual(expect.arrayContaining(CUSTOMERS.map(c => c.email)));
		expect(state.byStatus).toEqual(expectedByStatus);
		for (const status of SETTLED_STATUSES) expect(state.byStatus[status]).toBeGreaterThan(0);

		// Paid manually, one refunded, one returned, the shipped ones with their tracking.
		const orders = (await state.http.get("/orders?pageSize=100", state.token)).body.rows as any[];
		const byPayment = (status: string) => orders.filter(o => o.paymentStatus === status).length;
		const returned = ORDERS.filter(o => o.returned).length;
		expect(returned).toBe(1);
		const checkoutsPaid = CHECKOUTS.length - awaitingPayment;
		expect(byPayment("paid")).toBe(ORDERS.filter(o => paymentOf(o) === "paid").length - returned + checkoutsPaid);
		expect(byPayment("paid")).toBeGreaterThan(5);
		expect(byPayment("refunded")).toBe(1);
		expect(byPayment("partially_refunded")).toBe(1);
		expect(orders.filter(o => o.returns.length > 0)).toEqual([expect.objectContaining({ status: "delivered", paymentStatus: "partially_refunded" })]);
		// Today's checkouts: some awaiting payment (a bank transfer chosen), the others paid by bank transfer and marked paid.
		const checkouts = orders.filter(o => typeof o.shippingMethod === "string");
		expect(checkouts).toHaveLength(CHECKOUTS.length);
		for (const o of checkouts) expect(o).toMatchObject({ paymentDeadline: expect.any(String), taxCents: expect.any(Number), shippingCents: expect.any(Number) });
		const awaiting = orders.filter(o => o.status === "awaiting_payment");
		expect(awaiting).toHaveLength(awaitingPayment);
		expect(awaitingPayment).toBeGreaterThan(0);
		for (const o of awaiting) expect(o).toMatchObject({ paymentStatus: "unpaid", paidCents: 0, shippingMethod: expect.any(String) });
		expect(checkouts.filter(o => o.paymentStatus === "paid")).toHaveLength(checkoutsPaid);
		expect(checkoutsPaid).toBeGreaterThan(0);
		for (const o of awaiting) {
			const payment = (await state.http.get(`/orders/${o.id}/payment`, state.token)).body;
			expect(payment).toMatchObject({ provider: "manual", status: "unpaid", reference: expect.any(String) });
		}

		for (const o of orders.filter(o => o.status === "shipped" || o.status === "delivered")) {
			expect(o.fulfilment).toMatchObject({ carrier: expect.any(String), trackingNumber: expect.stringMatching(/^DEMO\d{8}$/) });
			expect(o.fulfilment.deliveredAt === null).toBe(o.status === "shipped");
		}

		const dashboard = await waitFor(
			async () => {
				const d = (await state.http.get("/analytics/dashboard", state.token)).body;
				return d.totalOrders === ORDERS.length + CHECKOUTS.length ? d : null;
			},
			10_000,
			"the seeded orders on the dashboard",
		);
		expect(dashboard.revenueCents).toBeGreaterThan(0);
		expect(dashboard.topProducts.length).toBeGreaterThan(0);
		expect(dashboard.lowStockProducts.length).toBe(low.length);
		const sales = (await state.http.get("/analytics/sales?interval=day", state.token)).body as Array<{ period: string }>;
		const days = sales.map(s => Date.parse(s.period));
		expect(sales.length).toBeGreaterThanOrEqual(10);
		expect((Math.max(...days) - Math.min(...days)) / 86_400_000).toBeGreaterThanOrEqual(28);
		const alerts = (await state.http.get("/alerts?type=stock_low", state.token)).body;
		expect(alerts.total).toBeGreaterThan(0);

		// The carts, each as its owner reads it; those whose customer checked out were emptied by the checkout.
		expect(await cartsOf(state.http, first.stdout)).toEqual(expectedCarts);
		expect(Object.values(expectedCarts).filter(lines => lines.length > 0)).toHaveLength(CARTS.length);

		const second = await seeded(base, { BASE_URL: `${shop.url}/api/`, ...ADMIN_ENV });
		expect(second.stdout).toMatch(new RegExp(`products: +0 created, ${PRODUCTS.length} already there`));
		expect(second.stdout).toMatch(/customers: +0 created/);
		expect(second.stdout).toMatch(/orders: +0 created/);
		expect(second.stdout).toMatch(/checkouts: +0 created/);
		expect(second.stdout).toMatch(/carts: +0 filled/);
		expect(second.stdout).not.toContain("X-Cart-Token");
		const again = await shopState(shop.url);
		expect({ ...again, http: null, token: null }).toEqual({ ...state, http: null, token: null });
		expect(await cartsOf(state.http, first.stdout)).toEqual(expectedCarts);
	});

	it("says why when it cannot sign in as the admin, and changes nothing", async () => {
		const shop = await start(path.join(base, "wrong-admin"));
		const run = runSeed(base, { BASE_URL: shop.url, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: "not-the-password" });
		expect(await run.done).toBe(1);
		expect(run.stderr).toContain(`Could not sign in as ${ADMIN.email} at ${shop.url}: Invalid email or password`);
		expect((await shopState(shop.url)).productTotal).toBe(0);
	});

	it("starts the embedded default on DATA_DIR when no shop runs, stops it afterwards, and the data stays", async () => {
		const dataDir = path.join(base, "embedded");
		const run = await seeded(base, { PORT: String(await freePort()), DATA_DIR: dataDir, ...ADMIN_ENV });
		expect(run.stdout).toContain(`No shop is running: starting the embedded default on ${dataDir}`);
		expect(run.stdout).toMatch(new RegExp(`orders: +${ORDERS.length} created`));
		// The seed's node has exited: nothing holds the directory.
		expect(lockHolder(dataDir)).toBeUndefined();

		const shop = await start(dataDir);
		const state = await shopState(shop.url);
		expect(state.productTotal).toBe(PRODUCTS.length);
		expect(state.byStatus).toEqual(expectedByStatus);
		expect((await seeded(base, { BASE_URL: shop.url, ...ADMIN_ENV })).stdout).toMatch(/orders: +0 created/);
	});

	it("the quick start: `npm start` and the seed with no variables; the seed finds the node holding DATA_DIR and its generated admin, and sends nothing to a stand-in on PORT", async () => {
		const dataDir = path.join(base, "quick-start");
		const shop = await start(dataDir, undefined, {});
		const admin = generatedAdmin(dataDir);
		expect(admin.email).toBe("admin@shop.localhost");
		expect(shop.output.join("")).toContain(path.join(dataDir, "generated-admin.json"));
		const fake = await standIn();
		try {
			const run = await seeded(base, { DATA_DIR: dataDir, PORT: String(fake.port) });
			expect(run.stdout).toContain(`A node (pid `);
			expect(run.stdout).toContain(`Seeded ${shop.url}:`);
			expect(fake.requests).toEqual([]);
		} finally {
			await fake.close();
		}
		expect((await shopState(shop.url, admin)).productTotal).toBe(PRODUCTS.length);
	});

	it("never sends the admin's credentials to a stand-in answering on PORT: with no node on DATA_DIR it seeds its own embedded node, as that node's generated admin", async () => {
		const dataDir = path.join(base, "stand-in");
		const fake = await standIn();
		try {
			const run = await seeded(base, { DATA_DIR: dataDir, PORT: String(fake.port) });
			expect(run.stdout).toContain(`No shop is running: starting the embedded default on ${dataDir}`);
			expect(run.stdout).toMatch(new RegExp(`orders: +${ORDERS.length} created`));
			// At most asked whether it answers; no credentials, nothing else.
			expect(fake.requests.filter(r => r !== "GET /api/health")).toEqual([]);
		} finally {
			await fake.close();
		}
		const admin = generatedAdmin(dataDir);
		const shop = await start(dataDir, undefined, {});
		expect((await shopState(shop.url, admin)).productTotal).toBe(PRODUCTS.length);
	});

	it("never starts a node on a data directory another process holds: it waits until that node says where its gateway answers", async () => {
		const dataDir = path.join(base, "held");
		// This test process holds the directory, as a node still starting would.
		lockDataDir(dataDir);
		try {
			const fake = await standIn();
			const run = runSeed(base, { PORT: String(fake.port), DATA_DIR: dataDir, ...ADMIN_ENV });
			try {
				await waitFor(() => run.stdout.includes(`A node (pid ${process.pid}) holds ${dataDir}: seeding it once its gateway listens`), 15_000, "the seed to see the lock");
				const shop = await start(path.join(base, "held-shop"));
				recordApi(dataDir, shop.url);
				expect(await run.done).toBe(0);
				expect(fs.readdirSync(dataDir)).toEqual([".lock"]);
				expect((await shopState(shop.url)).productTotal).toBe(PRODUCTS.length);
				expect(fake.requests).toEqual([]);
			} finally {
				await fake.close();
			}
		} finally {
			releaseDataDir(dataDir);
		}
	});
});
