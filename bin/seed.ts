/**
 * `npm run seed`: the demo catalog, customers and six weeks of orders
 * (bin/seed-data.ts), put in through the shop's own REST API as its admin
 * (ADMIN_EMAIL / ADMIN_PASSWORD), so every rule of the services applies
 * (stock reservation, alerts, analytics). Idempotent: products are known by
 * sku, customers by email, and a customer who has any order gets none.
 *
 * Where: the shop at BASE_URL, else at http://127.0.0.1:$PORT. When nothing
 * answers there (and BASE_URL was not given), the embedded default is
 * started on DATA_DIR just for the seeding, unless a node holds that data
 * directory: then that node is the shop, and the seed waits for its API.
 */
import { spawn, type ChildProcess } from "child_process";
import path from "path";
import { lockHolder } from "../lib/db/data-dir-lock";
import type { Customer, Order, Product } from "../lib/types";
import { DEMO_ADMIN, freePort, healthStatus, loadDotEnv, stopProcesses, waitForHealthy } from "./processes";
import { CUSTOMERS, DEMO_PASSWORD, ORDERS, PRODUCTS, type SeedOrder, type SeedStatus } from "./seed-data";
import { ApiError, ShopClient } from "./shop-client";

const RUNNER = path.join(__dirname, "runner.js");
const START_TIMEOUT_MS = 60_000;
/** A node that holds the data directory may still be starting. */
const LOCKED_WAIT_MS = 60_000;

class SeedError extends Error {
	name = "SeedError";
}

interface Admin {
	email: string;
	password: string;
	/** Taken from the defaults, not the environment: said when signing in fails. */
	defaulted: boolean;
}

export interface SeedCounts {
	products: { created: number; existing: number };
	customers: { created: number; existing: number };
	orders: { created: number; customersSkipped: number; refused: number };
}

type Log = (line: string) => void;

function adminOf(env: NodeJS.ProcessEnv): Admin {
	if (env.ADMIN_EMAIL && env.ADMIN_PASSWORD) return { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD, defaulted: false };
	if (env.NODE_ENV === "production") throw new SeedError("Set ADMIN_EMAIL and ADMIN_PASSWORD: the seed signs in as that admin (no default admin when NODE_ENV=production).");
	return { ...DEMO_ADMIN, email: env.ADMIN_EMAIL || DEMO_ADMIN.email, defaulted: true };
}

// ---------------------------------------------------------------------------
// Seeding through the API

async function signIn(client: ShopClient, admin: Admin): Promise<void> {
	try {
		const res = await client.post<{ token: string; customer: Customer }>("/auth/login", { email: admin.email, password: admin.password });
		if (res.customer.role !== "admin") throw new SeedError(`${admin.email} is a customer at ${client.baseUrl}, not an admin: set ADMIN_EMAIL to the shop's admin.`);
		client.token = res.token;
	} catch (err) {
		if (!(err instanceof ApiError)) throw err;
		const hint = admin.defaulted
			? `No ADMIN_EMAIL/ADMIN_PASSWORD were given, so the seed tried ${admin.email} with the default password. Set both to the admin the shop was started with (ADMIN_EMAIL/ADMIN_PASSWORD of the node running customers, e.g. in .env).`
			: "Set ADMIN_EMAIL/ADMIN_PASSWORD to the admin the shop was started with.";
		throw new SeedError(`Could not sign in as ${admin.email} at ${client.baseUrl}: ${err.body?.message ?? err.message}. ${hint}`);
	}
}

/** Every seed product by sku: those the catalog has, the others created. */
async function seedProducts(client: ShopClient, counts: SeedCounts): Promise<Map<string, Product>> {
	const bySku = new Map((await client.all<Product>("/products")).map(p => [p.sku, p]));
	for (const product of PRODUCTS) {
		if (bySku.has(product.sku)) {
			counts.products.existing++;
			continue;
		}
		try {
			bySku.set(product.sku, await client.post<Product>("/products", product));
			counts.products.created++;
		} catch (err) {
			// Created meanwhile (another seed, or a retried request that had arrived).
			if (!(err instanceof ApiError && err.status === 409)) throw err;
			counts.products.existing++;
		}
	}
	const missing = PRODUCTS.filter(p => !bySku.has(p.sku));
	if (missing.length) for (const p of await client.all<Product>("/products")) bySku.set(p.sku, p);
	return bySku;
}

