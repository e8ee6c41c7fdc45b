import { spawnSync } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";

const root = path.resolve(__dirname, "../..");
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");
const pkg = JSON.parse(read("package.json")) as { license?: string; scripts: Record<string, string>; engines: { node: string } };

describe("what a newcomer reads first", () => {
	it("is licensed MIT, in the LICENSE file and in package.json alike", () => {
		expect(read("LICENSE")).toMatch(/^MIT License\n/);
		expect(pkg.license).toBe("MIT");
	});

	it("names only npm scripts that exist, in the README and CONTRIBUTING", () => {
		for (const file of ["README.md", "CONTRIBUTING.md", "bench/README.md"]) {
			const named = [...read(file).matchAll(/npm run ([\w:-]+)/g)].map(m => m[1]);
			expect(named.length).toBeGreaterThan(0);
			for (const script of named) expect([file, script, script in pkg.scripts]).toEqual([file, script, true]);
		}
	});

	it("says one runtime everywhere: Node 24 in engines, .nvmrc, the image and .ci/run", () => {
		expect(pkg.engines.node).toBe(">=24");
		expect(read(".nvmrc").trim()).toBe("24");
		expect(read("Dockerfile").match(/^FROM node:(\d+)/gm)).toEqual(["FROM node:24", "FROM node:24"]);
		expect(read(".ci/run")).toMatch(/NODE_VERSION=24\./);
	});

	it("stands alone: its documents link only files it holds, and nothing names a folder outside it", () => {
		const tracked = (dir: string): string[] =>
			fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap(e => {
				const rel = path.join(dir, e.name);
				if (["node_modules", "dist", ".git", "data", "logs", ".ci"].includes(e.name)) return [];
				return e.isDirectory() ? tracked(rel) : /\.(md|ts|mjs)$/.test(e.name) ? [rel] : [];
			});
		for (const file of tracked(".")) {
			const text = read(file);
			expect([file, /\.\.\/shared\/|shared\/(API|DESIGN|STACK)\.md/.test(text)]).toEqual([file, false]);
			if (!file.endsWith(".md")) continue;
			for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
				if (/^[a-z]+:/.test(target)) continue;
				expect([file, target, fs.existsSync(path.join(root, path.dirname(file), target))]).toEqual([file, target, true]);
			}
		}
		expect(read("README.md")).toMatch(/\(docs\/contract\.md\)[\s\S]*\(docs\/design\.md\)/);
	});
});

describe("npm test's own end", () => {
	it("exits non-zero when a test fails, even with a timer left open when the last suite ends", () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jest-exit-"));
		try {
			// An unref'd timer left open: the global teardown waits while something is open, and must not let the process end before jest sets its exit code.
			fs.writeFileSync(path.join(dir, "fails.spec.js"), 'setInterval(() => undefined, 1000).unref();\nit("fails", () => expect(1).toBe(2));\n');
			const root = path.resolve(__dirname, "../..");
			const config = {
				rootDir: dir,
				testMatch: ["**/*.spec.js"],
				globalTeardown: path.join(root, "test/global-teardown.ts"),
				transform: { "^.+\\.ts$": [require.resolve("ts-jest"), { tsconfig: path.join(root, "tsconfig.json") }] },
			};
			const run = spawnSync(process.execPath, [path.join(root, "node_modules/jest/bin/jest.js"), "--config", JSON.stringify(config)], { cwd: root, encoding: "utf8", timeout: 60_000 });
			expect(run.stderr).toMatch(/Tests:\s+1 failed/);
			expect(run.status).toBe(1);
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});
});
