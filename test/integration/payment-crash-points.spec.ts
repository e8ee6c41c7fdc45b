import fs from "fs";
import os from "os";
import path from "path";
import { CRASH_POINTS } from "../../lib/infra/crash-points";
import { waitFor } from "../helpers/broker";
import { freePort } from "../helpers/cluster";
import { HttpClient } from "../helpers/http";
import { allOrders, moneyImbalance, stockImbalance, type TrackedProduct } from "../helpers/invariants";
import { PAYMENT_CRASH_POINTS, type PaymentCrashPoint } from "../helpers/payment-crash-points";
import { startShopProcess, type ShopProcess } from "../helpers/shop-process";

/**
 * One test per crash point of payments, fulfilment and returns, in the
 * style of crash-points.spec.ts: the whole system runs as `npm start` runs
 * it, with CRASH_POINT naming the point; the test drives it there, the
 * process kills itself (SIGKILL), the test starts it again on the same data,
 * lets the settlers run, and checks the invariants (test/helpers/invariants.ts):
 * stock conserved with returned quantities, captured − refunded over
 * payments equal to the paid amounts on orders, nothing captured twice,
 * nothing cancelled and still paid; then what the step was meant to do,
 * done exactly once.
 */

const ADMIN = { email: "admin@paycrash.test", password: "admin-password" };
const ENV = {
	ADMIN_EMAIL: ADMIN.email,
	ADMIN_PASSWORD: ADMIN.password,
	JWT_SECRET: "payment-crash-secret-0123456789",
	BCRYPT_ROUNDS: "4",
	RATE_LIMIT_MAX: "1000000",
	PENDING_TIMEOUT_MS: "700",
	RECOVERY_INTERVAL_MS: "250",
	LOG_LEVEL: "info",
};
const PRICE = 250;

class Shop {
	readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "paycrash-"));
	process!: ShopProcess;
	http!: HttpClient;
	admin = "";
	customer = "";
	readonly products: TrackedProduct[] = [];
	private port = 0;

	async start(crashPoint?: PaymentCrashPoint): Promise<void> {
		this.port ||= await freePort();
		this.process = await startShopProcess({ port: this.port, dataDir: this.dataDir, env: { ...ENV, ...(crashPoint ? { CRASH_POINT: crashPoint } : {}) } });
		this.http = new HttpClient(`${this.process.url}/api`);
		await waitFor(async () => (await this.http.get("/health")).status === 200, 20_000, "health 200");
		this.admin = (await this.http.post("/auth/login", ADMIN)).body.token;
	}

	async prepare(): Promise<void> {
		this.customer = (await this.http.post("/auth/register", { name: "Crash Payer", email: "payer@paycrash.test", password: "password-1" })).body.token;
		for (const sku of ["PAY-A", "PAY-B"]) {
			const res = await this.http.post("/products", { sku, name: sku, category: "crash", priceCents: PRICE, stock: 10, lowStockThreshold: 1 }, this.admin);
			this.products.push({ id: res.body.id, initial: 10, restocked: 0 });
		}
	}

	/** A confirmed order of 1 A and 2 B (750 cents), taken as far as `to`. */
	async order(to: "confirmed" | "paid" | "delivered"): Promise<string> {
		const items = [
			{ productId: this.products[0].id, quantity: 1 },
			{ productId: this.products[1].id, quantity: 2 },
		];
		const id = (await this.http.post("/orders", { items }, this.customer)).body.id as string;
		if (to === "confirmed") return id;
		expect((await this.http.post(`/orders/${id}/mark-paid`, {}, this.admin)).status).toBe(200);
		if (to === "paid") return id;
		expect((await this.http.post(`/orders/${id}/ship`, { carrier: "DHL", trackingNumber: "JD01" }, this.admin)).status).toBe(200);
		expect((await this.http.post(`/orders/${id}/deliver`, {}, this.admin)).status).toBe(200);
		return id;
	}

	/** A checkout of 1 A and 2 B (750 cents and shipping), awaiting payment. */
	async checkout(): Promise<string> {
		for (const [i, p] of this.products.entries()) expect((await this.http.post("/cart/items", { productId: p.id, quantity: i + 1 }, this.customer)).status).toBe(200);
		const shipping = { shippingAddress: { line1: "1 Crash Road", city: "Kill", postalCode: "9", country: "US" }, shippingMethod: "standard" };
		const quote = await this.http.post("/checkout/quote", shipping, this.customer);
		const res = await this.http.post("/checkout", { ...shipping, currency: "USD", expectedTotalCents: quote.body.totalCents }, this.customer);
		expect(res.body).toMatchObject({ status: "awaiting_payment" });
		return res.body.id as string;
	}

	get(id: string) {
		return this.http.get(`/orders/${id}`, this.admin).then(r => r.body);
	}

	async crashWith(action: () => Promise<unknown>): Promise<void> {
		await action().catch(() => undefined);
		const ended = await Promise.race([this.process.exited, new Promise(r => setTimeout(() => r("alive"), 10_000))]);
		expect(ended).toEqual({ code: null, signal: "SIGKILL" });
	}

	/** Both invariants hold, once the settlers are done: polled, since they run every 250 ms. */
	async settled(): Promise<void> {
		const imbalance = async () => {
			const orders = await allOrders(this.http, this.admin);
			return (await stockImbalance(this.http, orders, this.products)) ?? (await moneyImbalance(this.http, this.admin, orders));
		};
		await waitFor(async () => (await imbalance()) === null, 20_000, "the settlers to finish").catch(async err => {
			throw new Error(`${(err as Error).message}: ${await imbalance()}`);
		});
	}

	async stop(): Promise<void> {
		await this.process?.stop();
		fs.rmSync(this.dataDir, { recursive: true, force: true });
	}
}