/** Every seed customer's id by email: those registered already, the others registered (password DEMO_PASSWORD). */
async function seedCustomers(client: ShopClient, counts: SeedCounts): Promise<Map<string, string>> {
	const listed = async () => new Map((await client.all<Customer>("/customers")).map(c => [c.email.toLowerCase(), c.id]));
	const byEmail = await listed();
	let raced = false;
	for (const customer of CUSTOMERS) {
		if (byEmail.has(customer.email)) {
			counts.customers.existing++;
			continue;
		}
		try {
			// Registering signs the customer in; the admin's token stays the client's.
			const res = await new ShopClient(client.baseUrl).post<{ customer: Customer }>("/auth/register", {
				name: customer.name,
				email: customer.email,
				password: DEMO_PASSWORD,
				...(customer.phone ? { phone: customer.phone } : {}),
			});
			byEmail.set(customer.email, res.customer.id);
			counts.customers.created++;
		} catch (err) {
			if (!(err instanceof ApiError && err.status === 409)) throw err;
			raced = true;
			counts.customers.existing++;
		}
	}
	return raced ? listed() : byEmail;
}

/** `daysAgo` days before today (UTC) at `hour` o'clock; today's orders are placed now. */
function placedAt(order: SeedOrder, now: Date): string | undefined {
	if (order.daysAgo === 0) return undefined;
	const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - order.daysAgo * 86_400_000;
	return new Date(day + order.hour * 3_600_000).toISOString();
}

/** The moves from confirmed (where placement leaves an order) to the seed's status. */
const MOVES: Record<SeedStatus, Array<Exclude<SeedStatus, "confirmed">>> = {
	confirmed: [],
	shipped: ["shipped"],
	delivered: ["shipped", "delivered"],
	cancelled: ["cancelled"],
};

async function moveTo(client: ShopClient, order: Order, status: SeedStatus): Promise<void> {
	for (const step of MOVES[status]) {
		if (step === "cancelled") await client.post(`/orders/${order.id}/cancel`);
		else await client.patch(`/orders/${order.id}/status`, { status: step });
	}
}

/**
 * The seed's orders of each customer who has none yet, oldest first:
 * placed by the admin for the customer (X-On-Behalf-Of), dated in the past
 * (X-Placed-At), then moved to their status. Each carries an
 * Idempotency-Key, so a request sent again makes no second order.
 */
async function seedOrders(client: ShopClient, customers: Map<string, string>, products: Map<string, Product>, counts: SeedCounts, log: Log): Promise<void> {
	const fresh = new Set<string>();
	for (const email of new Set(ORDERS.map(o => o.customer))) {
		const id = customers.get(email);
		if (!id) continue;
		const { total } = await client.get<{ total: number }>(`/orders?customerId=${encodeURIComponent(id)}&pageSize=1`);
		if (total === 0) fresh.add(email);
		else counts.orders.customersSkipped++;
	}
	const now = new Date();
	for (const [index, spec] of ORDERS.entries()) {
		if (!fresh.has(spec.customer)) continue;
		const items = spec.items.filter(([sku]) => products.has(sku)).map(([sku, quantity]) => ({ productId: products.get(sku)!.id, quantity }));
		const customer = CUSTOMERS.find(c => c.email === spec.customer)!;
		const when = placedAt(spec, now);
		const headers: Record<string, string> = { "x-on-behalf-of": customers.get(spec.customer)!, "idempotency-key": `demo-seed-${index + 1}`, ...(when ? { "x-placed-at": when } : {}) };
		try {
			const order = await client.post<Order>("/orders", { items, shippingAddress: customer.address }, headers);
			await moveTo(client, order, spec.status);
			counts.orders.created++;
		} catch (err) {
			// A catalog that was there before the seed may lack the stock: that order is left out.
			if (!(err instanceof ApiError && (err.status === 409 || err.status === 422))) throw err;
			log(`  order ${index + 1} of ${spec.customer} left out: ${err.message}`);
			counts.orders.refused++;
		}
	}
}

/** Fill the shop at `baseUrl` as its admin. */
export async function seedShop(baseUrl: string, admin: Admin, log: Log): Promise<SeedCounts> {
	const client = new ShopClient(baseUrl);
	const counts: SeedCounts = { products: { created: 0, existing: 0 }, customers: { created: 0, existing: 0 }, orders: { created: 0, customersSkipped: 0, refused: 0 } };
	await signIn(client, admin);
	const products = await seedProducts(client, counts);
	const customers = await seedCustomers(client, counts);
	await seedOrders(client, customers, products, counts, log);
	return counts;
}

// ---------------------------------------------------------------------------
// Which shop

interface EmbeddedShop {
	url: string;
	stop(): Promise<void>;
}

