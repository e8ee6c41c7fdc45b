import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import type { Page } from "playwright-core";
import { SCREENSHOT_DIR, launchBrowser, saveScreenshot, type Browser } from "../helpers/browser";
import { ADMIN, freePort, loginAdmin, waitForRunning } from "../helpers/cluster";
import { HttpClient } from "../helpers/http";
import { startShopProcess, type ShopProcess } from "../helpers/shop-process";

const SERVICE_LABELS = ["order-service", "product-service", "customer-service", "alert-service", "analytics-service", "payment-service", "cart-service", "notification-service"];
/** The contract: an order shows in the admin's feed within 2 s of being answered. */
const FEED_MS = 2000;
/** Waits that are no contract, only a bound on a hung page. */
const PAGE_MS = 10_000;
const PHONE = { width: 390, height: 844 };

/**
 * The operations page in a real headless Chromium, against the system as
 * `npm start` runs it (one process, the embedded default), driven through
 * the REST API the way clients would.
 */
describe("the live operations page", () => {
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ops-page-"));
	// Each tab fetches the page's files and the shop's catalogue besides the API's answers: more tabs a minute than the default budget (300) allows.
	const env = { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, JWT_SECRET: crypto.randomBytes(16).toString("hex"), BCRYPT_ROUNDS: "4", RATE_LIMIT_MAX: "100000" };
	let port: number;
	let shop: ShopProcess | undefined;
	const started: ShopProcess[] = [];
	const startShop = async () => {
		shop = await startShopProcess({ port, dataDir, env });
		started.push(shop);
		return shop;
	};
	let browser: Browser | undefined;
	let http: HttpClient;
	let adminToken: string;

	beforeAll(async () => {
		port = await freePort();
		http = new HttpClient(`${(await startShop()).url}/api`);
		await waitForRunning(http, SERVICE_LABELS);
		adminToken = await loginAdmin(http);
		browser = await launchBrowser();
	}, 90_000);

	afterAll(async () => {
		await browser?.close();
		await shop?.stop();
		fs.rmSync(dataDir, { recursive: true, force: true });
		// The system's own log, beside the screenshots, for when a test fails.
		fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
		fs.writeFileSync(path.join(path.dirname(SCREENSHOT_DIR), "ops-page-shop.log"), started.map(s => s.output.join("")).join("\n--- restarted ---\n"));
	}, 30_000);

	async function register(name: string): Promise<{ token: string; id: string; name: string; email: string; password: string }> {
		const email = `${name.toLowerCase().replace(/\W+/g, "-")}-${crypto.randomBytes(3).toString("hex")}@shop.test`;
		const password = "password-1";
		const res = await http.post("/auth/register", { name, email, password });
		expect(res.status).toBe(201);
		return { token: res.body.token, id: res.body.customer.id, name, email, password };
	}

	async function createProduct(fields: { stock: number; lowStockThreshold?: number; priceCents?: number }): Promise<{ id: string; sku: string; name: string }> {
		const sku = `OPS-${crypto.randomBytes(3).toString("hex").toUpperCase()}`;
		const res = await http.post("/products", { sku, name: `Widget ${sku}`, category: "ops", priceCents: 1250, ...fields }, adminToken);
		expect(res.status).toBe(201);
		return res.body;
	}

	async function placeOrder(token: string, productId: string, quantity: number): Promise<{ id: string; totalCents: number; status: string }> {
		const res = await http.post("/orders", { items: [{ productId, quantity }] }, token);
		expect(res.status).toBe(201);
		return res.body;
	}

	/** A new tab signed in through the form, once its live connection is up. */
	async function signedInPage(email: string, password: string, viewport?: { width: number; height: number }): Promise<{ page: Page; errors: string[] }> {
		const opened = await browser!.newPage(viewport);
		const { page } = opened;
		await page.goto(shop!.url);
		await page.getByLabel("Email", { exact: true }).fill(email);
		await page.getByLabel("Password", { exact: true }).fill(password);
		await page.getByRole("button", { name: "Sign in" }).click();
		await page.locator('#connection[data-state="live"]').waitFor({ timeout: PAGE_MS });
		return opened;
	}

	const orderRow = (page: Page, orderId: string, status?: string) => page.locator(`tr[data-order-id="${orderId}"]${status ? `[data-status="${status}"]` : ""}`);

	async function noHorizontalScroll(page: Page): Promise<boolean> {
		// A string: the test's TypeScript has no DOM types.
		return page.evaluate<boolean>("document.documentElement.scrollWidth <= window.innerWidth");
	}

	it("shows an admin every service up, the dependencies and the node, at 1280x800 and at a phone's width", async () => {
		const { page, errors } = await signedInPage(ADMIN.email, ADMIN.password);
		for (const label of SERVICE_LABELS) {
			const item = page.locator(`[data-service="${label}"]`);
			await page.locator(`[data-service="${label}"][data-state="up"]`).waitFor({ timeout: PAGE_MS });
			expect(await item.textContent()).toContain("up");
		}
		// The embedded default has neither RabbitMQ nor Redis: shown as not used, not as down.
		for (const dependency of ["transporter", "cache"]) await page.locator(`[data-dependency="${dependency}"][data-state="none"]`).waitFor({ timeout: PAGE_MS });
		const node = page.locator("#cluster-nodes tr");
		await node.first().waitFor({ timeout: PAGE_MS });
		expect(await node.count()).toBe(1);
		expect(await node.first().textContent()).toMatch(/this gateway.*alerts, analytics, api, carts, customers, notifications, orders, payments, products/);
		await page.locator("#sales-chart canvas").waitFor({ timeout: PAGE_MS });
		// Only the admin has an account yet: no customer.
		await page.locator('[data-figure="customers"]').filter({ hasText: /^0$/ }).waitFor({ timeout: PAGE_MS });
		await saveScreenshot(page, "admin-operations-1280");

		const phone = await signedInPage(ADMIN.email, ADMIN.password, PHONE);
		await phone.page.locator('[data-service="order-service"][data-state="up"]').waitFor({ timeout: PAGE_MS });
		expect(await noHorizontalScroll(phone.page)).toBe(true);
		await saveScreenshot(phone.page, "admin-operations-phone");
		expect([...errors, ...phone.errors]).toEqual([]);
		await Promise.all([page.close(), phone.page.close()]);
	});

	it("says the same in the figures and beside the sales chart: a cancelled order alone is no sale, and a sale shows in both at once", async () => {
		const { page, errors } = await signedInPage(ADMIN.email, ADMIN.password);
		const buyer = await register("Cancelled Only");
		const product = await createProduct({ stock: 50 });
		const cancelled = await placeOrder(buyer.token, product.id, 1);
		expect((await http.post(`/orders/${cancelled.id}/cancel`, {}, buyer.token)).status).toBe(200);

		await page.locator("#orders-by-status").filter({ hasText: "cancelled 1" }).waitFor({ timeout: PAGE_MS });
		expect(await page.locator('[data-figure="totalOrders"]').textContent()).toBe("1");
		expect(await page.locator('[data-figure="revenue"]').textContent()).toBe("0.00");
		const empty = page.locator("#sales-empty");
		expect(await empty.isVisible()).toBe(true);
		expect(await empty.textContent()).toMatch(/No sales yet: 1 order placed, none of them confirmed, shipped or delivered/);
		await saveScreenshot(page, "admin-cancelled-only");

		await placeOrder(buyer.token, product.id, 2);
		// The moment the figures count the sale, the chart's table shows it too.
		await page.locator('[data-figure="totalOrders"]').filter({ hasText: /^2$/ }).waitFor({ timeout: FEED_MS });
		const [salesRows, emptyShown] = await Promise.all([page.locator("#sales-table tr td:first-of-type").allTextContents(), empty.isVisible()]);
		expect({ salesRows, emptyShown }).toEqual({ salesRows: ["1"], emptyShown: false });
		expect(errors).toEqual([]);
		await page.close();
	});

	it("puts an order placed through the REST API at the top of the feed within 2 s, and changes its row when it is cancelled", async () => {
		const { page, errors } = await signedInPage(ADMIN.email, ADMIN.password);
		const buyer = await register("Feed Buyer");
		const product = await createProduct({ stock: 50 });

		const order = await placeOrder(buyer.token, product.id, 3);
		await orderRow(page, order.id, "confirmed").waitFor({ timeout: FEED_MS });
		expect(await page.locator("#order-feed tr").first().getAttribute("data-order-id")).toBe(order.id);
		await orderRow(page, order.id).filter({ hasText: buyer.name }).waitFor({ timeout: PAGE_MS });
		expect(await orderRow(page, order.id).textContent()).toContain((order.totalCents / 100).toFixed(2));
		// The day as well as the time: weeks of orders read in order.
		const placed = new Date((await orderRow(page, order.id).locator("time").getAttribute("datetime"))!);
		const placedText = (await orderRow(page, order.id).locator("time").textContent())!;
		expect(placedText).toContain(String(placed.getFullYear()));
		expect(placedText).toMatch(new RegExp(`\\b${placed.getDate()}\\b`));
		expect(placedText).toMatch(/\d{1,2}:\d{2}/);
		// The sales series is read again after the dashboard's push: today's row appears in the chart's table.
		await page.locator("#sales-table tr").first().waitFor({ state: "attached", timeout: PAGE_MS });

		expect((await http.post(`/orders/${order.id}/cancel`, {}, buyer.token)).status).toBe(200);
		await orderRow(page, order.id, "cancelled").waitFor({ timeout: FEED_MS });
		expect(await orderRow(page, order.id).locator(".status").textContent()).toBe("cancelled");
		await saveScreenshot(page, "admin-order-feed");
		expect(errors).toEqual([]);
		await page.close();
	});

	it("shows the alert of a stock crossing, acknowledged with one click, and restocks the product from the low-stock list", async () => {
		const { page, errors } = await signedInPage(ADMIN.email, ADMIN.password);
		const buyer = await register("Stock Buyer");
		const product = await createProduct({ stock: 10, lowStockThreshold: 3 });
		await placeOrder(buyer.token, product.id, 8);

		const alertItem = page.locator('#alerts-open li[data-acknowledged="false"]').filter({ hasText: product.sku });
		await alertItem.waitFor({ timeout: PAGE_MS });
		const alertId = (await alertItem.getAttribute("data-alert-id"))!;
		expect(await alertItem.textContent()).toContain("stock low");
		await saveScreenshot(page, "admin-stock-alert");
		await alertItem.getByRole("button", { name: /Acknowledge/ }).click();
		await page.locator(`#alerts-done li[data-alert-id="${alertId}"][data-acknowledged="true"]`).waitFor({ timeout: PAGE_MS });
		const acknowledged = await http.get("/alerts?acknowledged=true&pageSize=100", adminToken);
		expect(acknowledged.body.rows).toContainEqual(expect.objectContaining({ id: alertId, acknowledged: true }));
		const open = await http.get("/alerts?acknowledged=false&pageSize=100", adminToken);
		expect(open.body.rows.map((a: { id: string }) => a.id)).not.toContain(alertId);

		const lowStockItem = page.locator(`#low-stock li[data-product-id="${product.id}"]`);
		await lowStockItem.waitFor({ timeout: PAGE_MS });
		expect(await lowStockItem.textContent()).toContain("2 left");
		await lowStockItem.getByLabel("Quantity").fill("5");
		await lowStockItem.getByRole("button", { name: `Restock ${product.name}` }).click();
		// 2 + 5 is above the threshold of 3: the product leaves the list.
		await lowStockItem.waitFor({ state: "detached", timeout: PAGE_MS });
		expect((await http.get(`/products/${product.id}`)).body.stock).toBe(7);
		await saveScreenshot(page, "admin-alert-acknowledged");
		expect(errors).toEqual([]);
		await page.close();
	});

	it("shows a customer only their own orders, with live status, at a phone's width", async () => {
		const [me, someoneElse] = await Promise.all([register("Own Orders"), register("Someone Else")]);
		const product = await createProduct({ stock: 50 });
		const mine = [await placeOrder(me.token, product.id, 1), await placeOrder(me.token, product.id, 2)];
		const theirs = await placeOrder(someoneElse.token, product.id, 1);

		const { page, errors } = await signedInPage(me.email, me.password, PHONE);
		for (const order of mine) await orderRow(page, order.id, "confirmed").waitFor({ timeout: PAGE_MS });
		const shown = await page.locator("#my-orders tr").evaluateAll(rows => rows.map(row => row.getAttribute("data-order-id")));
		expect(shown).toEqual([mine[1].id, mine[0].id]);
		expect(shown).not.toContain(theirs.id);
		expect(await page.locator("#ops-view").isHidden()).toBe(true);

		expect((await http.post(`/orders/${mine[0].id}/cancel`, {}, me.token)).status).toBe(200);
		await orderRow(page, mine[0].id, "cancelled").waitFor({ timeout: FEED_MS });
		// Another customer's order, placed now, never reaches this page.
		const later = await placeOrder(someoneElse.token, product.id, 1);
		const marker = await placeOrder(me.token, product.id, 1);
		await orderRow(page, marker.id).waitFor({ timeout: FEED_MS });
		expect(await orderRow(page, later.id).count()).toBe(0);
		expect(await noHorizontalScroll(page)).toBe(true);
		await saveScreenshot(page, "customer-orders-phone");
		expect(errors).toEqual([]);
		await page.close();
	});

	it("says when the live connection drops and when it is back, and reloads what it shows", async () => {
		const { page } = await signedInPage(ADMIN.email, ADMIN.password);
		await shop!.stop();
		await page.locator('#connection[data-state="lost"]').waitFor({ timeout: PAGE_MS });
		expect(await page.locator("#connection").textContent()).toMatch(/lost/i);
		await saveScreenshot(page, "admin-connection-lost");

		await startShop();
		await page.locator('#connection[data-state="restored"]').waitFor({ timeout: 30_000 });
		expect(await page.locator("#connection").textContent()).toMatch(/back/i);
		// An order placed after the restart still arrives: the page listens again.
		const buyer = await register("After Restart");
		const product = await createProduct({ stock: 5 });
		const order = await placeOrder(buyer.token, product.id, 1);
		await orderRow(page, order.id, "confirmed").waitFor({ timeout: FEED_MS });
		await saveScreenshot(page, "admin-connection-restored");
		await page.close();
	});
});
