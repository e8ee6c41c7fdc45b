/**
 * Everything the benchmark can be told through the environment, read once.
 * The defaults keep a whole `npm run bench` under 10 minutes on a 2-core
 * machine with the local RabbitMQ and Redis.
 */
import path from "path";

const env = process.env;

function num(name: string, fallback: number): number {
	const raw = env[name];
	if (raw === undefined || raw === "") return fallback;
	const value = Number(raw);
	if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, not ${JSON.stringify(raw)}`);
	return value;
}

function list(name: string, fallback: number[]): number[] {
	const raw = env[name];
	if (!raw) return fallback;
	return raw.split(",").map(s => {
		const value = Number(s.trim());
		if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a comma-separated list of order counts, not ${JSON.stringify(raw)}`);
		return value;
	});
}

/** The compiled file is dist/bench/config.js: the repository is two levels up. */
export const ROOT = path.resolve(__dirname, "../..");
export const RUNNER = path.join(ROOT, "dist/bin/runner.js");
export const BASELINES = path.join(ROOT, "bench/baselines");

export const AMQP_URL = env.BENCH_AMQP_URL || "amqp://guest:guest@127.0.0.1:5672";
export const REDIS_URL = env.BENCH_REDIS_URL || "redis://127.0.0.1:6379";

export const settings = {
	/** Seconds of load per measured run. */
	duration: num("BENCH_DURATION", 5),
	/** Seconds of the same load before a system's first measured run (JIT, caches, connections). */
	warmup: num("BENCH_WARMUP", 2),
	/** Interleaved rounds (A B A B ...); at least 3 for a meaningful median. */
	rounds: Math.max(1, Math.round(num("BENCH_ROUNDS", 3))),
	/** autocannon connections for P1 and P2. */
	connections: Math.max(1, Math.round(num("BENCH_CONNECTIONS", 50))),
	/** P1 sends a signed-in customer's bearer token (to every system alike; the baselines ignore it): the cost of checking a token on a read. */
	readToken: env.BENCH_READ_TOKEN === "1",
	/** P2: customers placing the load's orders, products they order from. */
	buyers: Math.max(1, Math.round(num("BENCH_BUYERS", 200))),
	products: Math.max(2, Math.round(num("BENCH_PRODUCTS", 20))),
	/** P3: customers with a connected socket, and the orders per second they place together. */
	probeCustomers: Math.max(1, Math.round(num("BENCH_PROBE_CUSTOMERS", 5))),
	probeRate: num("BENCH_PROBE_RATE", 20),
	/** P3: how long to wait for a late `order.updated` after a run before counting it lost (ms). */
	probeGraceMs: num("BENCH_PROBE_GRACE_MS", 3000),
	/** Growth: order counts at which the node is measured, and its catalog and customers. */
	growthLevels: list("BENCH_GROWTH_LEVELS", [0, 10_000, 50_000]),
	growthProducts: Math.max(1, Math.round(num("BENCH_GROWTH_PRODUCTS", 300))),
	growthCustomers: Math.max(1, Math.round(num("BENCH_GROWTH_CUSTOMERS", 200))),
	/** Growth: requests per page figure (the median is printed). */
	pageSamples: Math.max(1, Math.round(num("BENCH_PAGE_SAMPLES", 5))),
	/** Where the table is appended; `-` prints it only. */
	resultsFile: env.BENCH_RESULTS === "-" ? null : env.BENCH_RESULTS || path.join(ROOT, "bench/RESULTS.md"),
	/** A folder: every node of the shop runs with `--cpu-prof` and writes its profile there when it stops (bench/PROFILES.md). */
	cpuProfDir: env.BENCH_CPU_PROF ? path.resolve(env.BENCH_CPU_PROF) : null,
};

/** Environment of every node under test: no rate limit in the way, a fixed secret, a cheap bcrypt, an admin. */
export const ADMIN = { email: "admin@bench.test", password: "admin-password" };
export const NODE_ENV = {
	RATE_LIMIT_MAX: "1000000000",
	JWT_SECRET: "bench-secret-bench-secret-bench-secret",
	ADMIN_EMAIL: ADMIN.email,
	ADMIN_PASSWORD: ADMIN.password,
	BCRYPT_ROUNDS: "4",
	LOG_LEVEL: env.BENCH_LOG_LEVEL || "warn",
};