/** The embedded default (every service, NeDB files in DATA_DIR), for the seeding only: loopback, a free port, the admin it needs. */
async function startEmbedded(admin: Admin, log: Log): Promise<EmbeddedShop> {
	const port = await freePort();
	const env: NodeJS.ProcessEnv = {
		...process.env,
		PORT: String(port),
		HOST: "127.0.0.1",
		ADMIN_EMAIL: admin.email,
		ADMIN_PASSWORD: admin.password,
		// Empty counts as unset, and keeps a value in .env from coming back: the embedded default, all services.
		TRANSPORTER: "",
		CACHER: "",
		SERVICES: "",
		NAMESPACE: "",
		METRICS_PORT: "",
		LOG_LEVEL: "warn",
		// Only the seed talks to this node.
		RATE_LIMIT_MAX: "1000000",
	};
	const child: ChildProcess = spawn(process.execPath, [RUNNER], { cwd: process.cwd(), env, stdio: ["ignore", "pipe", "pipe"] });
	const output: string[] = [];
	child.stdout!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
	child.stderr!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
	const exited = new Promise<void>(resolve => child.once("exit", () => resolve()));
	const stop = async () => {
		if (child.exitCode === null && child.signalCode === null) await stopProcesses([{ pid: child.pid! }]);
		await exited;
	};
	const url = `http://127.0.0.1:${port}`;
	log(`No shop is running: starting the embedded default on ${process.env.DATA_DIR || "./data"} for the seeding (pid ${child.pid}).`);
	try {
		await waitForHealthy(url, START_TIMEOUT_MS, () => (child.exitCode !== null || child.signalCode !== null ? `The embedded shop exited before it started:\n${output.join("")}` : undefined));
	} catch (err) {
		await stop();
		throw new SeedError((err as Error).message);
	}
	return { url, stop };
}

/** BASE_URL, or this host's PORT. */
function targetOf(env: NodeJS.ProcessEnv): { url: string; named: boolean } {
	if (env.BASE_URL) return { url: env.BASE_URL.replace(/\/+$/, "").replace(/\/api$/, ""), named: true };
	return { url: `http://127.0.0.1:${env.PORT || 5000}`, named: false };
}

/** The shop to seed: one answering at the target, one starting on the data directory, or the embedded default started here. */
async function findShop(admin: Admin, log: Log): Promise<EmbeddedShop> {
	const target = targetOf(process.env);
	const running = { url: target.url, stop: () => Promise.resolve() };
	const status = await healthStatus(target.url);
	if (status !== undefined) {
		if (status !== 200) {
			log(`The shop at ${target.url} answers /api/health ${status}: waiting until every service runs.`);
			await waitForHealthy(target.url, LOCKED_WAIT_MS);
		}
		return running;
	}
	if (target.named) throw new SeedError(`Nothing answers at BASE_URL ${target.url}. Start the shop there, or leave BASE_URL unset to seed the embedded default.`);
	const dataDir = process.env.DATA_DIR || "./data";
	if (dataDir === ":memory:" && !process.env.MONGO_URI)
		throw new SeedError("DATA_DIR=:memory: keeps nothing: a seed started here would vanish with its node. Start the shop first, or use a data directory.");
	const holder = process.env.MONGO_URI ? undefined : lockHolder(dataDir);
	if (holder !== undefined) {
		log(`A node (pid ${holder}) holds ${dataDir}: waiting for its API at ${target.url}.`);
		try {
			await waitForHealthy(target.url, LOCKED_WAIT_MS);
		} catch {
			throw new SeedError(`A node (pid ${holder}) holds DATA_DIR ${dataDir}, but its API does not answer at ${target.url}. Point the seed at it with BASE_URL (or PORT), or stop it.`);
		}
		return running;
	}
	return startEmbedded(admin, log);
}

function report(c: SeedCounts, url: string, log: Log): void {
	log(`Seeded ${url}:`);
	log(`  products:  ${c.products.created} created, ${c.products.existing} already there`);
	log(`  customers: ${c.customers.created} created, ${c.customers.existing} already there (password of the new ones: ${DEMO_PASSWORD})`);
	log(
		`  orders:    ${c.orders.created} created${c.orders.customersSkipped ? `, ${c.orders.customersSkipped} customers skipped (they have orders)` : ""}${c.orders.refused ? `, ${c.orders.refused} refused` : ""}`,
	);
}

async function main(): Promise<void> {
	loadDotEnv();
	const log: Log = line => console.log(line);
	const admin = adminOf(process.env);
	const shop = await findShop(admin, log);
	let interrupted = false;
	const onSignal = () => {
		interrupted = true;
		void shop.stop().then(() => process.exit(130));
	};
	process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
	try {
		report(await seedShop(shop.url, admin, log), shop.url, log);
	} finally {
		if (!interrupted) await shop.stop();
	}
}

if (require.main === module) {
	main().then(
		() => process.exit(0),
		(err: Error) => {
			console.error(err instanceof SeedError || err instanceof ApiError ? err.message : err);
			process.exit(1);
		},
	);
}
