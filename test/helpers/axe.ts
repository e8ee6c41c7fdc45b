import fs from "fs";
import type { Page } from "playwright-core";

/** axe-core's browser build, read once. */
let source: string | undefined;

export interface AxeViolation {
	id: string;
	impact: string | null;
	help: string;
	targets: string[];
}

/**
 * Runs axe-core (the pinned devDependency) in the page and answers its
 * violations. The tests inject it through the browser's debugging protocol,
 * which the page's Content-Security-Policy does not govern: no test tool is
 * served to the shop's users, and the policy stays as strict as they get it.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
	source ??= fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
	if (!(await page.evaluate<boolean>("typeof window.axe === 'object'"))) await page.evaluate(source);
	return page.evaluate<AxeViolation[]>(
		`axe.run(document, { resultTypes: ["violations"], runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } })
			.then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map(n => n.target.join(" ")) })))`,
	);
}
