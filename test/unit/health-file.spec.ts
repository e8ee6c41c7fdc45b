import fs from "fs";
import os from "os";
import path from "path";
import { ServiceBroker } from "moleculer";
import { HEALTH_REPORT_MAX_AGE_MS, reportProblems, type HealthReport } from "../../lib/contracts/health-report";
import { HealthFileMiddleware } from "../../middlewares/health-file";
import { waitFor } from "../helpers/broker";

describe("the health report a container's HEALTHCHECK reads (HEALTH_FILE)", () => {
	let dir: string;
	beforeEach(() => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), "health-file-"));
	});
	afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

	const read = (file: string): HealthReport | undefined => (fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as HealthReport) : undefined);

	it("is written once the node has started, with each local service's own health, says when one fails, and goes when the node stops", async () => {
		const file = path.join(dir, "health.json");
		// Left by an earlier run of the container: it says nothing about this one.
		fs.writeFileSync(file, JSON.stringify({ at: Date.now(), services: {}, dependencies: { transporter: "none", cache: "none" } }));
		let storeAway = false;
		const broker = new ServiceBroker({ logger: false, middlewares: [HealthFileMiddleware(file, 20)] });
		expect(fs.existsSync(file)).toBe(false);
		broker.createService({
			name: "products",
			actions: {
				health() {
					if (storeAway) throw new Error("the store does not answer");
					return { status: "ok" };
				},
			},
		});
		// The gateway's health asks the whole cluster: not this node's to report.
		broker.createService({
			name: "api",
			actions: {
				health() {
					throw new Error("not called");
				},
			},
		});
		broker.createService({ name: "plain" });

		try {
			await broker.start();
			const report = await waitFor(() => read(file), 10_000, "the first report");
			expect(report).toMatchObject({ nodeID: broker.nodeID, pid: process.pid, services: { products: "ok" }, dependencies: { transporter: "none", cache: "none" } });
			expect(Object.keys(report.services)).toEqual(["products"]);
			expect(reportProblems(report, report.at)).toEqual([]);

			storeAway = true;
			const failing = await waitFor(() => (read(file)?.services.products !== "ok" ? read(file) : undefined), 10_000, "a report of the failing store");
			expect(reportProblems(failing, failing.at)).toEqual(["products.health failed: the store does not answer"]);
		} finally {
			await broker.stop();
		}
		expect(fs.existsSync(file)).toBe(false);
	});

	it("never writes through a file placed beside it: a symlink at a temporary file's name leaves its target as it was", async () => {
		const file = path.join(dir, "health.json");
		const victim = path.join(dir, "victim.txt");
		fs.writeFileSync(victim, "untouched");
		// The name the report used to be written to first, predictable from the pid.
		fs.symlinkSync(victim, `${file}.${process.pid}.tmp`);
		const broker = new ServiceBroker({ logger: false, middlewares: [HealthFileMiddleware(file, 20)] });
		broker.createService({ name: "products", actions: { health: () => ({ status: "ok" }) } });
		try {
			await broker.start();
			await waitFor(() => read(file), 10_000, "the first report");
			// Several reports, each through its own temporary file.
			const first = read(file)!.at;
			await waitFor(() => (read(file)!.at > first ? true : undefined), 10_000, "a second report");
		} finally {
			await broker.stop();
		}
		expect(fs.readFileSync(victim, "utf8")).toBe("untouched");
		expect(fs.readdirSync(dir).sort()).toEqual([path.basename(`${file}.${process.pid}.tmp`), "victim.txt"]);
	});

	it("judges a report: stale or with a disconnected transporter is unhealthy; Redis away only degrades", () => {
		const report: HealthReport = { at: 1_000_000, nodeID: "n", pid: 1, services: { orders: "ok" }, dependencies: { transporter: "up", cache: "down" } };
		expect(reportProblems(report, report.at + HEALTH_REPORT_MAX_AGE_MS)).toEqual([]);
		expect(reportProblems(report, report.at + HEALTH_REPORT_MAX_AGE_MS + 10_000)).toEqual([expect.stringMatching(/^its last health report is 40 s old/)]);
		expect(reportProblems({ ...report, dependencies: { transporter: "down", cache: "up" } }, report.at)).toEqual(["the transporter is disconnected"]);
	});
});
