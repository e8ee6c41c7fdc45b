import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import { launchBrowser, saveScreenshot, type Browser } from "../helpers/browser";
import { ADMIN, freePort, loginAdmin } from "../helpers/cluster";
import { waitFor } from "../helpers/broker";
import { HttpClient } from "../helpers/http";
import { startShopProcess, type ShopProcess } from "../helpers/shop-process";
import { WebhookReceiver } from "../helpers/webhook-receiver";

/**
 * The operations page's Mail and Webhooks panels in a real headless
 * Chromium, against `npm start`'s embedded default without SMTP: what the
 * shop would have sent, reset links masked, and each endpoint's attempts
 * with a test ping.
 */
describe("the Mail and Webhooks panels", () => {
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "notify-page-"));
	const receiver = new WebhookReceiver();
	let shop: ShopProcess;
	let browser: Browser | undefined;
	let http: HttpClient;

	beforeAll(async () => {
		await receiver.start();
		const env = { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, JWT_SECRET: crypto.randomBytes(16).toString("hex"), BCRYPT_ROUNDS: "4", NODE_ENV: "test", WEBHOOK_ALLOW: "127.0.0.1" };
		shop = await startShopProcess({ port: await freePort(), dataDir, env });
		http = new HttpClient(`${shop.url}/api`);
		await waitFor(async () => (await http.get("/health")).status === 200, 20_000, "health 200");
		browser = await launchBrowser();
	}, 90_000);

	afterAll(async () => {
		await browser?.close();
		await shop?.stop();
		await receiver.stop();
		fs.rmSync(dataDir, { recursive: true, force: true });
	}, 30_000);

	it("shows the mail the shop would have sent, reset links masked, and the endpoints with their attempts", async () => {
		const admin = await loginAdmin(http);
		const hook = await http.post("/webhooks", { url: receiver.url, eventTypes: ["order.placed"], description: "The warehouse" }, admin);
		expect(hook.status).toBe(201);
		const buyer = await http.post("/auth/register", { name: "Ada Page", email: "ada@page.test", password: "password-1" });
		const product = (await http.post("/products", { sku: "PAGE-1", name: "Lamp", category: "c", priceCents: 1999, stock: 10 }, admin)).body;
		const order = (await http.post("/orders", { items: [{ productId: product.id, quantity: 1 }] }, buyer.body.token)).body;
		expect((await http.post("/auth/password-reset", { email: "ada@page.test" })).status).toBe(202);
		await waitFor(() => receiver.received.length === 1, 10_000, "the webhook");

		const { page, errors } = await browser!.newPage({ width: 1280, height: 900 });
		await page.goto(shop.url);
		await page.getByLabel("Email", { exact: true }).fill(ADMIN.email);
		await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
		await page.getByRole("button", { name: "Sign in" }).click();
		const mail = page.locator("#mail-panel");
		await mail.getByText(`Your order ${order.id} is placed`).waitFor({ timeout: 10_000 });
		await mail.getByText("Reset your password").waitFor({ timeout: 10_000 });
		const mailText = await mail.innerText();
		expect(mailText).toContain("No SMTP server is configured");
		await mail.locator("summary", { hasText: "Reset your password" }).click();
		const resetText = await mail.locator("details[open] pre").innerText();
		expect(resetText).toContain("reset-password?token=••••••••");
		expect(resetText).not.toMatch(/token=[A-Za-z0-9_-]{20,}/);

		const hooks = page.locator("#webhooks-panel");
		await hooks.getByText(receiver.url).waitFor({ timeout: 10_000 });
		await hooks.locator('tr[data-ok="true"]', { hasText: "order.placed" }).waitFor({ timeout: 10_000 });
		await hooks.getByRole("button", { name: "Test ping" }).click();
		await hooks.locator("tr", { hasText: "ping" }).waitFor({ timeout: 10_000 });
		expect(receiver.received.map(r => r.payload?.type)).toEqual(["order.placed", "ping"]);
		await mail.scrollIntoViewIfNeeded();
		console.log(`screenshot: ${await saveScreenshot(page, "notifications-panels")}`);
		expect(errors).toEqual([]);
	}, 90_000);

	it("asks the API nothing while its tab is hidden, and catches up as soon as it shows again", async () => {
		const { page, errors } = await browser!.newPage({ width: 1280, height: 900 });
		await page.goto(shop.url);
		await page.getByLabel("Email", { exact: true }).fill(ADMIN.email);
		await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
		await page.getByRole("button", { name: "Sign in" }).click();
		await page.locator("#mail-panel").getByText("No SMTP server is configured").waitFor({ timeout: 10_000 });
		const asked: string[] = [];
		page.on("request", req => {
			if (new URL(req.url()).pathname.startsWith("/api/")) asked.push(new URL(req.url()).pathname);
		});
		// As a browser does when its tab goes to the background or comes back (the page's code runs in Chromium, not here).
		const setHidden = (hidden: boolean) =>
			page.evaluate(`(() => {
				Object.defineProperty(document, "hidden", { configurable: true, get: () => ${hidden} });
				Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "${hidden ? "hidden" : "visible"}" });
				document.dispatchEvent(new Event("visibilitychange"));
			})()`);
		await setHidden(true);
		asked.length = 0;
		// Two of the panels' refresh periods (5 s each): a page in view asks for the mail twice in them.
		await page.waitForTimeout(11_000);
		expect(asked).toEqual([]);
		await setHidden(false);
		await waitFor(() => asked.includes("/api/mail/outbox"), 5000, "the mail asked for again");
		expect(errors).toEqual([]);
	}, 60_000);
});
