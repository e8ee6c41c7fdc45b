import { spawn } from "child_process";
import path from "path";
import { waitFor } from "../helpers/broker";
import { startInProcessShop } from "../helpers/gateway";

const EXAMPLE = path.resolve(__dirname, "../../examples/socket-client.js");
const ADMIN = { email: "admin@shop.test", password: "admin-password" };

/** `node examples/socket-client.js <args>`, as the README runs it; `stdin` is what is typed at its prompt. */
function runExample(args: string[], env: Record<string, string> = {}, stdin?: string) {
	const child = spawn(process.execPath, [EXAMPLE, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
	if (stdin !== undefined) child.stdin!.end(stdin);
	const run = { child, stdout: "", stderr: "", exited: new Promise<number | null>(resolve => child.once("exit", code => resolve(code))) };
	child.stdout!.on("data", (chunk: Buffer) => (run.stdout += chunk.toString()));
	child.stderr!.on("data", (chunk: Buffer) => (run.stderr += chunk.toString()));
	return run;
}

describe("examples/socket-client.js", () => {
	let shop: Awaited<ReturnType<typeof startInProcessShop>>;

	beforeAll(async () => {
		shop = await startInProcessShop(["api", "customers", "products", "orders", "alerts", "analytics", "payments", "notifications"], { admin: ADMIN });
	});
	afterAll(() => shop.stop());

	/** Until it has called products.list (or exited); then stopped. */
	async function connected(run: ReturnType<typeof runExample>): Promise<{ stdout: string; stderr: string }> {
		try {
			await waitFor(() => /products: \d+/.test(run.stdout) || run.child.exitCode !== null, 15_000, "the example to connect and call products.list");
			return { stdout: run.stdout, stderr: run.stderr };
		} finally {
			run.child.kill("SIGTERM");
			await run.exited;
		}
	}

	/** Its exit code, once it has ended by itself (stopped if it has not within 15 s). */
	async function ended(run: ReturnType<typeof runExample>): Promise<number | null> {
		try {
			await waitFor(() => run.child.exitCode !== null, 15_000, "the example to exit");
			return run.child.exitCode;
		} finally {
			run.child.kill("SIGTERM");
			await run.exited;
		}
	}

	it("exits non-zero on a failed login, printing the server's message", async () => {
		const run = runExample([ADMIN.email, shop.url], { SHOP_PASSWORD: "wrong-password" });
		expect(await ended(run)).toBe(1);
		expect(run.stderr).toContain("Login failed (401): Invalid email or password");
	});

	it("signs in with the password from SHOP_PASSWORD, never from its command line (which ps shows), and calls an action, with the base URL from BASE_URL", async () => {
		const run = runExample([ADMIN.email], { BASE_URL: shop.url, SHOP_PASSWORD: ADMIN.password });
		expect(await connected(run)).toEqual({ stdout: expect.stringContaining(`connected to ${shop.url} as ${ADMIN.email}\nproducts: 0`), stderr: "" });
	});

	it("asks for the password when SHOP_PASSWORD is unset, reading it from its input", async () => {
		const run = runExample([ADMIN.email, shop.url], {}, `${ADMIN.password}\n`);
		expect(await connected(run)).toEqual({ stdout: expect.stringContaining(`connected to ${shop.url} as ${ADMIN.email}\nproducts: 0`), stderr: "Password: " });
	});

	it("refuses a password given on the command line, saying how to give it", async () => {
		const run = runExample([ADMIN.email, ADMIN.password, shop.url]);
		expect(await ended(run)).toBe(1);
		expect(run.stderr).toContain("SHOP_PASSWORD");
		expect(run.stdout).toBe("");
	});
});