interface Scenario {
	before(shop: Shop): Promise<string>;
	trigger(shop: Shop, orderId: string): Promise<unknown>;
	/** What the step was meant to do, done once. */
	check(shop: Shop, orderId: string): Promise<void>;
}

const markPaid = (shop: Shop, id: string) => shop.http.post(`/orders/${id}/mark-paid`, {}, shop.admin);
const isPaidOnce = async (shop: Shop, id: string) => {
	const o = await shop.get(id);
	expect(o).toMatchObject({ paymentStatus: "paid", paidCents: 750 });
	expect(o.paymentHistory.map((c: { status: string }) => c.status)).toEqual(["paid"]);
};
/** A checkout order marked paid: paid and confirmed once, its stock still held, its status and payment messages both out (the settler resends what the crash left). */
const checkoutPaidOnce = async (shop: Shop, id: string) => {
	const o = await shop.get(id);
	expect(o).toMatchObject({ status: "confirmed", paymentStatus: "paid", paidCents: o.totalCents });
	expect(o.statusHistory.map((s: { status: string }) => s.status)).toEqual(["pending", "awaiting_payment", "confirmed"]);
	expect(o.paymentHistory.map((c: { status: string }) => c.status)).toEqual(["paid"]);
	const p = (await shop.http.get(`/orders/${id}/payment`, shop.admin)).body;
	expect(p).toMatchObject({ status: "paid", capturedCents: o.totalCents, refundedCents: 0 });
	expect((await shop.http.get(`/products/${shop.products[1].id}`)).body.stock).toBe(8);
	// The status message reached its consumers: analytics counts the order confirmed (its cached answer lives two seconds).
	await waitFor(async () => (await shop.http.get("/analytics/dashboard", shop.admin)).body.ordersByStatus?.confirmed === 1, 20_000, "analytics to count the order confirmed");
};
const ship = (shop: Shop, id: string) => shop.http.post(`/orders/${id}/ship`, { carrier: "DHL", trackingNumber: "JD01" }, shop.admin);
/** Shipped once, with its fulfilment record, and its status message out (the settler resends what the crash left): analytics counts it shipped. */
const shippedOnce = async (shop: Shop, id: string) => {
	const o = await shop.get(id);
	expect(o).toMatchObject({ status: "shipped", fulfilment: { carrier: "DHL", trackingNumber: "JD01", deliveredAt: null } });
	expect(o.statusHistory.map((s: { status: string }) => s.status)).toEqual(["pending", "confirmed", "shipped"]);
	await waitFor(async () => (await shop.http.get("/analytics/dashboard", shop.admin)).body.ordersByStatus?.shipped === 1, 20_000, "analytics to count the order shipped");
};
const refund = (shop: Shop, id: string) => shop.http.post(`/orders/${id}/refunds`, { amountCents: 100 }, shop.admin);
const refundedOnce = async (shop: Shop, id: string) => {
	await waitFor(async () => (await shop.get(id)).paymentStatus === "partially_refunded", 20_000, "the refund recorded on the order");
	expect(await shop.get(id)).toMatchObject({ paidCents: 650 });
	const p = (await shop.http.get(`/orders/${id}/payment`, shop.admin)).body;
	expect(p.refunds).toHaveLength(1);
	expect(p).toMatchObject({ capturedCents: 750, refundedCents: 100 });
};
const returnOne = (shop: Shop, id: string) => shop.http.post(`/orders/${id}/returns`, { items: [{ productId: shop.products[0].id, quantity: 1, restock: true }] }, shop.admin);
const returnedOnce = async (shop: Shop, id: string) => {
	await waitFor(async () => (await shop.get(id)).paidCents === 750 - PRICE, 20_000, "the return's refund on the order");
	expect((await shop.get(id)).returns).toHaveLength(1);
	expect((await shop.http.get(`/products/${shop.products[0].id}`)).body.stock).toBe(10);
};

