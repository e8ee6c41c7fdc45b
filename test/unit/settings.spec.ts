import jwt from "jsonwebtoken";
import { Tokens } from "../../lib/infra/auth";
import { ENV_VARIABLES, parseSettings, SettingsError } from "../../lib/infra/settings";

describe("settings: the environment, parsed once", () => {
	it("gives the embedded default when nothing is set", () => {
		const s = parseSettings({});
		expect(s).toMatchObject({
			services: ["api", "customers", "products", "orders", "alerts", "analytics", "notifications"],
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
		["SERVICES", "products,payments"],
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

	it("lists each variable it reads", () => {
		expect(ENV_VARIABLES).toEqual(expect.arrayContaining(["TRANSPORTER", "CACHER", "MONGO_URI", "PORT", "HOST", "JWT_SECRET", "TRUST_PROXY", "PENDING_TIMEOUT_MS"]));
	});
});
