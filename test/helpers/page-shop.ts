import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import type { Page } from "playwright-core";
import { SCREENSHOT_DIR, launchBrowser, type Browser } from "./browser";
import { ADMIN, freePort, waitForRunning } from "./cluster";
import { HttpClient } from "./http";
import { startShopProcess, type ShopProcess } from "./shop-process";

/** The services the page shows as running before a test starts. */
const SERVICE_LABELS = ["order-service", "product-service", "customer-service", "alert-service", "analytics-service"];

/** The system as `npm start` runs it, its admin signed in over REST, and two browsers (one to act, one to watch). */
export interface PageShop {
	shop: ShopProcess;
	http: HttpClient;
	adminSession: { token: string; customer: unknown };
	browser: Browser;
	other: Browser;
	/** Closes the browsers, stops the shop, removes its data and keeps its log beside the screenshots as `<name>-shop.log`. */
	stop(): Promise<void>;
}

export async function startPageShop(name: string): Promise<PageShop> {
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
	const env = { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, JWT_SECRET: crypto.randomBytes(16).toString("hex"), BCRYPT_ROUNDS: "4", RATE_LIMIT_MAX: "100000" };
	const shop = await startShopProcess({ port: await freePort(), dataDir, env });
	const browsers: Browser[] = [];
	const stop = async () => {
		await Promise.all(browsers.map(b => b.close()));
		await shop.stop();
		fs.rmSync(dataDir, { recursive: true, force: true });
		fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
		fs.writeFileSync(path.join(path.dirname(SCREENSHOT_DIR), `${name}-shop.log`), shop.output.join(""));
	};
	try {
		const http = new HttpClient(`${shop.url}/api`);
		await waitForRunning(http, SERVICE_LABELS);
		const adminSession = (await http.post("/auth/login", ADMIN)).body;
		browsers.push(...(await Promise.all([launchBrowser(), launchBrowser()])));
		return { shop, http, adminSession, browser: browsers[0], other: browsers[1], stop };
	} catch (err) {
		await stop();
		throw err;
	}
}

/** The page fits its width: nothing scrolls sideways. */
export const noHorizontalScroll = (page: Page) => page.evaluate<boolean>("document.documentElement.scrollWidth <= window.innerWidth");

/** The text of the error shown beside an input (the element its aria-describedby names). */
export async function errorBeside(page: Page, label: string, timeoutMs = 10_000): Promise<string> {
	const input = page.getByLabel(label, { exact: true });
	await input.and(page.locator('[aria-invalid="true"]')).waitFor({ timeout: timeoutMs });
	const ids = (await input.getAttribute("aria-describedby"))!.split(" ");
	return (await page.locator(ids.map(id => `#${id}`).join(", ")).allTextContents()).join(" ");
}
