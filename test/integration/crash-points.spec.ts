import fs from "fs";
import os from "os";
import path from "path";
import { CRASH_POINTS, type CrashPoint, type PausePoint } from "../../lib/infra/crash-points";
import { waitFor } from "../helpers/broker";
import { freePort } from "../helpers/cluster";
import { HttpClient } from "../helpers/http";
import { startShopProcess, type ShopProcess } from "../helpers/shop-process";
import { moneyImbalance } from "../helpers/invariants";
import { PAYMENT_CRASH_POINTS, type PaymentCrashPoint } from "../helpers/payment-crash-points";
import { FORMAT_CRASH_POINTS, RESTORE_CRASH_POINTS, type StoreCrashPoint } from "../helpers/store-crash-points";
import { SmtpSink } from "../helpers/smtp-sink";
import { WebhookReceiver } from "../helpers/webhook-receiver";

/**
 * One test per named crash point (lib/infra/crash-points.ts): the whole system
 * runs as `npm start` runs it, with CRASH_POINT naming the point; the test
 * drives it through that point, the process kills itself there (SIGKILL,
 * as kill -9), the test starts it again on the same data without the crash
 * point, lets the settlers run, and checks the invariants: for every
 * product `initial + restocks - held == stock`, no order pending, the
 * dashboard counting exactly the orders there are, and each expected alert
 * raised once.
 */

const ADMIN = { email: "admin@crash.test", password: "admin-password" };
const BASE_ENV = {
	ADMIN_EMAIL: ADMIN.email,
	ADMIN_PASSWORD: ADMIN.password,
	JWT_SECRET: "crash-points-secret-0123456789",
	BCRYPT_ROUNDS: "4",
	RATE_LIMIT_MAX: "1000000",
	PENDING_TIMEOUT_MS: "700",
	RECOVERY_INTERVAL_MS: "250",
	LOG_LEVEL: "info",
	// Webhooks to the receiver below (plain http on 127.0.0.1), retried fast; mail to the SMTP sink below.
	NODE_ENV: "test",
	WEBHOOK_ALLOW: "127.0.0.1",
	WEBHOOK_RETRY_SCHEDULE: "100ms,200ms,500ms,1s",
	WEBHOOK_TIMEOUT_MS: "1000",
} as Record<string, string>;
const receiver = new WebhookReceiver();
const smtp = new SmtpSink();
const HOLDING = ["pending", "awaiting_payment", "confirmed", "shipped", "delivered"];

interface Product {
	id: string;
	initial: number;
	restocked: number;
	threshold: number;
}

