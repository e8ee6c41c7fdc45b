import { spawn } from "child_process";
import path from "path";
import { waitFor } from "../helpers/broker";
import { startInProcessShop } from "../helpers/gateway";

const EXAMPLE = path.resolve(__dirname, "../../examples/socket-client.js");
const ADMIN = { email: "admin@shop.test", password: "admin-password" };

/** `node examples/socket-client.js <args>`, as the README runs it. */
function runExample(args: string[], env: Record<string, string> = {}) {
	const child = spawn(process.execPath, [EXAMPLE, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
	const run = { child, stdout: "", stderr: "", exited: new Promise<number | null>(resolve => child.once("exit", code => resolve(code))) };
	child.stdout.on("data", (chunk: Buffer) => (run.stdout += chunk.toString()));
	child.stderr.on("data", (chunk: Buffer) => (run.stderr += chunk.toString()));
	return run;
}

describe("examples/socket-client.js", () => {
	let shop: Awaited<ReturnType<typeof startInProcessShop>>;

	beforeAll(async () => {
		shop = await startInProcessShop(["api", "customers", "products", "orders", "alerts", "analytics"], { admin: ADMIN });
	});
	afterAll(() => shop.stop());

	it("exits non-zero on a failed login, printing the server's message", async () => {
		const run = runExample([ADMIN.email, "wrong-password", shop.url]);
		expect(await run.exited).toBe(1);
		expect(run.stderr).toContain("Login failed (401): Invalid email or password");
	});

	it("signs in, connects and calls an action, with the base URL from BASE_URL", async () => {
		const run = runExample([ADMIN.email, ADMIN.password], { BASE_URL: shop.url });
		try {
			await waitFor(() => /products: \d+/.test(run.stdout) || run.child.exitCode !== null, 15_000, "the example to connect and call products.list");
			expect({ stdout: run.stdout, stderr: run.stderr }).toEqual({ stdout: expect.stringContaining(`connected to ${shop.url} as ${ADMIN.email}\nproducts: 0`), stderr: "" });
		} finally {
			run.child.kill("SIGTERM");
			await run.exited;
		}
	});
});
