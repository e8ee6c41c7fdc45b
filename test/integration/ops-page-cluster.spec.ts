import fs from "fs";
import path from "path";
import { SCREENSHOT_DIR, launchBrowser, saveScreenshot, type Browser } from "../helpers/browser";
import { ADMIN, ADMIN_ENV, TestCluster, loginAdmin, requireInfrastructure, waitForRunning } from "../helpers/cluster";
import { HttpClient } from "../helpers/http";
import { BACKEND_SERVICES, HEALTH_NAMES } from "../../lib/contracts/services";

const PAGE_MS = 10_000;
/** A node killed without a word is offline once its heartbeats are missed (8 s, moleculer.config.ts), plus a health round. */
const OFFLINE_MS = 20_000;

/**
 * The operations page against a cluster (RabbitMQ, Redis), products on a
 * node of its own: what the page says when that node dies.
 */
describe("the operations page when a node dies", () => {
	const cluster = new TestCluster();
	let browser: Browser | undefined;
	let http: HttpClient;
	let url: string;

	beforeAll(async () => {
		await requireInfrastructure();
		const gateway = await cluster.start("gateway", ["api", ...BACKEND_SERVICES.filter(s => s !== "products")].join(","), ADMIN_ENV);
		await cluster.start("products", "products");
		url = `http://127.0.0.1:${gateway.port}`;
		http = new HttpClient(`${url}/api`);
		await waitForRunning(http, Object.values(HEALTH_NAMES));
		browser = await launchBrowser();
	}, 90_000);

	afterAll(async () => {
		await browser?.close();
		fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
		fs.writeFileSync(path.join(path.dirname(SCREENSHOT_DIR), "ops-page-cluster.log"), cluster.nodes.map(n => `--- ${n.name}\n${n.output.join("")}`).join("\n"));
		await cluster.stopAll();
	}, 60_000);

	it("keeps the dead node in the Nodes table as offline, and the low-stock panel says products is down instead of going blank", async () => {
		const token = await loginAdmin(http);
		const product = await http.post("/products", { sku: "DEAD-1", name: "Lamp before the crash", category: "ops", priceCents: 100, stock: 1, lowStockThreshold: 3 }, token);
		expect(product.status).toBe(201);
		const { page, errors } = await browser!.newPage();
		await page.goto(url);
		await page.getByLabel("Email", { exact: true }).fill(ADMIN.email);
		await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
		await page.getByRole("button", { name: "Sign in" }).click();
		const productsNode = page.locator(`#cluster-nodes tr[data-node-id="${cluster.namespace}-products"]`);
		await productsNode.and(page.locator('[data-available="true"]')).waitFor({ timeout: PAGE_MS });
		await page.locator(`#low-stock li[data-product-id="${product.body.id}"]`).waitFor({ timeout: PAGE_MS });

		await cluster.nodes.find(n => n.name === "products")!.kill();
		await productsNode.and(page.locator('[data-available="false"]')).waitFor({ timeout: OFFLINE_MS });
		expect(await productsNode.textContent()).toMatch(/offline since/);
		expect(await productsNode.textContent()).toContain("products");
		await page.locator('[data-service="product-service"][data-state="down"]').waitFor({ timeout: PAGE_MS });
		await page.locator("#cluster-summary").filter({ hasText: "1 node offline" }).waitFor({ timeout: PAGE_MS });
		const lowStockNote = page.locator("#low-stock-unavailable");
		await lowStockNote.waitFor({ timeout: PAGE_MS });
		expect(await lowStockNote.textContent()).toMatch(/product service is down/i);
		// What was shown stays, marked as possibly out of date, rather than vanishing.
		expect(await page.locator(`#low-stock li[data-product-id="${product.body.id}"]`).count()).toBe(1);
		await saveScreenshot(page, "admin-node-dead-1280");
		// The browser logs each 503 it was answered; the page itself throws nothing.
		expect(errors.filter(e => e.startsWith("page error"))).toEqual([]);
		await page.close();
	});
});
