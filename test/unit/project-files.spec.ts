import fs from "fs";
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
