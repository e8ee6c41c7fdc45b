import { execFileSync, spawn } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import jwt from "jsonwebtoken";
import { Tokens } from "../../lib/infra/auth";
import { readAdminFile } from "../../lib/infra/generated-admin";
import { ENV_VARIABLES, parseSettings, SECRET_VARIABLES, SettingsError } from "../../lib/infra/settings";

describe("settings: the environment, parsed once", () => {
	it("gives the embedded default when nothing is set", () => {
		const s = parseSettings({});
		expect(s).toMatchObject({
			services: ["api", "customers", "products", "orders", "alerts", "analytics", "payments", "carts", "notifications"],
			transporter: undefined,
			cacher: undefined,
			storage: { dataDir: "./data", mongoUri: undefined },
			gateway: { port: 5000, host: "127.0.0.1", trustProxyHops: 0, rateLimit: { max: 300, windowMs: 60_000 }, redisUrl: undefined },
			settlement: { pendingTimeoutMs: 10_000, recoveryIntervalMs: 5_000 },
			logLevel: "info",
			logFormat: "short",
		});
		expect(s.auth.jwtSecretGenerated).toBe(true);
		expect(s.auth.jwtSecret).toHaveLength(64);
		expect(s.nodeId).toMatch(/-all-\d+$/);
	});

	it("listens on this machine only unless HOST says otherwise", () => {
		expect(parseSettings({}).gateway.host).toBe("127.0.0.1");
		expect(parseSettings({ HOST: "0.0.0.0" }).gateway.host).toBe("0.0.0.0");
	});

	it("has the embedded default make an admin with a generated password, kept in DATA_DIR, only when no ADMIN_* are given", () => {
		expect(parseSettings({}).admin).toMatchObject({ email: undefined, password: undefined, generatedFile: "data/generated-admin.json" });
		expect(parseSettings({ DATA_DIR: "/srv/shop" }).admin.generatedFile).toBe("/srv/shop/generated-admin.json");
		for (const env of [
			{ ADMIN_EMAIL: "boss@shop.test", ADMIN_PASSWORD: "boss-password" },
			{ ADMIN_EMAIL: "boss@shop.test" },
			{ ADMIN_PASSWORD: "boss-password" },
			{ TRANSPORTER: "amqp://127.0.0.1" },
			{ DATA_DIR: ":memory:" },
		])
			expect({ env, generatedFile: parseSettings(env).admin.generatedFile }).toEqual({ env, generatedFile: undefined });
	});

	it("converts numbers, normalises the admin's email and names a node by what it runs", () => {
		const s = parseSettings({ PORT: "5001", RATE_LIMIT_MAX: "7", ADMIN_EMAIL: " Boss@Shop.TEST ", ADMIN_PASSWORD: "boss-password", SERVICES: "products,orders", CACHER: "redis://127.0.0.1:6379" });
		expect(s.gateway.port).toBe(5001);
		expect(s.gateway.rateLimit.max).toBe(7);
		expect(s.gateway.redisUrl).toBe("redis://127.0.0.1:6379");
		expect(s.admin.email).toBe("boss@shop.test");
		expect(s.services).toEqual(["products", "orders"]);
		expect(s.nodeId).toMatch(/-products\+orders-\d+$/);
	});

	it.each([
		["", 0],
		["false", 0],
		["0", 0],
		["true", 1],
		["1", 1],
		["2", 2],
	])("reads TRUST_PROXY=%j as %i trusted hops", (value, hops) => {
		expect(parseSettings({ TRUST_PROXY: value }).gateway.trustProxyHops).toBe(hops);
	});

	it.each([
		["PORT", "abc"],
		["PORT", "70000"],
		["TRUST_PROXY", "yes"],
		["RATE_LIMIT_MAX", "-1"],
		["SERVICES", "products,shipping"],
		["TRANSPORTER", "rabbit://x"],
		["CACHER", "memcached://x"],
		["LOG_LEVEL", "loud"],
		["JWT_SECRET", "short"],
		["JWT_EXPIRES_IN", "1 day"],
		["JWT_EXPIRES_IN", "1w"],
		["JWT_EXPIRES_IN", "-60"],
		["JWT_EXPIRES_IN", "0"],
		["JWT_EXPIRES_IN", "400d"],
		["ADMIN_EMAIL", "not-an-email"],
		["TRACING", "carrier-pigeon"],
	])("refuses %s=%j with a message naming the variable", (name, value) => {
		const attempt = () => parseSettings({ [name]: value });
		expect(attempt).toThrow(SettingsError);
		expect(attempt).toThrow(new RegExp(`${name}=`));
	});

	it("says which value was sent and which are allowed, each in its place", () => {
		expect(() => parseSettings({ LOG_FORMAT: "text" })).toThrow(`LOG_FORMAT="text": must be one of short, json (not 'text')`);
		expect(() => parseSettings({ STORE_SYNC: "maybe" })).toThrow(`STORE_SYNC="maybe": must be one of on, off (not 'maybe')`);
	});

	it.each([
		["3600", 3600],
		["86400", 86_400],
		["90s", 90],
		["15m", 900],
		["12h", 43_200],
		["1d", 86_400],
		[undefined, 86_400],
	])("makes tokens that live JWT_EXPIRES_IN=%j as that many seconds (a plain number is seconds)", (value, seconds) => {
		const tokens = new Tokens(parseSettings({ JWT_EXPIRES_IN: value }).auth);
		const { iat, exp } = jwt.decode(tokens.sign({ id: "c1", email: "a@b.test", role: "customer", version: 0 })) as { iat: number; exp: number };
		expect(exp - iat).toBe(seconds);
	});

	it("never repeats a secret in its message", () => {
		expect(() => parseSettings({ JWT_SECRET: "hunter2" })).toThrow("JWT_SECRET=(hidden): must be at least 16 characters");
	});

	it("requires JWT_SECRET in production", () => {
		expect(() => parseSettings({ NODE_ENV: "production" })).toThrow(/JWT_SECRET must be set/);
		expect(parseSettings({ NODE_ENV: "production", JWT_SECRET: "a-secret-of-enough-length" }).auth.jwtSecretGenerated).toBe(false);
	});

	it("reads IMAGE_ORIGINS as the https origins product images may come from (none by default)", () => {
		expect(parseSettings({}).gateway.imageOrigins).toEqual([]);
		expect(parseSettings({ IMAGE_ORIGINS: "https://cdn.example.com, https://img.example.org:8443" }).gateway.imageOrigins).toEqual(["https://cdn.example.com", "https://img.example.org:8443"]);
		for (const bad of ["http://cdn.example.com", "https://cdn.example.com/path", "*", "https://cdn.example.com;script-src *", "'unsafe-inline'"]) {
			expect(() => parseSettings({ IMAGE_ORIGINS: bad })).toThrow(/IMAGE_ORIGINS/);
		}
	});

	it("lists each variable it reads", () => {
		expect(ENV_VARIABLES).toEqual(expect.arrayContaining(["TRANSPORTER", "CACHER", "MONGO_URI", "PORT", "HOST", "JWT_SECRET", "TRUST_PROXY", "PENDING_TIMEOUT_MS"]));
	});

	it("reads the shop's pricing: a two-decimal currency, tax rates in basis points, shipping methods, the deadlines", () => {
		const s = parseSettings({
			CURRENCY: "EUR",
			PRICES_INCLUDE_TAX: "true",
			TAX_RATES: "DE:19,FR:5.5",
			SHIPPING_METHODS: "standard:499:5000,pickup:0",
			PAYMENT_DEADLINE_S: "600",
			CART_TTL_HOURS: "24",
		});
		expect(s.shop).toEqual({
			pricing: {
				currency: "EUR",
				pricesIncludeTax: true,
				taxRatesBp: { DE: 1900, FR: 550 },
				shippingMethods: [
					{ id: "standard", priceCents: 499, freeOverCents: 5000 },
					{ id: "pickup", priceCents: 0 },
				],
			},
			paymentDeadlineMs: 600_000,
			cartTtlMs: 24 * 3_600_000,
		});
		expect(parseSettings({}).shop).toMatchObject({ pricing: { currency: "USD", pricesIncludeTax: false }, paymentDeadlineMs: 900_000 });
	});

	it.each([
		["CURRENCY", "JPY"],
		["CURRENCY", "usd"],
		["TAX_RATES", "DE:19,DE:7"],
		["TAX_RATES", "DE:101"],
		["TAX_RATES", "de:19"],
		["TAX_RATES", "__proto__:1"],
		["SHIPPING_METHODS", "standard:4.99"],
		["SHIPPING_METHODS", "a:1,a:2"],
		["PAYMENT_DEADLINE_S", "0"],
	])("refuses %s=%s", (name, value) => {
		expect(() => parseSettings({ [name]: value })).toThrow(new RegExp(`${name}`));
	});
});

