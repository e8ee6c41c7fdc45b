import { spawn, spawnSync } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import type { HealthReport } from "../../lib/contracts/health-report";
import { waitFor } from "../helpers/broker";
import { freePort } from "../helpers/cluster";

/** bin/healthcheck.ts, as the image's HEALTHCHECK runs it, against health reports and running nodes. */

const ROOT = path.resolve(__dirname, "../..");
const HEALTHCHECK = path.join(ROOT, "dist/bin/healthcheck.js");
const RUNNER = path.join(ROOT, "dist/bin/runner.js");
const BASE_ENV = { PATH: process.env.PATH, JWT_SECRET: "healthcheck-test-secret-0123456789", BCRYPT_ROUNDS: "4", DATA_DIR: ":memory:" };

function healthcheck(env: Record<string, string>): { code: number | null; output: string } {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "healthcheck-cwd-"));
	try {
		// In a directory without .env, with only the variables given: as in the container.
		const res = spawnSync(process.execPath, [HEALTHCHECK], { cwd: dir, env: { ...BASE_ENV, ...env }, encoding: "utf8" });
		return { code: res.status, output: `${res.stdout}${res.stderr}` };
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
}

describe("bin/healthcheck: the image's HEALTHCHECK", () => {
	let dir: string;
	let file: string;
	beforeAll(() => {
		if (!fs.existsSync(HEALTHCHECK)) throw new Error("dist/ is missing: run `npm run build` (npm test does it)");
	});
	beforeEach(() => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), "healthcheck-"));
		file = path.join(dir, "health.json");
	});
	afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

	const write = (report: Partial<HealthReport>) =>
		fs.writeFileSync(file, JSON.stringify({ at: Date.now(), nodeID: "n", pid: 1, services: { products: "ok" }, dependencies: { transporter: "up", cache: "up" }, ...report }));

	it("passes a fresh report of a healthy node, and fails one that is stale, failing, disconnected, missing or not configured", () => {
		write({});
		expect(healthcheck({ SERVICES: "products", HEALTH_FILE: file })).toEqual({ code: 0, output: "healthy\n" });

		write({ at: Date.now() - 10 * 60_000 });
		expect(healthcheck({ SERVICES: "products", HEALTH_FILE: file })).toEqual({ code: 1, output: expect.stringMatching(/^unhealthy: its last health report is \d+ s old/) });

		write({ services: { products: "Request timed out" } });
		expect(healthcheck({ SERVICES: "products", HEALTH_FILE: file })).toEqual({ code: 1, output: "unhealthy: products.health failed: Request timed out\n" });

		write({ dependencies: { transporter: "down", cache: "up" } });
		expect(healthcheck({ SERVICES: "products", HEALTH_FILE: file })).toEqual({ code: 1, output: "unhealthy: the transporter is disconnected\n" });

		fs.rmSync(file);
		expect(healthcheck({ SERVICES: "products", HEALTH_FILE: file })).toEqual({
			code: 1,
			output: expect.stringMatching(/^unhealthy: no health report at .*: the node has not started, or is stopping/),
		});

		expect(healthcheck({ SERVICES: "products" })).toEqual({ code: 1, output: expect.stringMatching(/^unhealthy: HEALTH_FILE is not set/) });
	});

	it("fails a gateway node whose port does not answer, however good its report", async () => {
		write({ services: {} });
		const port = await freePort();
		expect(healthcheck({ SERVICES: "api", PORT: String(port), HEALTH_FILE: file })).toEqual({
			code: 1,
			output: expect.stringMatching(new RegExp(`^unhealthy: http://127\\.0\\.0\\.1:${port}/api/health does not answer`)),
		});
	});

	async function withNode(env: Record<string, string>, body: (nodeEnv: Record<string, string>) => Promise<void>): Promise<void> {
		const nodeEnv = { PORT: String(await freePort()), HEALTH_FILE: file, ...env };
		const proc = spawn(process.execPath, [RUNNER], { cwd: ROOT, env: { ...BASE_ENV, ...nodeEnv }, stdio: ["ignore", "pipe", "pipe"] });
		const output: string[] = [];
		proc.stdout.on("data", (c: Buffer) => output.push(c.toString()));
		proc.stderr.on("data", (c: Buffer) => output.push(c.toString()));
		const exited = new Promise<number | null>(resolve => proc.once("exit", code => resolve(code)));
		try {
			await waitFor(() => fs.existsSync(file) || proc.exitCode !== null, 30_000, "the node's first health report");
			if (proc.exitCode !== null) throw new Error(`The node exited:\n${output.join("")}`);
			await body(nodeEnv);
		} finally {
			if (proc.exitCode === null) proc.kill("SIGTERM");
			expect(await exited).toBe(0);
		}
		// A stopped node leaves no report behind.
		expect(healthcheck(nodeEnv)).toEqual({ code: 1, output: expect.stringMatching(/no health report/) });
	}

	it("passes a running node (every service, its gateway answering) and fails it once stopped", async () => {
		await withNode({}, async env => {
			expect(healthcheck(env)).toEqual({ code: 0, output: "healthy\n" });
		});
	}, 60_000);

	it("passes a gateway that answers while the rest of the cluster is away, saying the cluster is degraded", async () => {
		await withNode({ SERVICES: "api" }, async env => {
			expect(healthcheck(env)).toEqual({ code: 0, output: expect.stringMatching(/^healthy; the gateway answers; the cluster is degraded: .*"product-service":"down"/) });
		});
	}, 60_000);
});
