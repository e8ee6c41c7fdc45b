/**
 * `npm run seed`: the demo catalog, customers, six weeks of orders, today's
 * checkouts and some carts (bin/lib/seed-data.ts), put in through the shop's
 * own REST API as its admin (and as the customers and a guest for their
 * carts and checkouts), so every rule of the services applies (stock
 * reservation, alerts, analytics). Idempotent: products are known by sku,
 * customers by email, and a customer who has any order gets no orders,
 * checkout or cart; nor is a guest cart made when no customer got any.
 *
 * The admin's credentials go only to a shop the seed knows is the one it
 * means, never to whatever answers on a port: the shop at BASE_URL (given
 * explicitly); else the node holding DATA_DIR, at the address it recorded
 * in the directory's lock; else the local cluster (`npm run cluster`) whose
 * pid file names a live gateway; else the embedded default, started on
 * DATA_DIR just for the seeding. It signs in as ADMIN_EMAIL /
 * ADMIN_PASSWORD, or with the generated admin that shop wrote beside its
 * data (generated-admin.json).
 */
import { spawn, type ChildProcess } from "child_process";
import path from "path";
import { lockRecord, type LockRecord } from "../lib/db/data-dir-lock";
import { DEFAULT_DATA_DIR } from "../lib/infra/env-defaults";
import { GENERATED_ADMIN_FILE, readAdminFile } from "../lib/infra/generated-admin";
import type { Customer, Order, Product } from "../lib/contracts/types";
import { clusterFolder, freePort, healthStatus, isAlive, loadDotEnv, readClusterPidFile, sleep, stopProcesses, waitForHealthy } from "./lib/processes";
import { CUSTOMERS, DEMO_PASSWORD, ORDERS, PRODUCTS, paymentOf, trackingOf, type SeedOrder } from "./lib/seed-data";
import { seedShopping, type ShoppingCounts } from "./lib/seed-shopping";
import { ApiError, ShopClient } from "./lib/shop-client";

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
	/** The file it was read from (the shop's generated admin), not the environment: said when signing in fails. */
	file?: string;
}

export interface SeedCounts extends ShoppingCounts {
	products: { created: number; existing: number };
	customers: { created: number; existing: number };
	orders: { created: number; customersSkipped: number; refused: number };
}

type Log = (line: string) => void;