/** A running shop, its data kept across restarts, and what the test did to it. */
class Shop {
	readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "crash-"));
	process!: ShopProcess;
	http!: HttpClient;
	admin = "";
	customer = "";
	readonly products: Product[] = [];
	private port = 0;

	/** A scenario's own settings, for every start. */
	constructor(private readonly env: Record<string, string> = {}) {}

	async start(crashPoint?: CrashPoint, pausePoint?: PausePoint): Promise<void> {
		this.port ||= await freePort();
		const points = { ...(crashPoint ? { CRASH_POINT: crashPoint } : {}), ...(pausePoint ? { PAUSE_POINT: pausePoint } : {}) };
		this.process = await startShopProcess({ port: this.port, dataDir: this.dataDir, env: { ...BASE_ENV, ...this.env, ...points } });
		this.http = new HttpClient(`${this.process.url}/api`);
		await waitFor(async () => (await this.http.get("/health")).status === 200, 20_000, "health 200");
		this.admin = (await this.http.post("/auth/login", ADMIN)).body.token;
	}

	/** A customer and two products well above their threshold of 2. */
	async prepare(): Promise<void> {
		const reg = await this.http.post("/auth/register", { name: "Crash Tester", email: "buyer@crash.test", password: "password-1" });
		this.customer = reg.body.token;
		for (const sku of ["CRASH-A", "CRASH-B"]) {
			const res = await this.http.post("/products", { sku, name: sku, category: "crash", priceCents: 250, stock: 10, lowStockThreshold: 2 }, this.admin);
			expect(res.status).toBe(201);
			this.products.push({ id: res.body.id, initial: 10, restocked: 0, threshold: 2 });
		}
		await this.restock(0, 3);
	}

	async restock(index: number, quantity: number): Promise<void> {
		const res = await this.http.post(`/products/${this.products[index].id}/restock`, { quantity }, this.admin);
		expect(res.status).toBe(200);
		this.products[index].restocked += quantity;
	}

	order(quantities: [number, number]) {
		const items = this.products.map((p, i) => ({ productId: p.id, quantity: quantities[i] })).filter(i => i.quantity > 0);
		return this.http.post("/orders", { items }, this.customer);
	}

	/** The customer's cart filled with these quantities, then checked out at the quoted total. */
	async checkout(quantities: [number, number]) {
		await this.http.delete("/cart/items", this.customer);
		for (const [i, p] of this.products.entries())
			if (quantities[i] > 0) expect((await this.http.post("/cart/items", { productId: p.id, quantity: quantities[i] }, this.customer)).status).toBe(200);
		const shipping = { shippingAddress: { line1: "1 Crash Road", city: "Kill", postalCode: "9", country: "US" }, shippingMethod: "standard" };
		const quote = await this.http.post("/checkout/quote", shipping, this.customer);
		expect(quote.status).toBe(200);
		return this.http.post("/checkout", { ...shipping, currency: "USD", expectedTotalCents: quote.body.totalCents }, this.customer);
	}

	/** Drive the shop until it dies at its crash point; fails if it does not. */
	async crashWith(action: () => Promise<unknown>): Promise<void> {
		await action().catch(() => undefined);
		const ended = await Promise.race([this.process.exited, new Promise(r => setTimeout(() => r("alive"), 10_000))]);
		expect(ended).toEqual({ code: null, signal: "SIGKILL" });
	}

	/** Start armed with a crash point that recovery reaches: the process dies during its start or just after. */
	async restartIntoCrash(point: CrashPoint, pausePoint?: PausePoint): Promise<void> {
		const started = await this.start(point, pausePoint).then(
			() => null,
			(err: Error) => err,
		);
		if (started) expect(started.message).toMatch(/exited \(null\) before starting/);
		else expect(await Promise.race([this.process.exited, new Promise(r => setTimeout(() => r("alive"), 10_000))])).toEqual({ code: null, signal: "SIGKILL" });
	}

	async allOrders(): Promise<Array<{ status: string; items: Array<{ productId: string; quantity: number }> }>> {
		const rows = [];
		for (let page = 1; ; page++) {
			const res = await this.http.get(`/orders?page=${page}&pageSize=100`, this.admin);
			rows.push(...res.body.rows);
			if (page >= res.body.totalPages) return rows;
		}
	}

	/** The invariants, once the settlers are done: polled, since they run every 250 ms. */
	async settled(): Promise<void> {
		await waitFor(async () => (await this.imbalance()) === null, 20_000, "the settlers to finish").catch(async err => {
			throw new Error(`${(err as Error).message}: ${await this.imbalance()}`);
		});
	}

	private async imbalance(): Promise<string | null> {
		const orders = await this.allOrders();
		const pending = orders.filter(o => o.status === "pending").length;
		if (pending) return `${pending} orders pending`;
		for (const p of this.products) {
			const held = orders.filter(o => HOLDING.includes(o.status)).reduce((sum, o) => sum + o.items.filter(l => l.productId === p.id).reduce((s, l) => s + l.quantity, 0), 0);
			const stock = (await this.http.get(`/products/${p.id}`)).body.stock;
			if (stock !== p.initial + p.restocked - held) return `product ${p.id}: stock ${stock}, expected ${p.initial} + ${p.restocked} - ${held}`;
		}
		// The money invariant (test/helpers/invariants.ts): nothing here pays, so every order nets 0 on both sides.
		const money = await moneyImbalance(this.http, this.admin, orders as Parameters<typeof moneyImbalance>[2]);
		if (money) return money;
		const dashboard = (await this.http.get("/analytics/dashboard", this.admin)).body;
		const byStatus = Object.fromEntries(["pending", "awaiting_payment", "confirmed", "shipped", "delivered", "cancelled"].map(s => [s, orders.filter(o => o.status === s).length]));
		if (dashboard.totalOrders !== orders.length || JSON.stringify(dashboard.ordersByStatus) !== JSON.stringify(byStatus)) {
			return `dashboard ${JSON.stringify(dashboard.ordersByStatus)} against orders ${JSON.stringify(byStatus)}`;
		}
		return null;
	}

	async alerts(type: string): Promise<unknown[]> {
		return (await this.http.get(`/alerts?type=${type}&pageSize=100`, this.admin)).body.rows;
	}

	async stop(): Promise<void> {
		await this.process?.stop();
		fs.rmSync(this.dataDir, { recursive: true, force: true });
	}
}

