import { spawn, type ChildProcess } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import { freePort } from "../helpers/cluster";
import { waitFor } from "../helpers/broker";
import { HttpClient } from "../helpers/http";

const ROOT = path.resolve(__dirname, "../..");
/** What `npm run dev` needs of the project; node_modules is linked, not copied. */
const PROJECT = ["bin", "lib", "services", "mixins", "middlewares", "public", "moleculer.config.ts", "package.json", "tsconfig.json"];
const START_TIMEOUT_MS = 120_000;
const RELOAD_TIMEOUT_MS = 60_000;

// Starting the TypeScript sources under tsx, and reloading them, takes a while on a loaded machine.
jest.setTimeout(4 * RELOAD_TIMEOUT_MS);

/**
 * `npm run dev` (the TypeScript sources under tsx, hot reload, a REPL) in a
 * copy of the project, so that its files can be broken and mended.
 */
describe("npm run dev: a service whose file, or a file it loads, was broken comes back once it compiles again", () => {
	const copy = fs.mkdtempSync(path.join(os.tmpdir(), "shop-dev-reload-"));
	const customersFile = path.join(copy, "services/customers.service.ts");
	let dev: ChildProcess;
	let output = "";
	let http: HttpClient;
	let original: string;

	/** Resolves once a fresh account can register (customers, through the gateway) and the catalog answers (products). */
	async function bothAnswer(timeoutMs: number): Promise<void> {
		let n = 0;
		await waitFor(
			async () => {
				try {
					const registered = await http.post("/auth/register", { name: "Dev Reload", email: `dev${++n}-${Date.now()}@example.com`, password: "a-long-password" });
					const products = await http.get("/products");
					return registered.status === 201 && products.status === 200;
				} catch {
					return false;
				}
			},
			timeoutMs,
			"customers and the gateway to answer",
			500,
		).catch(err => {
			throw new Error(`${(err as Error).message}\n${output.slice(-4000)}`);
		});
	}

	/** Resolves once the output, after `from`, matches. */
	const logged = (pattern: RegExp, from: number) => waitFor(() => pattern.test(output.slice(from)), RELOAD_TIMEOUT_MS, `the log to match ${pattern}`, 200);

	beforeAll(async () => {
		for (const entry of PROJECT) fs.cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true });
		fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(copy, "node_modules"));
		original = fs.readFileSync(customersFile, "utf8");
		const port = await freePort();
		http = new HttpClient(`http://127.0.0.1:${port}/api`);
		dev = spawn("npm", ["run", "dev"], {
			cwd: copy,
			env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), DATA_DIR: path.join(copy, "data"), LOG_LEVEL: "info", BCRYPT_ROUNDS: "4", JWT_SECRET: "dev-reload-test-secret" },
			stdio: ["pipe", "pipe", "pipe"],
			detached: true,
		});
		dev.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
		dev.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
		await bothAnswer(START_TIMEOUT_MS);
	});

	afterAll(async () => {
		// npm, its shell and node: the whole group.
		if (dev?.pid && dev.exitCode === null) {
			const exited = new Promise(resolve => dev.once("exit", resolve));
			process.kill(-dev.pid, "SIGTERM");
			const timer = setTimeout(() => process.kill(-dev.pid!, "SIGKILL"), 15_000);
			await exited;
			clearTimeout(timer);
		}
		fs.rmSync(copy, { recursive: true, force: true });
	});

	it("a syntax error in customers' file takes customers and the gateway (which loads it) down; mended, both answer again", async () => {
		let from = output.length;
		fs.writeFileSync(customersFile, original.replace("const PUBLIC_FIELDS", "(const PUBLIC_FIELDS"));
		await logged(/Failed to load service/, from);
		await waitFor(async () => (await http.get("/products").catch(() => ({ status: 0 }))).status !== 200, RELOAD_TIMEOUT_MS, "the gateway to go down", 200);

		// Mended as an editor saves: written beside it, then renamed over it.
		from = output.length;
		fs.writeFileSync(`${customersFile}.tmp`, original);
		fs.renameSync(`${customersFile}.tmp`, customersFile);
		await bothAnswer(RELOAD_TIMEOUT_MS);
		expect(output.slice(from)).not.toMatch(/Failed to load/);
	});

	it("a syntax error in a module the gateway loads through another file comes back the same way, and a second change after that reloads again", async () => {
		const contract = path.join(copy, "lib/contracts/routes.ts");
		const before = fs.readFileSync(contract, "utf8");
		let from = output.length;
		fs.writeFileSync(contract, `${before}\nexport const broken = (;\n`);
		await logged(/Failed to load service/, from);
		from = output.length;
		fs.writeFileSync(contract, before);
		await bothAnswer(RELOAD_TIMEOUT_MS);

		// Still watched after all that: a change to customers' file reloads customers once more.
		from = output.length;
		fs.writeFileSync(customersFile, `${original}\n// touched\n`);
		await logged(/Service 'customers' started/, from);
		await bothAnswer(RELOAD_TIMEOUT_MS);
	});
});