describe("settings: secrets from files (X_FILE, as Docker secrets mount them)", () => {
	let dir: string;
	beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "settings-secrets-"))));
	afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
	const secretFile = (name: string, content: string) => {
		const file = path.join(dir, name);
		fs.writeFileSync(file, content, { mode: 0o600 });
		return file;
	};

	it("lists an X_FILE variable for each secret", () => {
		expect([...SECRET_VARIABLES].sort()).toEqual([
			"ADMIN_PASSWORD",
			"CACHER",
			"JWT_SECRET",
			"MONGO_URI",
			"SMTP_URL",
			"STRIPE_SECRET_KEY",
			"STRIPE_WEBHOOK_SECRET",
			"TRANSPORTER",
			"WEBHOOK_SECRET_KEY",
		]);
		for (const name of SECRET_VARIABLES) expect(ENV_VARIABLES).toContain(`${name}_FILE`);
	});

	it("reads each secret from its X_FILE, without the file's final line break, as if X were set", () => {
		const s = parseSettings({
			NODE_ENV: "production",
			JWT_SECRET_FILE: secretFile("jwt", "a-secret-from-a-file-0123456789\n"),
			ADMIN_PASSWORD_FILE: secretFile("admin", "admin password from a file\r\n"),
			MONGO_URI_FILE: secretFile("mongo", "mongodb://orders:p%40ss@mongo:27017/orders?replicaSet=rs0&authSource=admin"),
			TRANSPORTER_FILE: secretFile("amqp", "amqp://shop:rabbit-pass@rabbitmq:5672\n"),
			CACHER_FILE: secretFile("redis", "redis://shop:redis-pass@redis:6379\n"),
		});
		expect(s.auth).toMatchObject({ jwtSecret: "a-secret-from-a-file-0123456789", jwtSecretGenerated: false });
		expect(s.admin.password).toBe("admin password from a file");
		expect(s.storage.mongoUri).toBe("mongodb://orders:p%40ss@mongo:27017/orders?replicaSet=rs0&authSource=admin");
		expect(s.transporter).toBe("amqp://shop:rabbit-pass@rabbitmq:5672");
		expect(s.cacher).toBe("redis://shop:redis-pass@redis:6379");
		expect(s.gateway.redisUrl).toBe("redis://shop:redis-pass@redis:6379");
	});

	it("checks a secret read from a file by the variable's own rule, never showing it", () => {
		const attempt = () => parseSettings({ JWT_SECRET_FILE: secretFile("jwt", "hunter2\n") });
		expect(attempt).toThrow("JWT_SECRET=(hidden): must be at least 16 characters");
		expect(() => parseSettings({ CACHER_FILE: secretFile("redis", "memcached://secret@x\n") })).toThrow(/CACHER=\(hidden\)/);
		expect(() => parseSettings({ CACHER_FILE: secretFile("redis", "memcached://secret@x\n") })).not.toThrow(/secret@x/);
	});

	it("refuses X and X_FILE both set, naming them", () => {
		const attempt = () => parseSettings({ JWT_SECRET: "a-secret-of-enough-length", JWT_SECRET_FILE: secretFile("jwt", "another-secret-of-enough-length") });
		expect(attempt).toThrow(SettingsError);
		expect(attempt).toThrow("JWT_SECRET and JWT_SECRET_FILE are both set: set one");
	});

	it("refuses an X_FILE it cannot read, or an empty one, naming the variable and the path", () => {
		const missing = path.join(dir, "nope");
		expect(() => parseSettings({ ADMIN_PASSWORD_FILE: missing })).toThrow(SettingsError);
		expect(() => parseSettings({ ADMIN_PASSWORD_FILE: missing })).toThrow(`ADMIN_PASSWORD_FILE=${JSON.stringify(missing)}: cannot be read (ENOENT)`);
		const empty = secretFile("empty", "\n");
		expect(() => parseSettings({ ADMIN_PASSWORD_FILE: empty })).toThrow(`ADMIN_PASSWORD_FILE=${JSON.stringify(empty)}: the file is empty`);
	});

	it("refuses a secret file larger than any secret (64 kB), without reading it whole", () => {
		const big = secretFile("big", "x".repeat(65 * 1024));
		expect(() => parseSettings({ JWT_SECRET_FILE: big })).toThrow(`JWT_SECRET_FILE=${JSON.stringify(big)}: larger than 65536 bytes`);
	});

	it("refuses a device as a secret file, naming it", () => {
		expect(() => parseSettings({ JWT_SECRET_FILE: "/dev/null" })).toThrow(`JWT_SECRET_FILE="/dev/null": not a regular file`);
		expect(() => parseSettings({ JWT_SECRET_FILE: "/dev/zero" })).toThrow(`JWT_SECRET_FILE="/dev/zero": not a regular file`);
	});

	/** A FIFO with a writer blocked until a reader opens it: a reader that opened it would take what it writes. */
	async function withFifo(file: string, content: string, check: () => void): Promise<void> {
		execFileSync("mkfifo", [file]);
		const writer = spawn("sh", ["-c", `printf '%s' "$1" > "$0"`, file, content], { stdio: "ignore" });
		const exited = new Promise(resolve => writer.once("exit", resolve));
		try {
			check();
		} finally {
			if (writer.exitCode === null && writer.signalCode === null) writer.kill();
			await exited;
		}
	}

	it("refuses a FIFO as a secret file, even one a writer is waiting to fill", async () => {
		const fifo = path.join(dir, "fifo");
		await withFifo(fifo, "a-secret-through-a-fifo-0123", () => {
			expect(() => parseSettings({ JWT_SECRET_FILE: fifo })).toThrow(`JWT_SECRET_FILE=${JSON.stringify(fifo)}: not a regular file`);
		});
	});

	it("does not take the generated admin's credentials from a FIFO in DATA_DIR", async () => {
		const file = path.join(dir, "generated-admin");
		await withFifo(file, JSON.stringify({ email: "fifo@shop.test", password: "from-a-fifo-123" }), () => {
			expect(readAdminFile(file)).toBeUndefined();
		});
	});

	it("does not take the secret it keeps in DATA_DIR from a FIFO there: it makes a new one", async () => {
		await withFifo(path.join(dir, "jwt-secret"), "a-kept-secret-through-a-fifo-01", () => {
			const s = parseSettings({ DATA_DIR: dir });
			expect(s.auth.jwtSecretGenerated).toBe(true);
			expect(s.auth.jwtSecret).not.toBe("a-kept-secret-through-a-fifo-01");
		});
	});
});
