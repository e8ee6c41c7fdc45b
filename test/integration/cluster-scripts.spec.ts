import { execFileSync, spawn, type ChildProcess } from "child_process";
import crypto from "crypto";
import fs from "fs";
import http from "http";
import os from "os";
import path from "path";
import amqplib from "amqplib";
import Redis from "ioredis";
import { deleteNamespace } from "../../bin/lib/namespace-cleanup";
import { BACKEND_SERVICES } from "../../lib/contracts/services";
import { namespacePrefix } from "../../lib/infra/redis";
import { isAlive, processStartTime, stopProcesses } from "../../bin/lib/processes";
import { AMQP_URL, REDIS_URL, freePort, requireInfrastructure } from "../helpers/cluster";
import { waitFor } from "../helpers/broker";
import { HttpClient } from "../helpers/http";
import { connectSocket } from "../helpers/socket";

const ROOT = path.resolve(__dirname, "../..");

interface PidFile {
	gateways: string[];
	nodes: Array<{ name: string; nodeId: string; pid: number; startTime?: string; log: string }>;
}

/** `npm run <script>` in the project, with the test's variables; resolves with its exit code and output. */
function npmRun(script: string, env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; output: string }> {
	const child = spawn("npm", ["run", "--silent", script, ...args], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ["ignore", "pipe", "pipe"] });
	let output = "";
	child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
	child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
	return new Promise(resolve => child.once("exit", code => resolve({ code, output })));
}

/** A GET's status over a kept-alive agent, 0 when the connection failed. */
function getStatus(agent: http.Agent, url: string, token: string): Promise<number> {
	return new Promise(resolve => {
		const req = http.get(url, { agent, headers: { authorization: `Bearer ${token}` } }, res => {
			res.resume();
			res.once("end", () => resolve(res.statusCode ?? 0));
		});
		req.once("error", () => setTimeout(() => resolve(0), 20));
	});
}

/** The names of RabbitMQ's queues and exchanges that belong to the namespace. */
function brokerObjects(namespace: string): string[] {
	return (["queues", "exchanges"] as const).flatMap(kind =>
		execFileSync("rabbitmqctl", ["--quiet", "--no-table-headers", `list_${kind}`, "name"], { encoding: "utf8" })
			.split("\n")
			.filter(name => name.includes(namespace))
			.map(name => `${kind}: ${name}`),
	);
}

async function redisKeys(namespace: string): Promise<string[]> {
	const redis = new Redis(REDIS_URL);
	try {
		const keys: string[] = [];
		for await (const batch of redis.scanStream({ match: `*${namespace}*`, count: 1000 })) keys.push(...(batch as string[]));
		return keys;
	} finally {
		redis.disconnect();
	}
}

/** Whether RabbitMQ has this queue or exchange (a failed check closes its channel: one each). */
async function brokerHas(kind: "queue" | "exchange", name: string): Promise<boolean> {
	const connection = await amqplib.connect(AMQP_URL);
	try {
		const channel = await connection.createChannel();
		const found = await (kind === "queue" ? channel.checkQueue(name) : channel.checkExchange(name)).then(
			() => true,
			() => false,
		);
		await channel.close().catch(() => undefined);
		return found;
	} finally {
		await connection.close();
	}
}

