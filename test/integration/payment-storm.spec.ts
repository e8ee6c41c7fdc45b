import fs from "fs";
import os from "os";
import path from "path";
import { waitFor } from "../helpers/broker";
import { freePort } from "../helpers/cluster";
import { HttpClient } from "../helpers/http";
import { allOrders, moneyImbalance, stockImbalance, type TrackedProduct } from "../helpers/invariants";
import { intBetween, newSeed, pick, seededRandom } from "../helpers/random";
import { startShopProcess, type ShopProcess } from "../helpers/shop-process";

/**
 * A restart storm on the embedded default: eight clients place orders,
 * mark them paid, refund them, cancel them, ship, deliver and return them,
 * while the whole shop is killed (SIGKILL) and restarted on its data four
 * times. Once quiet, the stock invariant (with returned quantities) and the
 * money invariant hold, and no answer was a 5xx other than 503.
 */

const ADMIN = { email: "admin@paystorm.test", password: "admin-password" };
const ENV = {
	ADMIN_EMAIL: ADMIN.email,
	ADMIN_PASSWORD: ADMIN.password,
	JWT_SECRET: "payment-storm-secret-0123456789",
	BCRYPT_ROUNDS: "4",
	RATE_LIMIT_MAX: "1000000",
	PENDING_TIMEOUT_MS: "700",
	RECOVERY_INTERVAL_MS: "250",
	LOG_LEVEL: "info",
};

describe("a restart storm with payments, refunds, cancellations and returns", () => {
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "paystorm-"));
	let shop: ShopProcess | undefined;
	let port = 0;
	const http = new HttpClient("");

	const start = async () => {
		port ||= await freePort();
		shop = await startShopProcess({ port, dataDir, env: ENV });
		http.base = `${shop.url}/api`;
		await waitFor(async () => (await http.get("/health")).status === 200, 20_000, "health 200");
	};

	afterAll(async () => {
		await shop?.stop();
		fs.rmSync(dataDir, { recursive: true, force: true });
	});

	it("keeps stock and money balanced through four kills", async () => {
		const seed = newSeed();
		console.log(`payment storm seed ${seed}`);
		const rand = seededRandom(seed);
		await start();
		const admin = (await http.post("/auth/login", ADMIN)).body.token as string;
		const customer = (await http.post("/auth/register", { name: "Storm", email: "storm@paystorm.test", password: "password-1" })).body.token as string;
		const products: TrackedProduct[] = [];
		for (const sku of ["STORM-A", "STORM-B", "STORM-C"]) {
			const res = await http.post("/products", { sku, name: sku, category: "storm", priceCents: 300, stock: 100_000, lowStockThreshold: 1 }, admin);
			products.push({ id: res.body.id, initial: 100_000, restocked: 0 });
		}

		const orders: string[] = [];
		const answers: Record<string, number> = {};
		const note = (what: string, status: number) => void (answers[`${what} ${status}`] = (answers[`${what} ${status}`] ?? 0) + 1);
		const step = async () => {
			const roll = rand();
			const id = orders.length ? pick(rand, orders) : undefined;
			const call = async (what: string, method: "post", p: string, body: object, token = admin) => note(what, (await http[method](p, body, token).catch(() => ({ status: 0 }))).status);
			if (roll < 0.35 || !id) {
				const res = await http.post("/orders", { items: [{ productId: pick(rand, products).id, quantity: intBetween(rand, 1, 3) }] }, customer).catch(() => ({ status: 0, body: null }));
				note("order", res.status);
				if (res.status === 201) orders.push(res.body.id);
			} else if (roll < 0.55) await call("mark-paid", "post", `/orders/${id}/mark-paid`, {});
			else if (roll < 0.65) await call("refund", "post", `/orders/${id}/refunds`, { amountCents: intBetween(rand, 1, 300) });
			else if (roll < 0.75) await call("cancel", "post", `/orders/${id}/cancel`, {}, customer);
			else if (roll < 0.83) await call("ship", "post", `/orders/${id}/ship`, { carrier: "DHL", trackingNumber: `S${intBetween(rand, 1, 1e6)}` });
			else if (roll < 0.9) await call("deliver", "post", `/orders/${id}/deliver`, {});
			else {
				const order = (await http.get(`/orders/${id}`, admin).catch(() => null))?.body;
				const line = order?.items?.[0];
				if (line) await call("return", "post", `/orders/${id}/returns`, { items: [{ productId: line.productId, quantity: 1, restock: rand() < 0.5 }] });
			}
		};
		let running = true;
		const worker = async () => {
			while (running) await step();
		};
		const workers = Array.from({ length: 8 }, worker);
		try {
			for (let cycle = 0; cycle < 4; cycle++) {
				await new Promise(r => setTimeout(r, intBetween(rand, 1500, 3000)));
				await shop!.kill();
				await start();
			}
			await new Promise(r => setTimeout(r, 1500));
		} finally {
			running = false;
			await Promise.all(workers);
		}
		console.log(`payment storm answers ${JSON.stringify(answers)}`);
		expect(Object.keys(answers).filter(k => /\s5\d\d$/.test(k) && !k.endsWith(" 503"))).toEqual([]);
		expect(Object.entries(answers).some(([k, n]) => k === "mark-paid 200" && n > 0)).toBe(true);

		const imbalance = async () => {
			const all = await allOrders(http, admin);
			if (all.some(o => o.status === "pending")) return "orders still pending";
			return (await stockImbalance(http, all, products)) ?? (await moneyImbalance(http, admin, all));
		};
		await waitFor(async () => (await imbalance()) === null, 30_000, "the settlers to balance stock and money").catch(async err => {
			throw new Error(`${(err as Error).message}: ${await imbalance()}`);
		});
		const all = await allOrders(http, admin);
		console.log(
			`payment storm: ${all.length} orders, ${all.filter(o => o.paymentStatus === "paid").length} paid, ${all.filter(o => (o.paymentStatus ?? "").includes("refunded")).length} refunded in part or whole, ${all.filter(o => o.status === "cancelled").length} cancelled, ${all.filter(o => o.returns?.length).length} with returns`,
		);
	}, 180_000);
});
