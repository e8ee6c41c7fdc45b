import { spawn, type ChildProcess } from "child_process";
import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import { ServiceBroker } from "moleculer";
import { deleteNamespaceWithTransport } from "../../bin/lib/namespace-cleanup";
import { START_RABBITMQ, START_REDIS, freePort, reachable } from "../../bin/lib/processes";
import { brokerOptions } from "../../moleculer.config";
import { parseSettings } from "../../lib/infra/settings";
import { waitFor } from "./broker";
import type { HttpClient } from "./http";
import { testStoreEnv } from "./mongo";

export { freePort };

const ROOT = path.resolve(__dirname, "../..");
const RUNNER = path.join(ROOT, "dist/bin/runner.js");

export const AMQP_URL = process.env.TEST_AMQP_URL || "amqp://guest:guest@127.0.0.1:5672";
export const REDIS_URL = process.env.TEST_REDIS_URL || "redis://127.0.0.1:6379";

/** The first admin every test cluster's customers node creates. */
export const ADMIN = { email: "admin@shop.test", password: "admin-password" };
export const ADMIN_ENV = { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password };

export async function loginAdmin(http: HttpClient): Promise<string> {
	return (await http.post("/auth/login", ADMIN)).body.token;
}

/** How often a test asks for health: every request counts against the rate limit, and the gateway renews its report once a second. */
export const HEALTH_POLL_MS = 250;

/** Resolves once the gateway reports each of these services (health labels) running; `http` may give a client per request. */
export async function waitForRunning(http: HttpClient | (() => HttpClient), labels: string[], timeoutMs = 30_000): Promise<void> {
	await waitFor(
		async () => {
			const services = (await (typeof http === "function" ? http() : http).get("/health")).body?.services ?? {};
			return labels.every(label => services[label] === "running");
		},
		timeoutMs,
		`${labels.join(", ")} to be seen by the gateway`,
		HEALTH_POLL_MS,
	);
}

/** Fails (never skips) when the real RabbitMQ or Redis is not there. */
export async function requireInfrastructure(): Promise<void> {
	const [amqp, redis] = await Promise.all([reachable(AMQP_URL), reachable(REDIS_URL)]);
	const missing = [!amqp && `RabbitMQ on ${new URL(AMQP_URL).host} (start: ${START_RABBITMQ})`, !redis && `Redis on ${new URL(REDIS_URL).host} (start: ${START_REDIS})`].filter(Boolean);
	if (missing.length) throw new Error(`Integration tests need ${missing.join(" and ")}`);
	if (!fs.existsSync(RUNNER)) throw new Error("dist/ is missing: run `npm run build` (npm test does it)");
}

/**
 * A broker inside a test cluster's namespace, built from the project's own
 * config as a cluster node would be: it can ask each node directly
 * (`{ nodeID }` calls) and publish to the durable channels.
 */
export function observerBroker(namespace: string): ServiceBroker {
	const options = brokerOptions(parseSettings({ TRANSPORTER: AMQP_URL, NAMESPACE: namespace, NODE_ID: observerNodeId(namespace), LOG_LEVEL: "silent" }));
	return new ServiceBroker({ ...options, cacher: undefined, requestTimeout: 5000 });
}

function observerNodeId(namespace: string): string {
	return `${namespace}-observer-${process.pid}`;
}

export interface ShopNode {
	name: string;
	port?: number;
	dataDir: string;
	proc: ChildProcess;
	output: string[];
	/** SIGTERM, then wait for the exit. */
	stop(): Promise<void>;
	/** SIGKILL: the node dies without a word to the cluster. */
	kill(): Promise<void>;
}

/** A test cluster: its own namespace on the shared RabbitMQ and Redis, its own data dirs. */
export class TestCluster {
	readonly namespace = `t${process.pid}${crypto.randomBytes(3).toString("hex")}`;
	readonly jwtSecret = crypto.randomBytes(16).toString("hex");
	readonly nodes: ShopNode[] = [];
	private readonly baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-it-"));