/** ADMIN_EMAIL / ADMIN_PASSWORD, else the admin the shop generated and wrote beside its data. */
function adminOf(env: NodeJS.ProcessEnv, shop: Shop): Admin {
	if (env.ADMIN_EMAIL && env.ADMIN_PASSWORD) return { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD };
	const generated = shop.adminFile === undefined ? undefined : readAdminFile(shop.adminFile);
	if (generated) return { ...generated, file: shop.adminFile };
	const where = shop.adminFile ? ` (and there is no generated admin in ${shop.adminFile})` : "";
	throw new SeedError(`Set ADMIN_EMAIL and ADMIN_PASSWORD to the admin of the shop at ${shop.url}${where}: the seed signs in as that admin.`);
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
		const hint = admin.file
			? `No ADMIN_EMAIL/ADMIN_PASSWORD were given, so the seed tried the generated admin in ${admin.file}. Set both to the shop's admin (e.g. in .env).`
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

/**
 * From confirmed (where placement leaves an order) to the seed's state:
 * paid manually first when it is paid, shipped with a carrier and tracking
 * number, delivered, then refunded or its lines returned.
 */
async function moveTo(client: ShopClient, order: Order, spec: SeedOrder, index: number, products: Map<string, Product>): Promise<void> {
	const payment = paymentOf(spec);
	if (spec.status === "cancelled") {
		await client.post(`/orders/${order.id}/cancel`);
		return;
	}
	if (payment !== "unpaid") await client.post(`/orders/${order.id}/mark-paid`, {});
	if (spec.status === "shipped" || spec.status === "delivered") await client.post(`/orders/${order.id}/ship`, trackingOf(index));
	if (spec.status === "delivered") await client.post(`/orders/${order.id}/deliver`, {});
	if (payment === "refunded") await client.post(`/orders/${order.id}/refunds`, { amountCents: order.totalCents });
	const returned = (spec.returned ?? []).filter(([sku]) => products.has(sku));
	if (returned.length) await client.post(`/orders/${order.id}/returns`, { items: returned.map(([sku, quantity, restock]) => ({ productId: products.get(sku)!.id, quantity, restock })) });
}

/** The seed customers who have no order yet: this run gives them their orders, checkouts and carts. */
async function freshCustomers(client: ShopClient, customers: Map<string, string>, counts: SeedCounts): Promise<Set<string>> {
	const fresh = new Set<string>();
	for (const { email } of CUSTOMERS) {
		const id = customers.get(email);
		if (!id) continue;
		const { total } = await client.get<{ total: number }>(`/orders?customerId=${encodeURIComponent(id)}&pageSize=1`);
		if (total === 0) fresh.add(email);
		else counts.orders.customersSkipped++;
	}
	return fresh;
}

/**
 * The seed's orders of each customer who has none yet, oldest first:
 * placed by the admin for the customer (X-On-Behalf-Of), dated in the past
 * (X-Placed-At), then moved to their status. Each carries an
 * Idempotency-Key, so a request sent again makes no second order.
 */
async function seedOrders(client: ShopClient, customers: Map<string, string>, fresh: ReadonlySet<string>, products: Map<string, Product>, counts: SeedCounts, log: Log): Promise<void> {
	const now = new Date();
	for (const [index, spec] of ORDERS.entries()) {
		if (!fresh.has(spec.customer)) continue;
		const items = spec.items.filter(([sku]) => products.has(sku)).map(([sku, quantity]) => ({ productId: products.get(sku)!.id, quantity }));
		const customer = CUSTOMERS.find(c => c.email === spec.customer)!;
		const when = placedAt(spec, now);
		const headers: Record<string, string> = { "x-on-behalf-of": customers.get(spec.customer)!, "idempotency-key": `demo-seed-${index + 1}`, ...(when ? { "x-placed-at": when } : {}) };
		try {
			const order = await client.post<Order>("/orders", { items, shippingAddress: customer.address }, headers);
			await moveTo(client, order, spec, index, products);
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
	const counts: SeedCounts = {
		products: { created: 0, existing: 0 },
		customers: { created: 0, existing: 0 },
		orders: { created: 0, customersSkipped: 0, refused: 0 },
		checkouts: { created: 0, awaitingPayment: 0, refused: 0 },
		carts: { filled: 0, refused: 0 },
	};
	await signIn(client, admin);
	const products = await seedProducts(client, counts);
	const customers = await seedCustomers(client, counts);
	const fresh = await freshCustomers(client, customers, counts);
	await seedOrders(client, customers, fresh, products, counts, log);
	await seedShopping({ admin: client, products, fresh, counts, log });
	return counts;
}

// ---------------------------------------------------------------------------
// Which shop

interface Shop {
	url: string;
	/** Where that shop's generated admin is, when the seed knows which data it runs on. */
	adminFile?: string;
	stop(): Promise<void>;
}

const nothingToStop = () => Promise.resolve();

/** The embedded default (every service, NeDB files in DATA_DIR), for the seeding only: loopback, a free port, the admin of the environment or one it generates. */
async function startEmbedded(dataDir: string, log: Log): Promise<Shop> {
	const port = await freePort();
	const env: NodeJS.ProcessEnv = {
		...process.env,
		PORT: String(port),
		HOST: "127.0.0.1",
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
	log(`No shop is running: starting the embedded default on ${dataDir} for the seeding (pid ${child.pid}).`);
	try {
		await waitForHealthy(url, START_TIMEOUT_MS, () => (child.exitCode !== null || child.signalCode !== null ? `The embedded shop exited before it started:\n${output.join("")}` : undefined));
	} catch (err) {
		await stop();
		throw new SeedError((err as Error).message);
	}
	return { url, adminFile: path.join(dataDir, GENERATED_ADMIN_FILE), stop };
}

/** The node holding DATA_DIR, once it has recorded where its gateway answers and answers there; it must hold the directory all along. */
async function holderShop(dataDir: string, holder: LockRecord, log: Log): Promise<Shop> {
	const deadline = Date.now() + LOCKED_WAIT_MS;
	const gone = () => (lockRecord(dataDir)?.pid === holder.pid ? undefined : `The node (pid ${holder.pid}) that held ${dataDir} stopped.`);
	log(`A node (pid ${holder.pid}) holds ${dataDir}: seeding it${holder.api ? ` at ${holder.api}` : " once its gateway listens"}.`);
	let api = holder.api;
	while (!api) {
		const why = gone();
		if (why) throw new SeedError(why);
		if (Date.now() > deadline)
			throw new SeedError(
				`A node (pid ${holder.pid}) holds DATA_DIR ${dataDir} but has not said where its gateway answers (it runs no api service, or has not started). Point the seed at it with BASE_URL and ADMIN_EMAIL/ADMIN_PASSWORD, or stop it.`,
			);
		await sleep(250);
		api = lockRecord(dataDir)?.api;
	}
	try {
		await waitForHealthy(api, Math.max(deadline - Date.now(), 1000), gone);
	} catch (err) {
		throw new SeedError((err as Error).message);
	}
	return { url: api, adminFile: path.join(dataDir, GENERATED_ADMIN_FILE), stop: nothingToStop };
}

/** The local cluster of NAMESPACE (`npm run cluster`), when its pid file names a live first gateway. */
function clusterShop(env: NodeJS.ProcessEnv): (Shop & { namespace: string }) | undefined {
	const { namespace, dir } = clusterFolder(env);
	const gateway = readClusterPidFile(dir)?.nodes.find(n => n.name === "api-1");
	if (!gateway?.port || !isAlive(gateway.pid, gateway.startTime)) return undefined;
	return { namespace, url: `http://127.0.0.1:${gateway.port}`, adminFile: path.join(dir, GENERATED_ADMIN_FILE), stop: nothingToStop };
}

/** BASE_URL without a trailing slash or /api. */
function baseUrlOf(value: string): string {
	return value.replace(/\/+$/, "").replace(/\/api$/, "");
}

/** The shop to seed (see the top of this file): one the seed can tell is the one it means, or the embedded default it starts. */
async function findShop(env: NodeJS.ProcessEnv, log: Log): Promise<Shop> {
	const dataDir = env.DATA_DIR || DEFAULT_DATA_DIR;
	const holder = env.MONGO_URI || dataDir === ":memory:" ? undefined : lockRecord(dataDir);
	if (env.BASE_URL) {
		const url = baseUrlOf(env.BASE_URL);
		const status = await healthStatus(url);
		if (status === undefined) throw new SeedError(`Nothing answers at BASE_URL ${url}. Start the shop there, or leave BASE_URL unset to seed the embedded default.`);
		if (status !== 200) {
			log(`The shop at ${url} answers /api/health ${status}: waiting until every service runs.`);
			await waitForHealthy(url, LOCKED_WAIT_MS);
		}
		// The generated admin of DATA_DIR only for the node that holds it.
		return { url, adminFile: holder?.api === url ? path.join(dataDir, GENERATED_ADMIN_FILE) : undefined, stop: nothingToStop };
	}
	if (holder) return holderShop(dataDir, holder, log);
	const cluster = clusterShop(env);
	if (cluster) {
		log(`Seeding the cluster "${cluster.namespace}" through its gateway ${cluster.url}.`);
		await waitForHealthy(cluster.url, LOCKED_WAIT_MS);
		return cluster;
	}
	if (dataDir === ":memory:" && !env.MONGO_URI)
		throw new SeedError("DATA_DIR=:memory: keeps nothing: a seed started here would vanish with its node. Start the shop first, or use a data directory.");
	const onPort = `http://127.0.0.1:${env.PORT || 5000}`;
	if ((await healthStatus(onPort)) !== undefined)
		log(`Something answers at ${onPort}, but it is not the node holding ${dataDir}: the seed sends it nothing (to seed it, set BASE_URL and ADMIN_EMAIL/ADMIN_PASSWORD).`);
	return startEmbedded(dataDir, log);
}

function report(c: SeedCounts, url: string, log: Log): void {
	log(`Seeded ${url}:`);
	log(`  products:  ${c.products.created} created, ${c.products.existing} already there`);
	log(`  customers: ${c.customers.created} created, ${c.customers.existing} already there (password of the new ones: ${DEMO_PASSWORD})`);
	log(
		`  orders:    ${c.orders.created} created${c.orders.customersSkipped ? `, ${c.orders.customersSkipped} customers skipped (they have orders)` : ""}${c.orders.refused ? `, ${c.orders.refused} refused` : ""}`,
	);
	const refusedToo = (n: number) => (n ? `, ${n} refused` : "");
	log(`  checkouts: ${c.checkouts.created} created, ${c.checkouts.awaitingPayment} of them awaiting payment until their deadline${refusedToo(c.checkouts.refused)}`);
	log(`  carts:     ${c.carts.filled} filled${refusedToo(c.carts.refused)}`);
	if (c.carts.guestToken) log(`  the guest's cart: send X-Cart-Token: ${c.carts.guestToken}`);
}

async function main(): Promise<void> {
	loadDotEnv();
	const log: Log = line => console.log(line);
	const shop = await findShop(process.env, log);
	let interrupted = false;
	const onSignal = () => {
		interrupted = true;
		void shop.stop().then(() => process.exit(130));
	};
	process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
	try {
		report(await seedShop(shop.url, adminOf(process.env, shop), log), shop.url, log);
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
