import crypto from "crypto";
import fs from "fs";
import path from "path";
import type { Page } from "playwright-core";
import { axeViolations, type AxeViolation } from "../helpers/axe";
import { SCREENSHOT_DIR, saveScreenshot, type Browser } from "../helpers/browser";
import { waitFor } from "../helpers/broker";
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

/** The page's money (amounts below 1,000 have no grouping to tell locales apart). */
const shown = (cents: number) => (cents / 100).toFixed(2);

/**
 * The shop run from the page, in a real headless Chromium against the
 * system as `npm start` runs it: a guest's cart, sign-up, checkout and
 * manual payment, the order followed live while the admin moves it along
 * from the Orders view; refunds and returns from the same view.
 */
describe("the shop from the page: checkout and the admin's order moves", () => {
	let pageShop: PageShop | undefined;
	let shop: ShopProcess | undefined;
	let browser: Browser | undefined;
	let other: Browser | undefined;
	let http: HttpClient;
	let adminToken: string;
	let adminSession: { token: string; customer: unknown };
	/** Every violation axe finds, by view; checked once at the end. */
	const found: Record<string, AxeViolation[]> = {};

	beforeAll(async () => {
		pageShop = await startPageShop("ops-checkout");
		({ shop, http, adminSession, browser, other } = pageShop);
		adminToken = adminSession.token;
	}, 90_000);

	afterAll(() => pageShop?.stop(), 30_000);

	const hex = () => crypto.randomBytes(3).toString("hex");
	const opened: Page[] = [];
	afterEach(async () => {
		await Promise.all(opened.splice(0).map(p => p.close().catch(() => undefined)));
	});

	async function createProduct(category: string, priceCents: number, stock = 20): Promise<{ id: string; name: string; sku: string; stock: number }> {
		const sku = `CHK-${hex().toUpperCase()}`;
		const images = [{ url: "/favicon.svg", alt: `A picture of ${sku}` }];
		const res = await http.post("/products", { sku, name: `Kettle ${sku}`, category, priceCents, stock, images }, adminToken);
		expect(res.status).toBe(201);
		return res.body;
	}

	async function tab(on: Browser, viewport: { width: number; height: number }, url: string, session?: unknown): Promise<{ page: Page; errors: string[] }> {
		const opening = await on.newPage(viewport);
		opened.push(opening.page);
		if (session) await opening.page.addInitScript(`sessionStorage.setItem("shop-ops.session", ${JSON.stringify(JSON.stringify(session))})`);
		await opening.page.goto(url);
		return opening;
	}

	/** The admin's Orders view with `orderId` opened in its panel. */
	async function manage(viewport: { width: number; height: number }, orderId: string): Promise<{ page: Page; errors: string[] }> {
		const admin = await tab(other!, viewport, `${shop!.url}/#orders`, adminSession);
		await admin.page.locator('#connection[data-state="live"]').waitFor({ timeout: PAGE_MS });
		const row = admin.page.locator(`#order-rows tr[data-order-id="${orderId}"]`);
		await row.waitFor({ timeout: PAGE_MS });
		await row.getByRole("button", { name: /^Manage order/ }).click();
		await admin.page.locator(`#order-manage[data-order-id="${orderId}"]`).waitFor({ timeout: PAGE_MS });
		return admin;
	}

	describe.each(VIEWPORTS)("at %s", (label, viewport) => {
		it("a guest fills a cart that outlives a reload, signs up, checks out with the total broken down, is told how to pay, and sees the order paid, shipped and delivered as the admin does it", async () => {
			const category = `kitchen-${hex()}`;
			const product = await createProduct(category, 1250);
			await createProduct(`other-${hex()}`, 300);
			const { page, errors } = await tab(browser!, viewport, shop!.url);
			// One browser for both widths: no cart token left from the other.
			await page.evaluate("localStorage.clear()");
			await page.reload();

			// The catalogue, searched by name and narrowed to a department, each product with its image.
			await page.getByLabel("Search the shop").fill("Kettle");
			await page.getByLabel("Department").selectOption(category);
			await page.getByRole("button", { name: "Find" }).click();
			const card = page.locator(`#catalogue li[data-product-id="${product.id}"]`);
			await card.waitFor({ timeout: PAGE_MS });
			await waitFor(() => card.getByRole("img").evaluate(img => (img as unknown as { naturalWidth: number }).naturalWidth > 0), PAGE_MS, "the product's image");
			expect(await page.locator("#catalogue li").count()).toBe(1);
			expect(await card.getByRole("img").getAttribute("alt")).toBe(`A picture of ${product.sku}`);

			await card.getByRole("button", { name: `Add to cart: ${product.name}` }).click();
			const quantity = page.getByLabel(`Quantity of ${product.name}`);
			await quantity.waitFor({ timeout: PAGE_MS });
			await card.getByRole("button", { name: `Add to cart: ${product.name}` }).click();
			await page.locator("#cart-status").filter({ hasText: "added" }).waitFor({ timeout: PAGE_MS });
			await page
				.locator("#cart-lines")
				.filter({ hasText: shown(2500) })
				.waitFor({ timeout: PAGE_MS });
			expect(await quantity.inputValue()).toBe("2");
			found[`guest shop ${label}`] = await axeViolations(page);

			// The guest cart is the token's, kept by the browser across a reload.
			await page.reload();
			await quantity.waitFor({ timeout: PAGE_MS });
			expect(await quantity.inputValue()).toBe("2");
			const token = await page.evaluate<string>(`localStorage.getItem("shop.cart-token")`);
			expect((await http.request("GET", "/cart", { headers: { "x-cart-token": token } })).body.lines).toEqual([expect.objectContaining({ productId: product.id, quantity: 2 })]);

			// Signing up brings the cart along: the API merges it, and the token reaches nothing more.
			const email = `buyer-${hex()}@shop.test`;
			await page.getByLabel("Your name").fill(`Buyer ${label}`);
			await page.getByLabel("Your email").fill(email);
			await page.getByLabel("Choose a password").fill("password-1");
			await page.getByRole("button", { name: "Create account" }).click();
			await page.locator('#connection[data-state="live"]').waitFor({ timeout: PAGE_MS });
			await quantity.waitFor({ timeout: PAGE_MS });
			expect(await quantity.inputValue()).toBe("2");
			expect(await page.evaluate<string | null>(`localStorage.getItem("shop.cart-token")`)).toBeNull();
			expect((await http.request("GET", "/cart", { headers: { "x-cart-token": token } })).status).toBe(404);
			const buyer = (await http.post("/auth/login", { email, password: "password-1" })).body;

			// The address from the keyboard; a country the shop does not ship to is refused beside its field.
			await page.getByLabel("Street and number").focus();
			await page.keyboard.type("1 Main Street");
			for (const text of ["Berlin", "10115", "ZZ"]) {
				await page.keyboard.press("Tab");
				await page.keyboard.type(text);
			}
			await page.keyboard.press("Enter");
			expect(await errorBeside(page, "Country code")).toMatch(/ships to .*\bDE\b/);
			await page.getByLabel("Country code").fill("DE");
			await page.getByLabel("Shipping method").selectOption("standard");
			await page.getByRole("button", { name: "Show the total" }).click();
			await page.locator("#checkout-summary").waitFor({ timeout: PAGE_MS });
			const quote = (
				await http.post("/checkout/quote", { shippingAddress: { line1: "1 Main Street", city: "Berlin", postalCode: "10115", country: "DE" }, shippingMethod: "standard" }, buyer.token)
			).body;
			expect(quote.itemsCents).toBe(2500);
			for (const part of ["items", "shipping", "tax", "total"]) {
				expect(await page.locator(`#checkout-totals [data-total="${part}"]`).textContent()).toBe(shown(quote[`${part}Cents`]));
			}
			expect(quote.totalCents).toBe(quote.itemsCents + quote.shippingCents + quote.taxCents);
			expect(await noHorizontalScroll(page)).toBe(true);
			found[`checkout ${label}`] = await axeViolations(page);
			await saveScreenshot(page, `customer-checkout-${label}`);

			await page.getByRole("button", { name: "Place order" }).click();
			const reference = page.locator('#payment-details [data-payment="reference"]');
			await reference.waitFor({ timeout: PAGE_MS });
			const orderId = (await page.locator('#payment-details [data-payment="order"]').textContent())!;
			const payment = (await http.get(`/orders/${orderId}/payment`, buyer.token)).body;
			expect(payment).toMatchObject({ provider: "manual", amountCents: quote.totalCents });
			expect(await reference.textContent()).toBe(payment.reference);
			expect(await page.locator('#payment-details [data-payment="amount"]').textContent()).toBe(shown(quote.totalCents));
			const row = page.locator(`#my-orders tr[data-order-id="${orderId}"]`);
			await page.locator(`#my-orders tr[data-order-id="${orderId}"][data-status="awaiting_payment"]`).waitFor({ timeout: PAGE_MS });
			expect(await row.locator("[data-payment]").textContent()).toBe("unpaid");
			expect(await page.locator("#cart-lines li").count()).toBe(0);
			found[`payment ${label}`] = await axeViolations(page);
			await saveScreenshot(page, `customer-payment-${label}`);

			// After a reload, the order itself offers the instructions again.
			await page.reload();
			await row.getByRole("button", { name: /^How to pay order/ }).click();
			await reference.filter({ hasText: payment.reference }).waitFor({ timeout: PAGE_MS });

			// The admin, in another browser, moves the order along; the customer's page follows each move.
			const admin = await manage(DESKTOP, orderId);
			await admin.page.getByRole("button", { name: "Mark paid" }).click();
			await admin.page.locator('#order-manage[data-payment="paid"][data-status="confirmed"]').waitFor({ timeout: PAGE_MS });
			await page.locator(`#my-orders tr[data-order-id="${orderId}"][data-status="confirmed"] [data-payment="paid"]`).waitFor({ timeout: PAGE_MS });

			await admin.page.getByLabel("Carrier").fill("DHL");
			await admin.page.getByLabel("Tracking number").fill(`TRK${hex()}`);
			const tracking = await admin.page.getByLabel("Tracking number").inputValue();
			await admin.page.getByRole("button", { name: "Ship" }).click();
			await page.locator(`#my-orders tr[data-order-id="${orderId}"][data-status="shipped"] [data-shipping="shipped"]`).filter({ hasText: tracking }).waitFor({ timeout: PAGE_MS });
			found[`admin order ${label}`] = await axeViolations(admin.page);

			await admin.page.getByRole("button", { name: "Mark delivered" }).click();
			await page.locator(`#my-orders tr[data-order-id="${orderId}"][data-status="delivered"] [data-shipping="delivered"]`).waitFor({ timeout: PAGE_MS });
			const order = (await http.get(`/orders/${orderId}`, buyer.token)).body;
			expect(order).toMatchObject({
				status: "delivered",
				paymentStatus: "paid",
				paidCents: quote.totalCents,
				itemsCents: 2500,
				fulfilment: expect.objectContaining({ carrier: "DHL", trackingNumber: tracking }),
			});
			expect((await http.get(`/products/${product.id}`)).body.stock).toBe(product.stock - 2);
			expect(await noHorizontalScroll(page)).toBe(true);
			await saveScreenshot(page, `customer-order-delivered-${label}`);
			// The browser logs the country refused (422); nothing else goes wrong.
			expect([...errors, ...admin.errors].filter(e => !/status of 422/.test(e))).toEqual([]);
		});
	});

	it("refunds and records a return line by line from the admin page, a refused refund saying why beside its button", async () => {
		const [kept, damaged] = await Promise.all([createProduct(`returns-${hex()}`, 1000), createProduct(`returns-${hex()}`, 500)]);
		const customer = (await http.post("/auth/register", { name: "Returner", email: `returner-${hex()}@shop.test`, password: "password-1" })).body;
		const placed = await http.post(
			"/orders",
			{
				items: [
					{ productId: kept.id, quantity: 2 },
					{ productId: damaged.id, quantity: 1 },
				],
			},
			customer.token,
		);
		expect(placed.status).toBe(201);
		const orderId = placed.body.id;
		const { page, errors } = await manage(DESKTOP, orderId);

		await page.getByRole("button", { name: "Mark paid" }).click();
		await page.locator('#order-manage[data-payment="paid"]').waitFor({ timeout: PAGE_MS });
		// More than was captured: the API refuses, and says so beside the button.
		await page.getByLabel("Amount to refund").fill("999.00");
		await page.getByRole("button", { name: "Refund" }).click();
		await page.locator("#order-refund-error").filter({ hasText: /\w/ }).waitFor({ timeout: PAGE_MS });
		const refusal = (await http.post(`/orders/${orderId}/refunds`, { amountCents: 99_900 }, adminToken)).body.message;
		expect(await page.locator("#order-refund-error").textContent()).toBe(refusal);
		expect(await page.getByRole("button", { name: "Refund" }).getAttribute("aria-describedby")).toBe("order-refund-error");
		await saveScreenshot(page, "admin-order-refund-refused");

		await page.getByLabel("Amount to refund").fill("1.00");
		await page.getByRole("button", { name: "Refund" }).click();
		await page.locator('#order-manage[data-payment="partially_refunded"]').waitFor({ timeout: PAGE_MS });
		expect((await http.get(`/orders/${orderId}`, adminToken)).body.paidCents).toBe(2500 - 100);

		await page.getByLabel("Carrier").fill("UPS");
		await page.getByLabel("Tracking number").fill("1Z999");
		await page.getByRole("button", { name: "Ship" }).click();
		await page.getByRole("button", { name: "Mark delivered" }).click();
		await page.locator('#order-manage[data-status="delivered"]').waitFor({ timeout: PAGE_MS });

		// One of the two kept units comes back to stock; the damaged one does not.
		await page.getByLabel(`Units of ${kept.name} returned`).fill("1");
		await page.getByLabel(`Units of ${damaged.name} returned`).fill("1");
		await page.getByLabel(`${damaged.name} goes back in stock`).uncheck();
		found["admin return"] = await axeViolations(page);
		await page.getByRole("button", { name: "Record return" }).click();
		await page.locator("#order-manage-facts").filter({ hasText: "Returns" }).waitFor({ timeout: PAGE_MS });
		const order = (await http.get(`/orders/${orderId}`, adminToken)).body;
		expect(order.returns).toEqual([
			expect.objectContaining({
				items: [
					{ productId: kept.id, quantity: 1, restock: true },
					{ productId: damaged.id, quantity: 1, restock: false },
				],
			}),
		]);
		await page.locator("#order-manage-status").filter({ hasText: "Record return" }).waitFor({ timeout: PAGE_MS });
		expect((await http.get(`/products/${kept.id}`)).body.stock).toBe(kept.stock - 2 + 1);
		expect((await http.get(`/products/${damaged.id}`)).body.stock).toBe(damaged.stock - 1);
		await saveScreenshot(page, "admin-order-return");
		expect(errors.filter(e => !/status of (409|422)/.test(e))).toEqual([]);
	});

	it("cancels an order from the admin page, its stock given back", async () => {
		const product = await createProduct(`cancel-${hex()}`, 700, 5);
		const customer = (await http.post("/auth/register", { name: "Canceller", email: `canceller-${hex()}@shop.test`, password: "password-1" })).body;
		const placed = await http.post("/orders", { items: [{ productId: product.id, quantity: 3 }] }, customer.token);
		expect(placed.status).toBe(201);
		const { page, errors } = await manage(PHONE, placed.body.id);
		page.once("dialog", dialog => void dialog.accept());
		await page.getByRole("button", { name: "Cancel order" }).click();
		await page.locator('#order-manage[data-status="cancelled"]').waitFor({ timeout: PAGE_MS });
		expect((await http.get(`/products/${product.id}`)).body.stock).toBe(5);
		expect(await noHorizontalScroll(page)).toBe(true);
		await saveScreenshot(page, "admin-order-cancelled-phone");
		expect(errors).toEqual([]);
	});

	it("has no serious accessibility violation (axe-core) on the shop, checkout, payment and order views", () => {
		fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
		fs.writeFileSync(path.join(path.dirname(SCREENSHOT_DIR), "axe-checkout-results.json"), JSON.stringify(found, null, 2));
		expect(Object.keys(found).length).toBeGreaterThanOrEqual(9);
		const serious = Object.entries(found).map(([view, v]) => [view, v.filter(x => x.impact === "serious" || x.impact === "critical")] as const);
		expect(Object.fromEntries(serious.filter(([, v]) => v.length))).toEqual({});
	});
});