interface Scenario {
	/** Settings of the scenario's own, at every start (a short payment deadline). */
	env?: Record<string, string>;
	/** Before the crash point is armed. */
	before?(shop: Shop): Promise<unknown>;
	/** What reaches the crash point. */
	trigger(shop: Shop, state: unknown): Promise<unknown>;
	/** Recovery's own boundaries: the test first dies at `first`, then recovery dies at the point. */
	first?: CrashPoint;
	/** Widens a race window while the point is armed (lib/infra/crash-points.ts, PAUSE_POINTS). */
	pause?: PausePoint;
	/** The same for the restart into recovery's own crash point (`first`). */
	recoveryPause?: PausePoint;
	/** Checks beyond the invariants. */
	check?(shop: Shop, state: unknown): Promise<void>;
}

const placeOne = (shop: Shop) => shop.order([1, 2]);
const placed = async (shop: Shop) => {
	const res = await shop.order([1, 2]);
	expect(res.status).toBe(201);
	return res.body.id as string;
};
const cancel = (shop: Shop, id: unknown) => shop.http.post(`/orders/${String(id)}/cancel`, {}, shop.customer);
/** An order that takes product A and finds product B short. */
const shortOrder = (shop: Shop) => shop.order([1, 999]);
/**
 * Stock running out between a reserve's read and its takes (an order
 * refused at its read stores nothing): with each reserve paused after its
 * read, two orders of 8 of B (10 in stock) both read enough; the second
 * takes its unit of A, finds B short and stores its failed outcome.
 */
const raceForTheLast = (shop: Shop) => Promise.all([shop.order([0, 8]), shop.order([1, 8])]);
/**
 * A client sends its order again with the same Idempotency-Key while the
 * first request still runs, each reserve paused after its read: the second
 * reads no outcome yet, and takes once the first has stored its outcome and
 * its take marker is cleared (by the marker flush, every 250 ms); its own
 * outcome is then refused. The gap between the two requests is tried over a
 * few values until the process dies there.
 */
const resentWhileRunning = async (shop: Shop) => {
	const wait = (ms: number) => new Promise(r => setTimeout(r, ms));
	const died = () => Promise.race([shop.process.exited.then(() => true), wait(50).then(() => false)]);
	const items = [{ productId: shop.products[0].id, quantity: 1 }];
	for (const [i, gap] of [375, 325, 425, 300, 450, 350, 400].entries()) {
		const again = () => shop.http.post("/orders", { items }, shop.customer, { "idempotency-key": `resent-${i}` });
		const first = again();
		await wait(gap);
		await Promise.allSettled([first, again()]);
		if (await died()) return;
	}
};
/** An order that takes product B down to its threshold: a crossing. */
const crossing = (shop: Shop) => shop.order([0, 8]);
const oneStockLowAlert = async (shop: Shop) => {
	await waitFor(async () => (await shop.alerts("stock_low")).length > 0, 20_000, "the stock_low alert");
	expect(await shop.alerts("stock_low")).toHaveLength(1);
};
/** The cancellation the crash cut is finished by the settler (the books balance before it, the stock not yet released). */
const cancelled = (shop: Shop, id: unknown) =>
	waitFor(async () => (await shop.http.get(`/orders/${String(id)}`, shop.admin)).body.status === "cancelled", 20_000, "the cancellation to be finished").then(() => shop.settled());

const checkoutOne = (shop: Shop) => shop.checkout([1, 2]);
/** The checkout order (the only order there is) ends in one of these statuses. */
const checkoutEndsIn =
	(...statuses: string[]) =>
	async (shop: Shop) => {
		const orders = await shop.allOrders();
		expect(orders.map(o => o.status).filter(s => !statuses.includes(s))).toEqual([]);
	};
