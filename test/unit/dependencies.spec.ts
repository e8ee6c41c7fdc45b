import { spawn } from "child_process";
import fs from "fs";
import path from "path";
import { ServiceBroker } from "moleculer";
import { onceAvailable } from "../../lib/infra/dependencies";
import { waitFor } from "../helpers/broker";

const ROOT = path.resolve(__dirname, "../..");
const GUARD_MS = 30_000;

/** A node holding orders and payments, whose products never come: started, stopped, and then the process is left to end on its own. */
const LONELY_NODE = `
const { ServiceBroker } = require("moleculer");
const broker = new ServiceBroker({ logger: false });
broker.createService(require("./dist/services/orders.service").default);
broker.createService(require("./dist/services/payments.service").default);
broker.start().then(() => broker.stop()).then(() => console.log("stopped"));
`;

describe("waiting for a service that never comes", () => {
	it("a node stopped while its orders wait for products ends by itself", async () => {
		expect(fs.existsSync(path.join(ROOT, "dist/services/orders.service.js"))).toBe(true);
		const proc = spawn(process.execPath, ["-e", LONELY_NODE], {
			cwd: ROOT,
			env: { PATH: process.env.PATH, DATA_DIR: ":memory:", JWT_SECRET: "unit-test-secret", BCRYPT_ROUNDS: "4" },
			stdio: ["ignore", "pipe", "pipe"],
		});
		let output = "";
		proc.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
		proc.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
		const guard = setTimeout(() => proc.kill("SIGKILL"), GUARD_MS);
		const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve => proc.once("exit", (code, signal) => resolve({ code, signal })));
		clearTimeout(guard);
		expect(output).toContain("stopped");
		expect(ended).toEqual({ code: 0, signal: null });
	});

	it("runs its work once the services appear, and never after its caller is gone", async () => {
		const broker = new ServiceBroker({ logger: false });
		await broker.start();
		const ran: string[] = [];
		let gone = false;
		onceAvailable(
			broker,
			["late"],
			() => false,
			() => ran.push("late"),
			10,
		);
		onceAvailable(
			broker,
			["late"],
			() => gone,
			() => ran.push("after stop"),
			10,
		);
		gone = true;
		broker.createService({ name: "late" });
		await waitFor(() => ran.includes("late"), 10_000, "the late service's work");
		await broker.stop();
		expect(ran).toEqual(["late"]);
	});
});
