import fs from "fs";
import path from "path";
import { ENV_VARIABLES, parseSettings, SECRET_VARIABLES, type Settings } from "../../lib/infra/settings";

/** .env.example against lib/infra/settings.ts: every variable the code reads, explained, with its default. */

const lines = fs.readFileSync(path.resolve(__dirname, "../../.env.example"), "utf8").split("\n");
const VARIABLE = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/;
const entries = lines.flatMap((line, index) => {
	const m = VARIABLE.exec(line);
	return m ? [{ name: m[2], value: m[3], commented: !!m[1], index }] : [];
});

/** Settings without what differs between two parses of one environment. */
function comparable(s: Settings): unknown {
	return {
		...s,
		auth: { ...s.auth, jwtSecret: s.auth.jwtSecretGenerated ? "(generated)" : s.auth.jwtSecret },
		notifications: { ...s.notifications, secretKey: s.notifications.secretKeyDerived ? "(derived)" : s.notifications.secretKey },
	};
}

describe(".env.example", () => {
	it("lists every variable the code reads, once, and nothing else", () => {
		expect(entries.map(e => e.name).sort()).toEqual([...ENV_VARIABLES].sort());
	});

	it("explains each variable on the line above it", () => {
		for (const e of entries) {
			const above = lines[e.index - 1] ?? "";
			expect({ name: e.name, comment: above.startsWith("#") && !VARIABLE.test(above) }).toEqual({ name: e.name, comment: true });
		}
	});

	it("gives, on its uncommented lines, the code's own defaults", () => {
		const defaults = comparable(parseSettings({}));
		for (const e of entries.filter(e => !e.commented)) expect({ name: e.name, settings: comparable(parseSettings({ [e.name]: e.value })) }).toEqual({ name: e.name, settings: defaults });
	});

	it("has examples the code accepts, all of them together (a secret given as itself, its X_FILE apart)", () => {
		const env = Object.fromEntries(entries.filter(e => !e.name.endsWith("_FILE") || !SECRET_VARIABLES.some(s => `${s}_FILE` === e.name)).map(e => [e.name, e.value]));
		expect(() => parseSettings(env)).not.toThrow();
	});

	it("gives each secret's X_FILE a path under /run/secrets, where Docker mounts secrets", () => {
		for (const name of SECRET_VARIABLES) expect(entries.find(e => e.name === `${name}_FILE`)?.value).toMatch(/^\/run\/secrets\/[a-z_]+$/);
	});
});