const SCENARIOS: Record<PaymentCrashPoint, Scenario> = {
	"capture.after-record": { before: s => s.order("confirmed"), trigger: markPaid, check: isPaidOnce },
	"payment.after-apply": { before: s => s.order("confirmed"), trigger: markPaid, check: isPaidOnce },
	"aftercare.after-publish": { before: s => s.order("confirmed"), trigger: markPaid, check: isPaidOnce },
	"paid.after-move": { before: s => s.checkout(), trigger: markPaid, check: checkoutPaidOnce },
	"fulfil.after-move": { before: s => s.order("paid"), trigger: ship, check: shippedOnce },
	"paid.after-publish": { before: s => s.checkout(), trigger: markPaid, check: checkoutPaidOnce },
	"refund.after-intent": { before: s => s.order("paid"), trigger: refund, check: refundedOnce },
	"refund.after-issue": { before: s => s.order("paid"), trigger: refund, check: refundedOnce },
	"refund.after-record": { before: s => s.order("paid"), trigger: refund, check: refundedOnce },
	"return.after-record": { before: s => s.order("delivered"), trigger: returnOne, check: returnedOnce },
	"return.after-refund": { before: s => s.order("delivered"), trigger: returnOne, check: returnedOnce },
	"return.after-restock": { before: s => s.order("delivered"), trigger: returnOne, check: returnedOnce },
};

describe("every write boundary of payments, fulfilment and returns survives a kill -9 there", () => {
	let shop: Shop | undefined;
	afterEach(async () => {
		await shop?.stop();
		shop = undefined;
	});

	it("names only crash points that exist", () => {
		for (const point of PAYMENT_CRASH_POINTS) expect(CRASH_POINTS[point]).toEqual(expect.any(String));
	});

	for (const [point, scenario] of Object.entries(SCENARIOS) as Array<[PaymentCrashPoint, Scenario]>) {
		it(`${point}: ${CRASH_POINTS[point]}`, async () => {
			shop = new Shop();
			await shop.start();
			await shop.prepare();
			const orderId = await scenario.before(shop);
			await shop.process.stop();
			await shop.start(point);
			await shop.crashWith(() => scenario.trigger(shop!, orderId));
			await shop.start();
			await shop.settled();
			await scenario.check(shop, orderId);
		}, 90_000);
	}
});
