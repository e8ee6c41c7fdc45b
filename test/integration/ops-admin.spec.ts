import crypto from "crypto";
import fs from "fs";
import path from "path";
import type { Page } from "playwright-core";
import { axeViolations, type AxeViolation } from "../helpers/axe";
import { SCREENSHOT_DIR, saveScreenshot, type Browser } from "../helpers/browser";
import { waitFor } from "../helpers/broker";
import { ADMIN } from "../helpers/cluster";
import type { HttpClient } from "../helpers/http";
import type { ShopProcess } from "../helpers/shop-process";
import { errorBeside, noHorizontalScroll, startPageShop, type PageShop } from "../helpers/page-shop";

/** Waits that are no contract, only a bound on a hung page. */
const PAGE_MS = 10_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const VIEWPORTS: Array<[string, { width: number; height: number }]> = [
	["1280", DESKTOP],
	["phone", PHONE],
];

/**
 * The admin runs the shop from the operations page, in a real headless
 * Chromium against the system as `npm start` runs it: products (with
 * images), customers, admins, every order page by page; at 1280x800 and at
 * a phone's width, each flow saving its screenshot.
 */
describe("running the shop from the operations page", () => {
	let pageShop: PageShop | undefined;
	let shop: ShopProcess | undefined;
	let browser: Browser | undefined;
	let other: Browser | undefined;
	let http: HttpClient;
	let adminToken: string;
	let adminSession: { token: string; customer: unknown };

	beforeAll(async () => {
		pageShop = await startPageShop("ops-admin");
		({ shop, http, adminSession, browser, other } = pageShop);
		adminToken = adminSession.token;
	}, 90_000);

	afterAll(() => pageShop?.stop(), 30_000);

	const hex = () => crypto.randomBytes(3).toString("hex");
	/** Every tab a test opened, closed after it whatever happened: each holds one of the admin's (at most 20) sockets. */
	const opened: Page[] = [];
	afterEach(async () => {
		await Promise.all(opened.splice(0).map(p => p.close().catch(() => undefined)));
	});

	async function register(name: string): Promise<{ token: string; id: string; name: string; email: string }> {
		const email = `${name.toLowerCase().replace(/\W+/g, "-")}-${hex()}@shop.test`;
		const res = await http.post("/auth/register", { name, email, password: "password-1" });
		expect(res.status).toBe(201);
		return { token: res.body.token, id: res.body.customer.id, name, email };
	}

	async function createProduct(): Promise<{ id: string; name: string }> {
		const sku = `ADM-${hex().toUpperCase()}`;
		const res = await http.post("/products", { sku, name: `Widget ${sku}`, category: "ops", priceCents: 500, stock: 1000 }, adminToken);
		expect(res.status).toBe(201);
		return res.body;
	}

	async function placeOrder(token: string, productId: string): Promise<{ id: string }> {
		const res = await http.post("/orders", { items: [{ productId, quantity: 1 }] }, token);
		expect(res.status).toBe(201);
		return res.body;
	}

	/**
	 * A new tab of `on`, signed in as the admin, at `hash`: the session the
	 * page keeps after its sign-in form, put there before it loads (each
	 * sign-in counts against the account's 10 attempts per 15 minutes;
	 * the form itself is test/integration/ops-page.spec.ts's).
	 */
	async function adminPage(viewport: { width: number; height: number }, hash: string, on: Browser = browser!): Promise<{ page: Page; errors: string[] }> {
		const tab = await on.newPage(viewport);
		const { page } = tab;
		opened.push(page);
		await page.addInitScript(`sessionStorage.setItem("shop-ops.session", ${JSON.stringify(JSON.stringify(adminSession))})`);
		await page.goto(`${shop!.url}/${hash}`);
		await page.locator('#connection[data-state="live"]').waitFor({ timeout: PAGE_MS });
		return tab;
	}

	describe.each(VIEWPORTS)("at %s", (label, viewport) => {
		it("creates, edits (images too) and removes a product, with validation errors next to their fields, and another browser sees the edit live", async () => {
			const { page, errors } = await adminPage(viewport, "#products");
			const watcher = await adminPage(DESKTOP, "#products", other);
			await page.locator("#products-view").waitFor({ timeout: PAGE_MS });
			const sku = `LAMP-${hex().toUpperCase()}`;
			const name = `Lamp ${sku}`;

			await page.getByRole("button", { name: "New product" }).click();
			await page.getByLabel("SKU").fill(sku);
			await page.getByLabel("Name", { exact: true }).fill(name);
			await page.getByLabel("Category").fill("lighting");
			await page.getByLabel("Price").fill("12.5x");
			await page.getByLabel("Stock", { exact: true }).fill("4");
			await page.getByLabel("Low-stock threshold").fill("2");
			await page.getByRole("button", { name: "Add an image" }).click();
			await page.getByLabel("Image 1 URL").fill("http://insecure.example/lamp.jpg");
			await page.getByLabel("Image 1 description (alt text)").fill("The lamp, lit");
			await page.getByRole("button", { name: "Create product" }).click();
			// The browser's own check first: the price.
			expect(await errorBeside(page, "Price")).toContain("Enter a price such as 12.50");
			await page.getByLabel("Price").fill("12.50");
			await page.getByRole("button", { name: "Create product" }).click();
			// Then the API's: an image that is not https.
			await page.getByLabel("Image 1 URL").and(page.locator('[aria-invalid="true"]')).waitFor({ timeout: PAGE_MS });
			expect(await errorBeside(page, "Image 1 URL")).toMatch(/https URL or a path on this site/);
			expect((await http.get(`/products?search=${sku}`)).body.total).toBe(0);
			await saveScreenshot(page, `admin-product-errors-${label}`);

			await page.getByLabel("Image 1 URL").fill("/favicon.svg");
			await page.getByRole("button", { name: "Add an image" }).click();
			await page.getByLabel("Image 2 URL").fill("/favicon.svg?side");
			await page.getByLabel("Image 2 description (alt text)").fill("The lamp from the side");
			await page.getByRole("button", { name: "Create product" }).click();
			const row = page.locator(`#product-rows tr`).filter({ hasText: sku });
			await row.waitFor({ timeout: PAGE_MS });
			const created = (await http.get(`/products?search=${sku}`)).body.rows[0];
			expect(created).toMatchObject({ name, category: "lighting", priceCents: 1250, stock: 4, lowStockThreshold: 2 });
			expect(created.images).toEqual([
				{ url: "/favicon.svg", alt: "The lamp, lit" },
				{ url: "/favicon.svg?side", alt: "The lamp from the side" },
			]);
			// The product's first image, shown with its alt text, loaded under the page's CSP.
			const thumb = row.getByRole("img", { name: "The lamp, lit" });
			await page.waitForFunction(`(document.querySelector('tr[data-product-id="${created.id}"] img')?.naturalWidth ?? 0) > 0`, undefined, { timeout: PAGE_MS });
			expect(await thumb.count()).toBe(1);

			const watched = watcher.page.locator(`#product-rows tr[data-product-id="${created.id}"]`);
			await watcher.page.getByRole("button", { name: "Search" }).click();
			await watched.waitFor({ timeout: PAGE_MS });

			await row.getByRole("button", { name: `Edit ${name}` }).click();
			await page.getByLabel("Price").fill("15.00");
			await page.getByLabel("Low-stock threshold").fill("3");
			await page.getByLabel("Add to stock").fill("6");
			await page.getByRole("button", { name: "Move image 2 up" }).click();
			await page.getByRole("button", { name: "Save changes" }).click();
			await page.locator("#product-editor").waitFor({ state: "hidden", timeout: PAGE_MS });
			const edited = (await http.get(`/products/${created.id}`)).body;
			expect(edited).toMatchObject({ priceCents: 1500, stock: 10, lowStockThreshold: 3 });
			expect(edited.images.map((i: { alt: string }) => i.alt)).toEqual(["The lamp from the side", "The lamp, lit"]);
			// The other browser, untouched, shows the edit as it happened.
			await watched.locator('[data-field="price"]').filter({ hasText: "15.00" }).waitFor({ timeout: PAGE_MS });
			await watched.locator('[data-field="stock"]').filter({ hasText: /^10$/ }).waitFor({ timeout: PAGE_MS });
			expect(await watched.getByRole("img").getAttribute("alt")).toBe("The lamp from the side");
			await saveScreenshot(page, `admin-products-${label}`);
			await saveScreenshot(watcher.page, `admin-products-seen-live-${label}`);
			expect(await noHorizontalScroll(page)).toBe(true);

			// The other browser opens the product to edit it; meanwhile this one removes it.
			await watched.getByRole("button", { name: `Edit ${name}` }).click();
			page.once("dialog", dialog => void dialog.accept());
			await page
				.locator(`#product-rows tr[data-product-id="${created.id}"]`)
				.getByRole("button", { name: `Remove ${name}` })
				.click();
			await page.locator(`#product-rows tr[data-product-id="${created.id}"]`).waitFor({ state: "detached", timeout: PAGE_MS });
			expect((await http.get(`/products/${created.id}`)).status).toBe(404);
			// The other browser's list drops it as it happens; saving its edit is refused, and the page says what the API said.
			await watched.waitFor({ state: "detached", timeout: PAGE_MS });
			await watcher.page.getByRole("button", { name: "Save changes" }).click();
			await watcher.page
				.locator("#product-form-error")
				.filter({ hasText: /not found/i })
				.waitFor({ timeout: PAGE_MS });
			expect(await watcher.page.locator("#product-form-error").textContent()).toMatch(/^Could not save: .*not found/i);
			// The browser logs each refusal it was answered (422, 404); the page throws nothing and breaks no policy.
			expect([...errors, ...watcher.errors].filter(e => !/status of (404|422)/.test(e))).toEqual([]);
			await Promise.all([page.close(), watcher.page.close()]);
		});

		it("finds a customer, shows their orders, blocks and unblocks them", async () => {
			const customer = await register(`Grace ${label}`);
			const product = await createProduct();
			const orders = [await placeOrder(customer.token, product.id), await placeOrder(customer.token, product.id)];
			const { page, errors } = await adminPage(viewport, "#customers");

			await page.getByLabel("Find a customer").fill(customer.email.split("@")[0]);
			await page.getByRole("button", { name: "Search" }).click();
			const row = page.locator(`#customer-rows tr[data-customer-id="${customer.id}"]`);
			await row.waitFor({ timeout: PAGE_MS });
			// The view lists every customer when it opens; the search's answer replaces that list when it comes.
			await waitFor(async () => (await page.locator("#customer-rows tr").count()) === 1, PAGE_MS, "the search's answer").catch(() => undefined);
			expect(await page.locator("#customer-rows tr").count()).toBe(1);

			await row.getByRole("button", { name: `Orders of ${customer.name}` }).click();
			await page.locator(`#customer-order-rows tr[data-order-id="${orders[1].id}"]`).waitFor({ timeout: PAGE_MS });
			expect(await page.locator("#customer-order-rows tr").evaluateAll(rows => rows.map(r => r.getAttribute("data-order-id")))).toEqual([orders[1].id, orders[0].id]);

			await row.getByRole("button", { name: `Block ${customer.name}` }).click();
			const blocked = page.locator(`#customer-rows tr[data-customer-id="${customer.id}"][data-blocked="true"]`);
			await blocked.waitFor({ timeout: PAGE_MS });
			expect((await http.post("/auth/login", { email: customer.email, password: "password-1" })).status).toBe(403);
			expect((await http.get("/customers/me", customer.token)).status).toBe(401);
			await saveScreenshot(page, `admin-customer-blocked-${label}`);

			await blocked.getByRole("button", { name: `Unblock ${customer.name}` }).click();
			await page.locator(`#customer-rows tr[data-customer-id="${customer.id}"][data-blocked="false"]`).waitFor({ timeout: PAGE_MS });
			expect((await http.post("/auth/login", { email: customer.email, password: "password-1" })).status).toBe(200);
			expect(await noHorizontalScroll(page)).toBe(true);
			expect(errors.filter(e => !/status of 40[13]/.test(e))).toEqual([]);
			await page.close();
		});

		it("creates another admin, saying why a taken email or a short password is refused, who then signs in as an admin", async () => {
			const { page, errors } = await adminPage(viewport, "#customers");
			const email = `second-admin-${hex()}@shop.test`;
			await page.getByLabel("New admin's name").fill("Second Admin");
			await page.getByLabel("New admin's email").fill(ADMIN.email);
			await page.getByLabel("New admin's password").fill("long-enough-password");
			await page.getByRole("button", { name: "Create admin" }).click();
			await page.getByLabel("New admin's email").and(page.locator('[aria-invalid="true"]')).waitFor({ timeout: PAGE_MS });
			expect(await errorBeside(page, "New admin's email")).toMatch(/already registered/i);

			await page.getByLabel("New admin's email").fill(email);
			await page.getByLabel("New admin's password").fill("short");
			await page.getByRole("button", { name: "Create admin" }).click();
			await page.getByLabel("New admin's password").and(page.locator('[aria-invalid="true"]')).waitFor({ timeout: PAGE_MS });
			expect(await errorBeside(page, "New admin's password")).toMatch(/password/i);
			expect(await page.getByLabel("New admin's email").getAttribute("aria-invalid")).toBeNull();
			await saveScreenshot(page, `admin-new-admin-errors-${label}`);

			await page.getByLabel("New admin's password").fill("long-enough-password");
			await page.getByRole("button", { name: "Create admin" }).click();
			await page.locator("#new-admin-status").filter({ hasText: "is an admin now" }).waitFor({ timeout: PAGE_MS });
			const session = await http.post("/auth/login", { email, password: "long-enough-password" });
			expect(session.body.customer).toMatchObject({ email, role: "admin" });
			await saveScreenshot(page, `admin-new-admin-${label}`);
			expect(errors.filter(e => !/status of (409|422)/.test(e))).toEqual([]);
			await page.close();
		});

		it("pages through every order through the API, each with its day, filtered by status, a new order arriving on the first page", async () => {
			const buyer = await register(`Pager ${label}`);
			const product = await createProduct();
			const placed: Array<{ id: string }> = [];
			for (let i = 0; i < 22; i++) placed.push(await placeOrder(buyer.token, product.id));
			expect((await http.post(`/orders/${placed[0].id}/cancel`, {}, buyer.token)).status).toBe(200);
			const { page, errors } = await adminPage(viewport, "#orders");

			await page.locator(`#order-rows tr[data-order-id="${placed[21].id}"]`).waitFor({ timeout: PAGE_MS });
			expect(await page.locator("#order-rows tr").count()).toBe(20);
			expect(await page.locator("#orders-pager").textContent()).toMatch(/Page 1 of \d+/);
			const firstPage = await page.locator("#order-rows tr").evaluateAll(rows => rows.map(r => r.getAttribute("data-order-id")));
			const placedText = (await page.locator(`#order-rows tr[data-order-id="${placed[21].id}"] time`).textContent())!;
			expect(placedText).toContain(String(new Date().getFullYear()));

			await page.locator("#orders-pager").getByRole("button", { name: "Next" }).click();
			await page
				.locator("#orders-pager")
				.filter({ hasText: /Page 2 of/ })
				.waitFor({ timeout: PAGE_MS });
			const secondPage = await page.locator("#order-rows tr").evaluateAll(rows => rows.map(r => r.getAttribute("data-order-id")));
			expect(secondPage.length).toBeGreaterThan(0);
			expect(secondPage.filter(id => firstPage.includes(id))).toEqual([]);
			expect(secondPage).toContain(placed[1].id);

			await page.getByLabel("Status", { exact: true }).selectOption("cancelled");
			await page.getByRole("button", { name: "Show" }).click();
			// The cancelled orders fit one page (placed[0] was on page 2 before).
			await page
				.locator("#orders-pager")
				.filter({ hasText: /Page 1 of 1\b/ })
				.waitFor({ timeout: PAGE_MS });
			await page.locator(`#order-rows tr[data-order-id="${placed[0].id}"]`).waitFor({ timeout: PAGE_MS });
			expect(new Set(await page.locator("#order-rows tr").evaluateAll(rows => rows.map(r => r.getAttribute("data-status"))))).toEqual(new Set(["cancelled"]));

			await page.getByLabel("Status", { exact: true }).selectOption("");
			await page.getByRole("button", { name: "Show" }).click();
			await page
				.locator("#orders-pager")
				.filter({ hasText: /Page 1 of/ })
				.waitFor({ timeout: PAGE_MS });
			const newest = await placeOrder(buyer.token, product.id);
			await page.locator(`#order-rows tr[data-order-id="${newest.id}"]`).waitFor({ timeout: PAGE_MS });
			expect(await page.locator("#order-rows tr").first().getAttribute("data-order-id")).toBe(newest.id);
			expect(await noHorizontalScroll(page)).toBe(true);
			await saveScreenshot(page, `admin-orders-${label}`);
			expect(errors).toEqual([]);
			await page.close();
		});
	});

	it("can be run with the keyboard alone: each field reached by its label, the form sent with Enter", async () => {
		const { page, errors } = await adminPage(DESKTOP, "#overview");
		await page.getByRole("link", { name: "Products" }).focus();
		await page.keyboard.press("Enter");
		await page.locator("#products-view").waitFor({ timeout: PAGE_MS });
		expect(await page.evaluate<string>("document.activeElement.id")).toBe("products-title");
		await page.getByRole("button", { name: "New product" }).focus();
		await page.keyboard.press("Enter");
		expect(await page.evaluate<string>("document.activeElement.id")).toBe("product-sku");
		const sku = `KEY-${hex().toUpperCase()}`;
		await page.keyboard.type(sku);
		for (const [id, text] of [
			["product-name", "Typed lamp"],
			["product-category", "keyboard"],
			["product-price", "9.99"],
			["product-stock", "3"],
		]) {
			await page.keyboard.press("Tab");
			expect(await page.evaluate<string>("document.activeElement.id")).toBe(id);
			await page.keyboard.type(text);
		}
		await page.keyboard.press("Enter");
		await page.locator("#product-rows tr").filter({ hasText: sku }).waitFor({ timeout: PAGE_MS });
		expect((await http.get(`/products?search=${sku}`)).body.rows[0]).toMatchObject({ name: "Typed lamp", priceCents: 999, stock: 3 });
		expect(errors).toEqual([]);
		await page.close();
	});

	it("has no serious accessibility violation (axe-core) on any view, at 1280x800 and at a phone's width", async () => {
		/** Every violation axe finds, by view; the test fails on the serious and critical ones. */
		const found: Record<string, AxeViolation[]> = {};
		const product = await createProduct();
		const customer = await register("Axe Customer");
		await placeOrder(customer.token, product.id);
		for (const [label, viewport] of VIEWPORTS) {
			const signIn = await browser!.newPage(viewport);
			await signIn.page.goto(shop!.url);
			await signIn.page.locator("#sign-in-form").waitFor({ timeout: PAGE_MS });
			found[`sign-in ${label}`] = await axeViolations(signIn.page);
			await signIn.page.close();

			const { page } = await adminPage(viewport, "#overview");
			await page.locator('[data-service="order-service"][data-state="up"]').waitFor({ timeout: PAGE_MS });
			await page.locator("#sales-chart canvas").waitFor({ timeout: PAGE_MS });
			found[`overview ${label}`] = await axeViolations(page);
			await page.getByRole("link", { name: "Products" }).click();
			await page.locator("#product-rows tr").first().waitFor({ timeout: PAGE_MS });
			await page.getByRole("button", { name: "New product" }).click();
			await page.getByRole("button", { name: "Add an image" }).click();
			await page.getByRole("button", { name: "Create product" }).click();
			await page.locator('[aria-invalid="true"]').first().waitFor({ timeout: PAGE_MS });
			found[`products ${label}`] = await axeViolations(page);
			await page.getByRole("link", { name: "Orders" }).click();
			await page.locator("#order-rows tr").first().waitFor({ timeout: PAGE_MS });
			found[`orders ${label}`] = await axeViolations(page);
			await page.getByRole("link", { name: "Customers" }).click();
			await page.locator("#customer-rows tr").first().waitFor({ timeout: PAGE_MS });
			await page
				.locator(`#customer-rows tr[data-customer-id="${customer.id}"]`)
				.getByRole("button", { name: /^Orders of/ })
				.click();
			await page.locator("#customer-order-rows tr").first().waitFor({ timeout: PAGE_MS });
			found[`customers ${label}`] = await axeViolations(page);
			await page.close();
		}
		fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
		fs.writeFileSync(path.join(path.dirname(SCREENSHOT_DIR), "axe-results.json"), JSON.stringify(found, null, 2));
		const serious = Object.entries(found).map(([view, v]) => [view, v.filter(x => x.impact === "serious" || x.impact === "critical")] as const);
		expect(Object.fromEntries(serious.filter(([, v]) => v.length))).toEqual({});
	});
});