describe("npm run cluster, cluster:stop, cluster:clean", () => {
	const namespace = `cs${process.pid}${crypto.randomBytes(3).toString("hex")}`;
	/**
	 * What neighbouring namespaces own, with names that start like this one's:
	 * the queue of a consumer group named like it in another namespace (with a
	 * message waiting), an exchange of a namespace it is the start of, the
	 * cache keys of such a namespace.
	 */
	const decoys = {
		queue: `${namespace}.victim.orders.status`,
		exchange: `${namespace}.status`,
		keys: [`MOL-${namespace}-cluster-products.get:x`, `${namespacePrefix(`${namespace}-cluster`)}cache:v:products.get:x`, `${namespacePrefix(`${namespace}x`)}ratelimit:1:x`],
	};
	const isDecoy = (name: string) => name === `queues: ${decoys.queue}` || name === `exchanges: ${decoys.exchange}` || decoys.keys.includes(name);
	const base = fs.mkdtempSync(path.join(os.tmpdir(), "shop-cluster-scripts-"));
	const dataDir = path.join(base, "data", namespace);
	const env: Record<string, string> = {
		NAMESPACE: namespace,
		CLUSTER_DIR: path.join(base, "data"),
		CLUSTER_LOG_DIR: path.join(base, "logs"),
		TRANSPORTER: AMQP_URL,
		CACHER: REDIS_URL,
		BCRYPT_ROUNDS: "4",
		LOG_LEVEL: "info",
	};
	/** A process of this test that no script may end, whatever a pid file says. */
	let bystander: ChildProcess;
	const pidFile = () => JSON.parse(fs.readFileSync(path.join(dataDir, "pids.json"), "utf8")) as PidFile;

	beforeAll(async () => {
		await requireInfrastructure();
		env.PORT = String(await freePort());
		env.PORT2 = String(await freePort());
		bystander = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
		const connection = await amqplib.connect(AMQP_URL);
		try {
			const channel = await connection.createConfirmChannel();
			await channel.assertQueue(decoys.queue, { durable: true });
			await channel.assertExchange(decoys.exchange, "fanout", { durable: true });
			channel.sendToQueue(decoys.queue, Buffer.from("{}"), { persistent: true });
			await channel.waitForConfirms();
			await channel.close();
		} finally {
			await connection.close();
		}
		const redis = new Redis(REDIS_URL);
		for (const key of decoys.keys) await redis.set(key, "decoy", "EX", 600);
		redis.disconnect();
	});

	afterAll(async () => {
		// Whatever a failed step left: the nodes of the pid file, the namespace, the folders.
		if (fs.existsSync(path.join(dataDir, "pids.json"))) await stopProcesses(pidFile().nodes);
		bystander.kill("SIGKILL");
		await deleteNamespace(namespace, AMQP_URL, REDIS_URL);
		const connection = await amqplib.connect(AMQP_URL);
		const channel = await connection.createChannel();
		await channel.deleteQueue(decoys.queue);
		await channel.deleteExchange(decoys.exchange);
		await connection.close();
		const redis = new Redis(REDIS_URL);
		await redis.del(...decoys.keys);
		redis.disconnect();
		fs.rmSync(base, { recursive: true, force: true });
	});

	it("starts every service in its own process and two gateways, both healthy, and says where; with no ADMIN_*, its admin has a generated password kept beside the data (0600)", async () => {
		const { code, output } = await npmRun("cluster", env);
		expect({ code, output }).toMatchObject({ code: 0 });
		// One node per service, and two gateways.
		expect(output).toContain(`Cluster "${namespace}" is up: ${BACKEND_SERVICES.length + 2} nodes`);
		expect(output).toContain(`http://localhost:${env.PORT}/api`);
		expect(output).toContain(`http://localhost:${env.PORT2}/api`);

		const file = pidFile();
		expect(file.nodes.map(n => n.name).sort()).toEqual(["alerts", "analytics", "api-1", "api-2", "carts", "customers", "notifications", "orders", "payments", "products"]);
		expect(new Set(file.nodes.map(n => n.pid)).size).toBe(file.nodes.length);
		for (const node of file.nodes) {
			expect(isAlive(node.pid, node.startTime)).toBe(true);
			expect(fs.readFileSync(node.log, "utf8")).toMatch(/started successfully/);
		}
		const [one, two] = [env.PORT, env.PORT2].map(port => new HttpClient(`http://127.0.0.1:${port}/api`));
		expect((await one.get("/health")).status).toBe(200);
		expect((await two.get("/health")).status).toBe(200);
		// One JWT secret for the cluster, made once and kept: a token from one gateway works on the other.
		expect(fs.readFileSync(path.join(dataDir, "jwt-secret"), "utf8")).toMatch(/^[0-9a-f]{64}$/);
		const adminFile = path.join(dataDir, "generated-admin.json");
		expect(fs.statSync(adminFile).mode & 0o777).toBe(0o600);
		const admin = JSON.parse(fs.readFileSync(adminFile, "utf8"));
		expect(admin).toEqual({ email: "admin@shop.localhost", password: expect.stringMatching(/^[A-Za-z0-9_-]{24,}$/) });
		expect(output).toContain(adminFile);
		expect(output).not.toContain(admin.password);
		const token = (await one.post("/auth/login", admin)).body.token;
		expect(token).toEqual(expect.any(String));
		// Each gateway learns of the other from its INFO packet, which may come just after both are healthy.
		const clusterSeenByTwo = async () => JSON.stringify((await two.get("/cluster", token)).body);
		await waitFor(async () => (await clusterSeenByTwo()).includes(`${namespace}-api-1`), 20_000, "gateway 2 to list gateway 1").catch(async err => {
			throw new Error(`${(err as Error).message}: ${await clusterSeenByTwo()}`);
		});
	});

	it("is seeded by npm run seed with no address and no admin given: it finds the cluster's first gateway and generated admin", async () => {
		const { code, output } = await npmRun("seed", { ...env, DATA_DIR: path.join(base, "seed-data-dir") });
		expect({ code, output }).toMatchObject({ code: 0 });
		expect(output).toContain(`Seeding the cluster "${namespace}" through its gateway http://127.0.0.1:${env.PORT}`);
		expect(output).toMatch(/products: +\d+ created/);
	});

	it("cluster:restart products restarts that node alone, under the same node id, and the shop answers from it again", async () => {
		const before = pidFile().nodes;
		const products = before.find(n => n.name === "products")!;
		const { code, output } = await npmRun("cluster:restart", env, ["products"]);
		expect({ code, output }).toMatchObject({ code: 0 });
		expect(output).toContain(`Restarted products of the cluster "${namespace}" as ${namespace}-products`);

		const after = pidFile().nodes;
		const restarted = after.find(n => n.name === "products")!;
		expect(isAlive(products.pid, products.startTime)).toBe(false);
		expect(isAlive(restarted.pid, restarted.startTime)).toBe(true);
		expect(restarted).toMatchObject({ name: "products", nodeId: `${namespace}-products`, log: products.log });
		// The others are the very processes they were.
		for (const node of before.filter(n => n.name !== "products")) {
			expect(after.find(n => n.name === node.name)).toEqual(node);
			expect(isAlive(node.pid, node.startTime)).toBe(true);
		}
		expect(fs.readFileSync(products.log, "utf8").match(/started successfully/g)?.length).toBe(2);

		const one = new HttpClient(`http://127.0.0.1:${env.PORT}/api`);
		const list = await one.get("/products");
		expect(list.status).toBe(200);
		expect(list.body.rows.length).toBeGreaterThan(0);
		const admin = JSON.parse(fs.readFileSync(path.join(dataDir, "generated-admin.json"), "utf8"));
		const token = (await one.post("/auth/login", admin)).body.token;
		const nodes = (await one.get("/cluster", token)).body.nodes as Array<{ id: string; services: string[] }>;
		expect(nodes.filter(n => n.services.includes("products")).map(n => n.id)).toEqual([`${namespace}-products`]);
	});

	it("cluster:restart names the nodes it knows when given another name, and changes nothing", async () => {
		const before = pidFile().nodes;
		const { code, output } = await npmRun("cluster:restart", env, ["product"]);
		expect(code).toBe(1);
		expect(output).toContain('No node or service "product" in the cluster');
		expect(output).toContain(`its nodes: ${before.map(n => n.name).join(", ")} (api: both gateways, one after the other)`);
		expect(pidFile().nodes).toEqual(before);
	});

	it("refuses to start the namespace again while it runs", async () => {
		const run = spawn(process.execPath, [path.join(ROOT, "dist/bin/cluster.js"), "start"], { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
		let output = "";
		run.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
		expect(await new Promise(resolve => run.once("exit", resolve))).toBe(1);
		expect(output).toContain(`The cluster "${namespace}" is running`);
	});

	it("cluster:stop ends exactly the processes it started", async () => {
		const nodes = pidFile().nodes;
		// A pid file entry whose process is another one now (pid reuse) is left alone.
		fs.writeFileSync(path.join(dataDir, "pids.json"), JSON.stringify({ ...pidFile(), nodes: [...nodes, { name: "reused", pid: bystander.pid, startTime: "1", log: "" }] }));
		expect(processStartTime(bystander.pid!)).not.toBe("1");

		// What an open operations page does: a signed-in socket, and requests over kept-alive connections all through the stop.
		const admin = JSON.parse(fs.readFileSync(path.join(dataDir, "generated-admin.json"), "utf8"));
		const gateway = `http://127.0.0.1:${env.PORT}`;
		const token = (await new HttpClient(`${gateway}/api`).post("/auth/login", admin)).body.token;
		const socket = await connectSocket(gateway, token);
		const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
		const statuses: number[] = [];
		let polling = true;
		const poll = async (route: string) => {
			while (polling) statuses.push(await getStatus(agent, `${gateway}/api${route}`, token));
		};
		const pollers = [poll("/health"), poll("/cluster"), poll("/products"), poll("/health")];
		await waitFor(async () => statuses.includes(200), 10_000, "the pollers to be answered");

		const { code, output } = await npmRun("cluster:stop", env).finally(() => (polling = false));
		await Promise.all(pollers);
		socket.close();
		agent.destroy();
		expect({ code, output }).toMatchObject({ code: 0 });
		expect(output).toContain(`Stopped the cluster "${namespace}"`);
		expect(output).not.toContain("needed SIGKILL");
		for (const node of nodes) expect(isAlive(node.pid, node.startTime)).toBe(false);
		expect(isAlive(bystander.pid!)).toBe(true);
		// Each node stopped gracefully: nothing it had open outlived the stop's wait.
		for (const node of nodes)
			expect({ node: node.name, stopErrors: fs.readFileSync(node.log, "utf8").match(/.*(GracefulStopTimeout|needed SIGKILL).*/g) }).toEqual({ node: node.name, stopErrors: null });
		expect(fs.existsSync(path.join(dataDir, "pids.json"))).toBe(false);
		// The data stays for the next start.
		expect(fs.existsSync(path.join(dataDir, "customers"))).toBe(true);
	});

	it("cluster:clean leaves no queue, exchange or Redis key of the namespace, nor its data and logs", async () => {
		expect(brokerObjects(namespace).length).toBeGreaterThan(0);
		expect((await redisKeys(namespace)).length).toBeGreaterThan(0);
		const { code, output } = await npmRun("cluster:clean", env);
		expect({ code, output }).toMatchObject({ code: 0 });
		expect(brokerObjects(namespace).filter(name => !isDecoy(name))).toEqual([]);
		expect((await redisKeys(namespace)).filter(key => !isDecoy(key))).toEqual([]);
		expect(fs.existsSync(dataDir)).toBe(false);
		expect(fs.existsSync(path.join(base, "logs", namespace))).toBe(false);
	});

	it("cluster:clean left what neighbouring namespaces own: their queue with its message, their exchange, their keys", async () => {
		expect(await brokerHas("queue", decoys.queue)).toBe(true);
		expect(await brokerHas("exchange", decoys.exchange)).toBe(true);
		const connection = await amqplib.connect(AMQP_URL);
		try {
			const channel = await connection.createChannel();
			expect((await channel.checkQueue(decoys.queue)).messageCount).toBe(1);
			await channel.close();
		} finally {
			await connection.close();
		}
		const redis = new Redis(REDIS_URL);
		try {
			expect(await redis.exists(...decoys.keys)).toBe(decoys.keys.length);
		} finally {
			redis.disconnect();
		}
	});
});
