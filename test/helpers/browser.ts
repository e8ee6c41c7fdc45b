import fs from "fs";
import os from "os";
import path from "path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/** Debian's chromium package; no browser is ever downloaded. */
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const SCREENSHOT_DIR = path.resolve(__dirname, "../../test-results/screenshots");

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export interface Browser {
	context: BrowserContext;
	/** A new tab of the given size, recording its uncaught errors and console errors. */
	newPage(viewport?: { width: number; height: number }): Promise<{ page: Page; errors: string[] }>;
	close(): Promise<void>;
}

/**
 * Headless Chromium with a fresh profile, deleted on close. Playwright takes
 * the profile folder only through launchPersistentContext (it refuses a
 * --user-data-dir argument).
 */
export async function launchBrowser(): Promise<Browser> {
	if (!fs.existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get update && apt-get install -y chromium (.ci/run does it)`);
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), "ops-chromium-"));
	let context: BrowserContext;
	try {
		context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 800 } });
	} catch (err) {
		fs.rmSync(profile, { recursive: true, force: true });
		throw err;
	}
	return {
		context,
		async newPage(viewport = { width: 1280, height: 800 }) {
			const page = await context.newPage();
			await page.setViewportSize(viewport);
			const errors: string[] = [];
			page.on("pageerror", err => errors.push(`page error: ${err.message}`));
			page.on("console", message => {
				if (message.type() === "error") errors.push(`console: ${message.text()}`);
			});
			return { page, errors };
		},
		async close() {
			await context.close();
			fs.rmSync(profile, { recursive: true, force: true });
		},
	};
}

/** A full-page screenshot under test-results/screenshots/ (git ignores it); its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
	fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
	const file = path.join(SCREENSHOT_DIR, `${name}.png`);
	await page.screenshot({ path: file, fullPage: true });
	return file;
}