	constructor(private readonly commonEnv: Record<string, string> = {}) {}

	/** The customers node, with the first admin. */
	startCustomers(): Promise<ShopNode> {
		return this.start("customers", "customers", ADMIN_ENV);
	}

	/** Start a node; a name used before restarts that node on its data (and port). */
	async start(name: string, services: string, env: Record<string, string> = {}): Promise<ShopNode> {
		const previous = this.nodes.find(n => n.name === name);
		const port = previous?.port ?? (services.split(",").includes("api") ? await freePort() : undefined);
		const dataDir = path.join(this.baseDir, name);
		const proc = spawn(process.execPath, [RUNNER], {
			cwd: ROOT,
			env: {
				PATH: process.env.PATH,
				SERVICES: services,
				NODE_ID: `${this.namespace}-${name}`,
				NAMESPACE: this.namespace,
				TRANSPORTER: AMQP_URL,
				CACHER: REDIS_URL,
				JWT_SECRET: this.jwtSecret,
				DATA_DIR: dataDir,
				LOG_LEVEL: "info",
				BCRYPT_ROUNDS: "4",
				...(port ? { PORT: String(port) } : {}),
				...testStoreEnv(dataDir),
				...this.commonEnv,
				...env,
			},
			stdio: ["ignore", "pipe", "pipe"],
		});
		const output: string[] = [];
		const exited = new Promise<void>(resolve => proc.once("exit", () => resolve()));
		const node: ShopNode = {
			name,
			port,
			dataDir,
			proc,
			output,
			stop: async () => {
				if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
				await exited;
			},
			kill: async () => {
				if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
				await exited;
			},
		};
		if (previous) this.nodes.splice(this.nodes.indexOf(previous), 1);
		this.nodes.push(node);
		await new Promise<void>((resolve, reject) => {
			const onData = (chunk: Buffer) => {
				output.push(chunk.toString());
				if (/started successfully/.test(chunk.toString())) resolve();
			};
			proc.stdout.on("data", onData);
			proc.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString()));
			proc.once("exit", code => reject(new Error(`${name} exited (${code}) before starting:\n${output.join("")}`)));
			setTimeout(() => reject(new Error(`${name} did not start in 30 s:\n${output.join("")}`)), 30_000).unref();
		});
		return node;
	}

	/**
	 * Waits until every node knows every other one. Nodes that start together
	 * can learn of each other late (a missed INFO is made up at the next
	 * heartbeat), and an event emitted by a node that does not know its
	 * listeners yet goes nowhere.
	 */
	async waitForMesh(observer: ServiceBroker, timeoutMs = 20_000): Promise<void> {
		const ids = this.nodes.map(n => `${this.namespace}-${n.name}`);
		const deadline = Date.now() + timeoutMs;
		for (const id of ids) {
			for (;;) {
				const list = await observer.call<Array<{ id: string; available: boolean }>, object>("$node.list", {}, { nodeID: id }).catch(() => []);
				const seen = new Set(list.filter(n => n.available).map(n => n.id));
				if (ids.every(other => seen.has(other))) break;
				if (Date.now() > deadline) throw new Error(`${id} does not see ${ids.filter(o => !seen.has(o)).join(", ")}`);
				await new Promise(r => setTimeout(r, 100));
			}
		}
	}

	/** waitForMesh through an observer of its own, for a test that needs no observer after. */
	async waitForMeshAlone(timeoutMs?: number): Promise<void> {
		const observer = observerBroker(this.namespace);
		await observer.start();
		try {
			await this.waitForMesh(observer, timeoutMs);
		} finally {
			await observer.stop();
		}
	}

	async stopAll(): Promise<void> {
		await Promise.all(this.nodes.map(n => n.stop()));
		await deleteNamespaceWithTransport(this.namespace, AMQP_URL, REDIS_URL, [...this.nodes.map(n => `${this.namespace}-${n.name}`), observerNodeId(this.namespace)]);
		fs.rmSync(this.baseDir, { recursive: true, force: true });
	}
}