/** The checkout order awaits payment, and the cart it was made from is empty (once the settler has run after a crash). */
const checkedOutOnce = async (shop: Shop) => {
	await checkoutEndsIn("awaiting_payment")(shop);
	expect((await shop.allOrders()).length).toBe(1);
	await waitFor(async () => (await shop.http.get("/cart", shop.customer)).body.lines.length === 0, 20_000, "the cart emptied");
};
/** Unpaid checkouts expire two seconds after their hold. */
const SHORT_DEADLINE = { PAYMENT_DEADLINE_S: "2" };
/** An unpaid checkout: its expiry, two seconds on, meets the crash point. */
const expireOne = async (shop: Shop) => expect((await shop.checkout([1, 2])).status).toBe(201);
const expired = async (shop: Shop) => {
	await waitFor(async () => (await shop.allOrders()).every(o => o.status === "cancelled"), 20_000, "the expiry to be finished");
	await shop.settled();
};
/** A guest cart with lines, to merge into the customer's at sign-in. */
const guestCart = async (shop: Shop) => {
	const { body } = await shop.http.post("/cart");
	expect((await shop.http.post("/cart/items", { productId: shop.products[0].id, quantity: 2 }, undefined, { "x-cart-token": body.token })).status).toBe(200);
	return body.token as string;
};
const merge = (shop: Shop, token: unknown) => shop.http.post("/cart/merge", {}, shop.customer, { "x-cart-token": String(token) });
/** The client sends its merge again: the lines count once, and the guest cart is gone. */
const mergedOnce = async (shop: Shop, token: unknown) => {
	expect((await merge(shop, token)).status).toBe(200);
	const cart = (await shop.http.get("/cart", shop.customer)).body;
	expect(cart.lines.map((l: any) => [l.productId, l.quantity])).toEqual([[shop.products[0].id, 2]]);
	expect((await shop.http.get("/cart", undefined, { "x-cart-token": String(token) })).status).toBe(404);
};

/** An endpoint taking every order event, at the receiver; the secret verifies what arrives. */
const subscribe = async (shop: Shop) => {
	const res = await shop.http.post("/webhooks", { url: receiver.url, eventTypes: ["order.placed", "order.cancelled"] }, shop.admin);
	expect(res.status).toBe(201);
	receiver.secret = res.body.secret;
};
/** The order placed while the point was armed reaches the endpoint: once per event, however often it was sent. */
const oneWebhook = async (shop: Shop) => {
	const [order] = await shop.allOrders();
	const ids = () => new Set(receiver.received.filter(r => r.verified && r.payload?.data.order.id === (order as unknown as { id: string }).id).map(r => r.id));
	await waitFor(() => ids().size === 1, 30_000, "the order.placed webhook");
	expect(receiver.received.filter(r => r.payload?.type === "order.placed").every(r => r.verified)).toBe(true);
};
const RESET_EMAIL = "buyer@crash.test";
const tokenOf = (mail: string) => /token=([A-Za-z0-9_-]+)/.exec(mail)![1];
/** A reset mailed to the buyer; the token its mail carries. */
const resetRequested = async (shop: Shop) => {
	const before = smtp.to(RESET_EMAIL).length;
	expect((await shop.http.post("/auth/password-reset", { email: RESET_EMAIL })).status).toBe(202);
	await waitFor(() => smtp.to(RESET_EMAIL).length > before, 20_000, "the reset mail");
	return tokenOf(smtp.to(RESET_EMAIL).at(-1)!.decoded);
};
const useReset = (shop: Shop, token: unknown) => shop.http.post("/auth/password-reset/confirm", { token, password: "password-after-reset" });
/** A second reset asked for: answered at once, its token and mail made after the answer. */
const askResetAgain = async (shop: Shop) => expect((await shop.http.post("/auth/password-reset", { email: RESET_EMAIL })).status).toBe(202);
/** The earlier token is refused now (used up by the crash's reset, or ended by the new request), the old password still works, and a new reset goes through. */
const resetRefusedThenRedone = async (shop: Shop, token: unknown) => {
	expect((await useReset(shop, token)).status).toBe(422);
	expect((await shop.http.post("/auth/login", { email: RESET_EMAIL, password: "password-1" })).status).toBe(200);
	const again = await resetRequested(shop);
	expect((await useReset(shop, again)).status).toBe(204);
	expect((await shop.http.post("/auth/login", { email: RESET_EMAIL, password: "password-after-reset" })).status).toBe(200);
};

