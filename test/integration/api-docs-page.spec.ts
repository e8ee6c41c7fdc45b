import { ROUTES } from "../../lib/contracts/routes";
import { launchBrowser, saveScreenshot, type Browser } from "../helpers/browser";
import { startInProcessShop } from "../helpers/gateway";
import { WEBHOOK_EVENT_TYPES } from "../../lib/contracts/notifications";

/** A bound on a hung page, no contract. */
const PAGE_MS = 15_000;

/** GET /api/docs in a real headless Chromium: Swagger UI renders the description under the page's CSP, from the gateway alone. */
describe("the API docs page", () => {
	let shop: Awaited<ReturnType<typeof startInProcessShop>>;
	let browser: Browser;

	beforeAll(async () => {
		shop = await startInProcessShop(["api", "customers", "products", "orders"]);
		browser = await launchBrowser();
	}, 60_000);
	afterAll(async () => {
		await browser?.close();
		await shop?.stop();
	});

	it("renders every route, fetching nothing from outside the gateway, and registers a customer with the documented example", async () => {
		const { page, errors } = await browser.newPage();
		const requested: string[] = [];
		page.on("request", req => requested.push(req.url()));
		// A CSP violation is a console error, which `errors` records.
		await page.goto(`${shop.url}/api/docs`);
		await page.locator(".opblock").first().waitFor({ timeout: PAGE_MS });
		// Every route, and every webhook the shop sends (OpenAPI 3.1 `webhooks`).
		expect(await page.locator(".opblock").count()).toBe(ROUTES.length + WEBHOOK_EVENT_TYPES.length);

		const register = page.locator('.opblock-post:has([data-path="/api/auth/register"])');
		await register.locator(".opblock-summary").click();
		await register.getByRole("button", { name: "Try it out" }).click();
		await register.getByRole("button", { name: "Execute" }).click();
		await register.locator(".live-responses-table .response-col_status", { hasText: "201" }).waitFor({ timeout: PAGE_MS });
		await saveScreenshot(page, "api-docs-register");

		expect(requested.filter(url => !url.startsWith(`${shop.url}/`))).toEqual([]);
		expect(requested).toContain(`${shop.url}/api/auth/register`);
		expect(errors).toEqual([]);
		await page.close();
	});
});
