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
import { StripeStandIn } from "../helpers/stripe-stand-in";

/**
 * One test per crash point of payments, fulfilment and returns, in the
 * style of crash-points.spec.ts: the whole system runs as `npm start` runs
 * it, with CRASH_POINT naming the point; the test drives it there, the
 * process kills itself (SIGKILL), the test starts it again on the same data,
 * lets the settlers run, and checks the invariants (test/helpers/invariants.ts):
 * stock conserved with returned quantities, captured − refunded over
 * payments equal to the paid amounts on orders, nothing captured twice,
 * nothing cancelled and still paid; then what the step was meant to do,
 * done exactly once. Stripe's steps talk to a local stand-in for its API
 * (test/helpers/stripe-stand-in.ts), which replays the first answer to an
 * idempotency key sent again, as Stripe does.
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
const stripe = new StripeStandIn();

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
		const provider = { STRIPE_SECRET_KEY: "sk_test_standin", STRIPE_WEBHOOK_SECRET: stripe.webhookSecret, STRIPE_API_URL: stripe.url };
		this.process = await startShopProcess({ port: this.port, dataDir: this.dataDir, env: { ...ENV, ...provider, ...(crashPoint ? { CRASH_POINT: crashPoint } : {}) } });
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

	/** The customer chooses Stripe: the order's PaymentIntent and its client secret. */
	payByStripe(id: string) {
		return this.http.post(`/orders/${id}/payment`, { provider: "stripe" }, this.customer);
	}

	/** A confirmed order whose Stripe payment is authorised (the capture the shop then asks for is not reported back: the payment stays authorised). */
	async authorisedByStripe(): Promise<string> {
		const id = await this.order("confirmed");
		expect((await this.payByStripe(id)).status).toBe(200);
		expect((await this.stripeEvent(id, "payment_intent.amount_capturable_updated", { amount_capturable: 750, status: "requires_capture" })).status).toBe(200);
		expect(await this.get(id)).toMatchObject({ paymentStatus: "authorised" });
		return id;
	}

	/** A signed Stripe webhook about the order's PaymentIntent. */
	stripeEvent(id: string, type: string, fields: object) {
		const delivery = stripe.event(type, { id: intentOf(id), ...fields });
		return this.http.request("POST", "/payments/webhooks/stripe", { raw: delivery.body, headers: { "stripe-signature": delivery.signature } });
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

/** The order's one PaymentIntent at the stand-in (there must be exactly one). */
const intentOf = (orderId: string) => {
	const intents = [...stripe.intents.values()].filter(i => i.metadata.orderId === orderId);
	expect(intents).toHaveLength(1);
	return intents[0].id;
};
/** Every call of this kind made for this order used one idempotency key: a call repeated after the crash moved money once. */
const oneKey = (path: string, orderId?: string) => {
	const calls = stripe.calls.filter(c => c.path === path && (orderId === undefined || c.form.get("metadata[orderId]") === orderId));
	expect(calls.length).toBeGreaterThanOrEqual(1);
	expect(new Set(calls.map(c => c.idempotencyKey)).size).toBe(1);
};
/** Opened again after the crash: the same PaymentIntent (the key replays it), now recorded; paid through it once. */
const openedOnce = async (shop: Shop, id: string) => {
	const again = await shop.payByStripe(id);
	expect(again.status).toBe(200);
	const intentId = intentOf(id);
	expect(again.body).toMatchObject({ provider: "stripe", status: "unpaid", clientSecret: `${intentId}_secret_standin` });
	oneKey("/v1/payment_intents", id);
	expect((await shop.stripeEvent(id, "payment_intent.amount_capturable_updated", { amount_capturable: 750, status: "requires_capture" })).status).toBe(200);
	expect((await shop.stripeEvent(id, "payment_intent.succeeded", { amount_received: 750, status: "succeeded" })).status).toBe(200);
	await isPaidBy(shop, id, ["authorised", "paid"]);
};
/** The settler asked for the capture again, under the same key; the provider's report of it then pays the order once. */
const capturedOnce = async (shop: Shop, id: string) => {
	const intentId = intentOf(id);
	await waitFor(() => stripe.calls.filter(c => c.path === `/v1/payment_intents/${intentId}/capture`).length >= 2, 20_000, "the settler to ask for the capture again");
	oneKey(`/v1/payment_intents/${intentId}/capture`);
	expect((await shop.stripeEvent(id, "payment_intent.succeeded", { amount_received: 750, status: "succeeded" })).status).toBe(200);
	await isPaidBy(shop, id, ["authorised", "paid"]);
};
/** The cancelled order's authorisation voided (asked again under the same key), recorded on the payment and the order. */
const voidedOnce = async (shop: Shop, id: string) => {
	await waitFor(async () => (await shop.get(id)).paymentStatus === "unpaid", 20_000, "the void recorded on the order");
	const o = await shop.get(id);
	expect(o).toMatchObject({ status: "cancelled", paidCents: 0 });
	expect(o.paymentHistory.map((c: { status: string }) => c.status)).toEqual(["authorised", "unpaid"]);
	oneKey(`/v1/payment_intents/${intentOf(id)}/cancel`);
	expect((await shop.http.get(`/products/${shop.products[1].id}`)).body.stock).toBe(10);
};
const isPaidBy = async (shop: Shop, id: string, history: string[]) => {
	const o = await shop.get(id);
	expect(o).toMatchObject({ paymentStatus: "paid", paidCents: 750 });
	expect(o.paymentHistory.map((c: { status: string }) => c.status)).toEqual(history);
	expect((await shop.http.get(`/orders/${id}/payment`, shop.admin)).body).toMatchObject({ provider: "stripe", status: "paid", capturedCents: 750, refundedCents: 0 });
};
const authorise = (shop: Shop, id: string) => shop.stripeEvent(id, "payment_intent.amount_capturable_updated", { amount_capturable: 750, status: "requires_capture" });
const cancel = (shop: Shop, id: string) => shop.http.post(`/orders/${id}/cancel`, {}, shop.customer);

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
	"stripe.after-open": { before: s => s.order("confirmed"), trigger: (s, id) => s.payByStripe(id), check: openedOnce },
	"capture.after-call": {
		before: async s => {
			const id = await s.order("confirmed");
			expect((await s.payByStripe(id)).status).toBe(200);
			return id;
		},
		trigger: authorise,
		check: capturedOnce,
	},
	"void.after-call": { before: s => s.authorisedByStripe(), trigger: cancel, check: voidedOnce },
};

describe("every write boundary of payments, fulfilment and returns survives a kill -9 there", () => {
	let shop: Shop | undefined;
	beforeAll(() => stripe.start());
	afterAll(() => stripe.stop());
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