/** Payments' points have their own spec (payment-crash-points.spec.ts). */
const SCENARIOS: Record<Exclude<CrashPoint, PaymentCrashPoint | StoreCrashPoint>, Scenario> = {
	"checkout.after-open": { trigger: checkoutOne, check: checkoutEndsIn() },
	"checkout.after-reserve": { trigger: checkoutOne, check: checkedOutOnce },
	"checkout.after-hold": { trigger: checkoutOne, check: checkedOutOnce },
	"expire.after-flag": { env: SHORT_DEADLINE, trigger: expireOne, check: expired },
	"expire.after-release": { env: SHORT_DEADLINE, trigger: expireOne, check: expired },
	"cart.after-merge": { before: guestCart, trigger: merge, check: mergedOnce },
	"place.after-open": { trigger: placeOne },
	"place.after-reserve": { trigger: placeOne },
	"place.after-refusal": { trigger: shortOrder },
	"status.after-move": { trigger: placeOne },
	"status.after-publish": { trigger: placeOne },
	"cancel.after-flag": { before: placed, trigger: cancel, check: cancelled },
	"cancel.after-release": { before: placed, trigger: cancel, check: cancelled },
	"reserve.after-take": { trigger: placeOne },
	"reserve.after-failed-outcome": { trigger: raceForTheLast, pause: "reserve.after-read" },
	"reserve.after-refused-outcome": { trigger: resentWhileRunning, pause: "reserve.after-read" },
	"release.after-claim": { before: placed, trigger: cancel, check: cancelled },
	"release.after-give-back": { before: placed, trigger: cancel, check: cancelled },
	"release.after-all-give-backs": { before: placed, trigger: cancel, check: cancelled },
	// The orders settler would otherwise race products' settler to the abandoned take (a tombstone, no expiring).
	"recover.after-expiring": { trigger: placeOne, first: "reserve.after-take", recoveryPause: "settle.before-round" },
	"place.after-claim": { trigger: placeOne, first: "place.after-open" },
	"alert.after-crossing": { trigger: crossing, check: oneStockLowAlert },
	"alert.after-publish": { trigger: crossing, check: oneStockLowAlert },
	"analytics.before-apply": { trigger: placeOne },
	"alerts.before-raise": { trigger: crossing, check: oneStockLowAlert },
	"notify.after-event": { before: subscribe, trigger: placeOne, check: oneWebhook },
	"notify.after-deliveries": { before: subscribe, trigger: placeOne, check: oneWebhook },
	"deliver.after-claim": { before: subscribe, trigger: placeOne, check: oneWebhook },
	"deliver.after-send": { before: subscribe, trigger: placeOne, check: oneWebhook },
	"reset.after-end-earlier": { before: resetRequested, trigger: askResetAgain, check: resetRefusedThenRedone },
	"reset.after-issue": { before: resetRequested, trigger: askResetAgain, check: resetRefusedThenRedone },
	"reset.after-consume": { before: resetRequested, trigger: useReset, check: resetRefusedThenRedone },
};

describe("every write boundary survives a kill -9 there", () => {
	let shop: Shop | undefined;
	beforeAll(async () => {
		await receiver.start();
		BASE_ENV.SMTP_URL = await smtp.start();
	});
	afterAll(async () => {
		await receiver.stop();
		await smtp.stop();
	});
	afterEach(async () => {
		await shop?.stop();
		shop = undefined;
		receiver.received.length = 0;
	});

	it("has a scenario for every named crash point", () => {
		expect([...Object.keys(SCENARIOS), ...PAYMENT_CRASH_POINTS, ...RESTORE_CRASH_POINTS, ...FORMAT_CRASH_POINTS].sort()).toEqual(Object.keys(CRASH_POINTS).sort());
	});

	for (const [point, scenario] of Object.entries(SCENARIOS) as Array<[CrashPoint, Scenario]>) {
		it(`${point}: ${CRASH_POINTS[point]}`, async () => {
			shop = new Shop(scenario.env);
			await shop.start();
			await shop.prepare();
			const state = await scenario.before?.(shop);
			await shop.process.stop();
			await shop.start(scenario.first ?? point, scenario.pause);
			await shop.crashWith(() => scenario.trigger(shop!, state));
			if (scenario.first) await shop.restartIntoCrash(point, scenario.recoveryPause);
			await shop.start();
			await shop.settled();
			await scenario.check?.(shop, state);
		}, 90_000);
	}
});
