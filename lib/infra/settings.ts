import crypto from "crypto";
import os from "os";
import path from "path";
import Validator from "fastest-validator";
import { GENERATED_ADMIN_FILE } from "./generated-admin";
import { readSecretFile } from "./secret-file";
import { MESSAGES } from "./validation";
import { SERVICE_NAMES, type ServiceName } from "../contracts/services";
import { DEFAULT_DATA_DIR } from "./env-defaults";
import { TWO_DECIMAL_CURRENCIES, type PricingRules, type ShippingMethod } from "../contracts/checkout";

/**
 * The environment, parsed once: the only place that reads `process.env`
 * (the runner loads `.env` into it first). A bad value stops the node with
 * a message naming the variable. Services receive the parts they need in
 * their `settings`, so a test changes a setting by mixing in other settings,
 * without touching the environment or reloading modules.
 */

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const TRACING_EXPORTERS = ["none", "console", "jaeger", "zipkin", "datadog"] as const;
export type TracingExporter = (typeof TRACING_EXPORTERS)[number];

export interface StorageSettings {
	/** MongoDB through moleculer-db-adapter-mongoose when set. */
	mongoUri?: string;
	/** NeDB files otherwise; `:memory:` keeps nothing. */
	dataDir: string;
	/** A NeDB write is answered once it is on disk (fdatasync, group commit); STORE_SYNC=off answers before, and a power cut loses what was answered. */
	sync: boolean;
}

export interface AuthSettings {
	jwtSecret: string;
	/** No JWT_SECRET was given: a secret was generated (said at start). */
	jwtSecretGenerated: boolean;
	/** Outside production, on a data directory: where a generated secret is kept (mode 0600), so a restart signs nobody out. */
	jwtSecretFile?: string;
	/** A token's lifetime, in seconds (jsonwebtoken would read a numeric string as milliseconds). */
	jwtExpiresInS: number;
}

export interface AdminSettings {
	email?: string;
	password?: string;
	/** The embedded default given no ADMIN_EMAIL / ADMIN_PASSWORD: where it writes the admin it makes with a generated password when there is none (DATA_DIR/generated-admin.json). */
	generatedFile?: string;
	bcryptRounds: number;
}

export interface GatewaySettings {
	port: number;
	host: string;
	/** How many proxies in front of the gateway append to X-Forwarded-For; 0 trusts none. */
	trustProxyHops: number;
	rateLimit: { max: number; windowMs: number };
	/** Redis for the rate-limit counters and the Socket.IO adapter, when the cacher is Redis. */
	redisUrl?: string;
	logRequests: boolean;
	/** Origins (https) product images may come from besides this one: the page's CSP `img-src`. */
	imageOrigins: string[];
}

export interface SettlementSettings {
	/** When half-done work (a pending order, an open reservation) counts as abandoned. */
	pendingTimeoutMs: number;
	/** How often the settlers look. */
	recoveryIntervalMs: number;
}

export interface PaymentsSettings {
	/** The shop's one currency (CURRENCY), ISO 4217 with two decimals (money is counted in cents). */
	currency: string;
	/** Stripe, when a secret key is set; `apiUrl` points the SDK elsewhere than api.stripe.com (tests: a local stand-in). */
	stripe?: { secretKey: string; webhookSecret: string; apiUrl?: string };
}

/** Carts and checkout: the pricing rules, the payment deadline, the carts' lifetime. */
export interface ShopSettings {
	pricing: PricingRules;
	/** How long a checkout order holds its stock unpaid before the settler expires it. */
	paymentDeadlineMs: number;
	/** A cart not touched for this long is gone. */
	cartTtlMs: number;
}

/** Mail and webhooks (services/notifications*). */
export interface NotificationSettings {
	/** nodemailer's SMTP transport; unset: mail goes to the local outbox the operations page shows. */
	smtpUrl?: string;
	mailFrom: string;
	/** Operators who get stock alerts, failed payments and disabled endpoints. */
	alertEmails: string[];
	/** Links in mail start here, never from a request's Host header. */
	publicUrl: string;
	/** AES-256-GCM key of the webhook secrets at rest (32 bytes). */
	secretKey: Buffer;
	secretKeyDerived: boolean;
	/** Delays before each retry, in ms; after the last, the delivery is dead-lettered. */
	retryScheduleMs: number[];
	timeoutMs: number;
	maxResponseBytes: number;
	/** Attempts in flight per endpoint, per node. */
	concurrency: number;
	/** Failed deliveries in a row that disable an endpoint. */
	disableAfter: number;
	/** Hosts or addresses a webhook may point at although they are private (tests: 127.0.0.1). */
	allow: string[];
	/** Outside development and tests, webhook URLs must be https. */
	requireHttps: boolean;
	logRetentionDays: number;
	logMaxPerEndpoint: number;
	resetTtlMs: number;
	/** How often the outbox is looked at, besides right after an event. */
	pollMs: number;
}

export interface Settings {
	production: boolean;
	/** The services this node runs (all when SERVICES is unset). */
	services: ServiceName[];
	nodeId: string;
	namespace: string;
	logLevel: LogLevel;
	logFormat: "short" | "json";
	transporter?: string;
	cacher?: string;
	cacheTtlS: number;
	cacheMaxEntries: number;
	/** The memory cache's and a near cache's cap in bytes (of their answers' JSON), beside the entry count. */
	cacheMaxBytes: number;
	metricsPort?: number;
	/** Where the node writes its health report for a container's HEALTHCHECK (bin/healthcheck.ts); none when unset. */
	healthFile?: string;
	tracing: { exporter: TracingExporter; endpoint?: string };
	requestTimeoutMs: number;
	/** How often a node on RabbitMQ checks that the nodes it knows are still connected; 0: only heartbeats find a dead node. */
	deadNodeProbeMs: number;
	channelMaxRetries: number;
	storage: StorageSettings;
	auth: AuthSettings;
	admin: AdminSettings;
	gateway: GatewaySettings;
	settlement: SettlementSettings;
	payments: PaymentsSettings;
	shop: ShopSettings;
	notifications: NotificationSettings;
	/** Tests only: the named crash point where this process kills itself (lib/infra/crash-points.ts). */
	crashPoint?: string;
	pausePoint?: string;
}

export class SettingsError extends Error {
	name = "SettingsError";
}

type Env = Record<string, string | undefined>;

const int = (min: number, max: number, dflt?: number) => ({ type: "number", integer: true, min, max, convert: true, optional: dflt === undefined, ...(dflt === undefined ? {} : { default: dflt }) });
const url = (...protocols: string[]) => ({
	type: "string",
	optional: true,
	pattern: new RegExp(`^(${protocols.join("|")})://`),
	messages: { stringPattern: `must be a ${protocols.join(" or ")} URL` },
});

/** Each variable the code reads, with its rule; the README and .env.example list the same names. */
const ENV_SCHEMA = {
	NODE_ENV: { type: "string", optional: true },
	SERVICES: {
		type: "string",
		optional: true,
		pattern: new RegExp(`^(${SERVICE_NAMES.join("|")})(,(${SERVICE_NAMES.join("|")}))*$`),
		messages: { stringPattern: `must list services among ${SERVICE_NAMES.join(", ")}, separated by commas` },
	},
	NODE_ID: { type: "string", optional: true, min: 1, max: 200 },
	NAMESPACE: { type: "string", optional: true, pattern: /^[A-Za-z0-9_-]*$/ },
	LOG_LEVEL: { type: "enum", values: LOG_LEVELS, default: "info" },
	LOG_FORMAT: { type: "enum", values: ["short", "json"], default: "short" },
	TRANSPORTER: url("amqp", "amqps", "nats", "redis", "rediss", "mqtt", "tcp"),
	CACHER: url("redis", "rediss"),
	CACHE_TTL_S: int(1, 86_400 * 30, 3600),
	CACHE_MAX_ENTRIES: int(100, 10_000_000, 10_000),
	CACHE_MAX_MB: int(1, 100_000, 64),
	MONGO_URI: url("mongodb", "mongodb\\+srv"),
	DATA_DIR: { type: "string", min: 1, default: DEFAULT_DATA_DIR },
	STORE_SYNC: { type: "enum", values: ["on", "off"], default: "on" },
	PORT: int(0, 65_535, 5000),
	HOST: { type: "string", min: 1, default: "127.0.0.1" },
	JWT_SECRET: { type: "string", optional: true, min: 16, messages: { stringMin: "must be at least 16 characters" } },
	JWT_EXPIRES_IN: { type: "string", pattern: /^\d{1,9}[smhd]?$/, default: "1d", messages: { stringPattern: "must be a number of seconds or a span such as 15m, 12h, 1d" } },
	ADMIN_EMAIL: { type: "email", optional: true, normalize: true },
	ADMIN_PASSWORD: { type: "string", optional: true, min: 8, max: 72 },
	BCRYPT_ROUNDS: int(4, 15, 10),
	RATE_LIMIT_MAX: int(1, 1_000_000_000, 300),
	IMAGE_ORIGINS: {
		type: "string",
		optional: true,
		max: 2000,
		pattern: /^\s*https:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?\s*(,\s*https:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?\s*)*$/,
		messages: { stringPattern: "must be https origins (https://host or https://host:port, no path), separated by commas" },
	},
	RATE_LIMIT_WINDOW_MS: int(100, 86_400_000, 60_000),
	TRUST_PROXY: { type: "string", optional: true, pattern: /^(|0|1|true|false|[0-9]{1,2})$/, messages: { stringPattern: "must be true, false or a number of proxy hops" } },
	METRICS_PORT: int(1, 65_535),
	HEALTH_FILE: { type: "string", optional: true, min: 1 },
	TRACING: { type: "enum", values: TRACING_EXPORTERS, default: "none" },
	TRACING_ENDPOINT: url("http", "https", "udp"),
	REQUEST_TIMEOUT_MS: int(100, 600_000, 10_000),
	DEAD_NODE_PROBE_MS: int(0, 60_000, 500),
	CHANNEL_MAX_RETRIES: int(0, 100, 3),
	PENDING_TIMEOUT_MS: int(100, 3_600_000, 10_000),
	RECOVERY_INTERVAL_MS: int(50, 3_600_000, 5_000),
	JWT_SECRET_FILE: { type: "string", optional: true },
	ADMIN_PASSWORD_FILE: { type: "string", optional: true },
	MONGO_URI_FILE: { type: "string", optional: true },
	TRANSPORTER_FILE: { type: "string", optional: true },
	CACHER_FILE: { type: "string", optional: true },
	STRIPE_SECRET_KEY_FILE: { type: "string", optional: true },
	STRIPE_WEBHOOK_SECRET_FILE: { type: "string", optional: true },
	STRIPE_SECRET_KEY: { type: "string", optional: true, min: 8, max: 200 },
	STRIPE_WEBHOOK_SECRET: { type: "string", optional: true, min: 8, max: 200 },
	STRIPE_API_URL: url("http", "https"),
	CURRENCY: { type: "enum", values: TWO_DECIMAL_CURRENCIES, default: "USD" },
	PRICES_INCLUDE_TAX: { type: "enum", values: ["true", "false"], default: "false" },
	TAX_RATES: {
		type: "string",
		default: "US:0,CA:5,GB:20,DE:19,FR:20,NL:21,ES:21,IT:22",
		pattern: /^[A-Z]{2}:\d{1,3}(\.\d{1,2})?(,[A-Z]{2}:\d{1,3}(\.\d{1,2})?)*$/,
		messages: { stringPattern: "must list COUNTRY:percent pairs separated by commas, such as US:0,DE:19,FR:5.5" },
	},
	SHIPPING_METHODS: {
		type: "string",
		default: "standard:499:5000,express:1499",
		pattern: /^[a-z][a-z0-9_-]{0,31}:\d{1,9}(:\d{1,9})?(,[a-z][a-z0-9_-]{0,31}:\d{1,9}(:\d{1,9})?)*$/,
		messages: { stringPattern: "must list id:priceCents[:freeOverCents] entries separated by commas, such as standard:499:5000,express:1499" },
	},
	PAYMENT_DEADLINE_S: int(1, 7 * 86_400, 900),
	CART_TTL_HOURS: int(1, 365 * 24, 72),
	SMTP_URL_FILE: { type: "string", optional: true },
	WEBHOOK_SECRET_KEY_FILE: { type: "string", optional: true },
	SMTP_URL: url("smtp", "smtps"),
	MAIL_FROM: { type: "string", min: 3, max: 200, default: "Shop <shop@localhost>" },
	ALERT_EMAILS: { type: "string", optional: true, max: 2000, pattern: /^[^\s,@]+@[^\s,@]+(,[^\s,@]+@[^\s,@]+)*$/, messages: { stringPattern: "must be email addresses separated by commas" } },
	PUBLIC_URL: { type: "string", default: "http://localhost:5000", pattern: /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, messages: { stringPattern: "must be an http or https URL" } },
	WEBHOOK_SECRET_KEY: { type: "string", optional: true, pattern: /^[0-9a-fA-F]{64}$/, messages: { stringPattern: "must be 64 hex digits (32 bytes)" } },
	WEBHOOK_RETRY_SCHEDULE: {
		type: "string",
		default: "5s,30s,2m,10m,1h,6h",
		pattern: /^\d{1,7}(ms|s|m|h)(,\d{1,7}(ms|s|m|h)){0,19}$/,
		messages: { stringPattern: "must be delays such as 5s,30s,2m,1h separated by commas (ms, s, m, h; 20 at most)" },
	},
	WEBHOOK_TIMEOUT_MS: int(100, 120_000, 10_000),
	WEBHOOK_MAX_RESPONSE_BYTES: int(0, 10_485_760, 65_536),
	WEBHOOK_CONCURRENCY: int(1, 100, 4),
	WEBHOOK_DISABLE_AFTER: int(1, 10_000, 20),
	WEBHOOK_ALLOW: { type: "string", optional: true, max: 2000, pattern: /^[A-Za-z0-9.:[\]-]+(,[A-Za-z0-9.:[\]-]+)*$/, messages: { stringPattern: "must be hosts or addresses separated by commas" } },
	WEBHOOK_LOG_RETENTION_DAYS: int(1, 3650, 30),
	WEBHOOK_LOG_MAX: int(10, 1_000_000, 1000),
	PASSWORD_RESET_TTL_MIN: int(1, 1440, 30),
	CRASH_POINT: { type: "string", optional: true, pattern: /^[a-z.-]+$/ },
	PAUSE_POINT: { type: "string", optional: true, pattern: /^[a-z.-]+$/ },
} as const;

/** Variables whose values never appear in a message; each may instead be read from the file that X_FILE names (Docker secrets). */
export const SECRET_VARIABLES = ["JWT_SECRET", "ADMIN_PASSWORD", "MONGO_URI", "TRANSPORTER", "CACHER", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "SMTP_URL", "WEBHOOK_SECRET_KEY"] as const;
const SECRETS = new Set<string>(SECRET_VARIABLES);
/** No secret is longer; a bigger file is a wrong path (a log, a device), not read whole. */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** The variables the code reads. */
export const ENV_VARIABLES = Object.keys(ENV_SCHEMA) as ReadonlyArray<keyof typeof ENV_SCHEMA>;

type Parsed = Record<keyof typeof ENV_SCHEMA, never> & Record<string, unknown>;

const check = new Validator({ useNewCustomCheckerFunction: true, messages: MESSAGES }).compile({ $$strict: false, ...ENV_SCHEMA });

const SPAN_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
/** The longest token lifetime: a year. */
const MAX_TOKEN_LIFETIME_S = 365 * 86_400;

/** JWT_EXPIRES_IN in seconds: a plain number is seconds, or a number of s, m, h or d; from a second to a year. */
function tokenLifetimeS(value: string): number {
	const unit = /[smhd]$/.test(value) ? value.slice(-1) : "s";
	const seconds = parseInt(value, 10) * SPAN_S[unit];
	if (seconds < 1 || seconds > MAX_TOKEN_LIFETIME_S) throw new SettingsError(`Invalid environment: JWT_EXPIRES_IN=${JSON.stringify(value)}: must be from 1 second to 365 days`);
	return seconds;
}

function trustProxyHops(value: string | undefined): number {
	if (value === undefined || value === "" || value === "false") return 0;
	if (value === "true") return 1;
	return Number(value);
}

function servicesOf(value: string | undefined): ServiceName[] {
	return value ? [...new Set(value.split(",") as ServiceName[])] : [...SERVICE_NAMES];
}

/** `<host>-<services>-<pid>`: `nodes` in the REPL tells which node runs what. */
function defaultNodeId(services: ServiceName[]): string {
	const what = services.length === SERVICE_NAMES.length ? "all" : services.join("+");
	return `${os.hostname().toLowerCase()}-${what}-${process.pid}`;
}

export const JWT_SECRET_FILE = "jwt-secret";

/**
 * JWT_SECRET, or a generated one. Outside production a node on a data
 * directory keeps it there (written at start, moleculer.config.ts), so a
 * restart of `npm start` or `npm run dev` signs nobody out; this reads it
 * back. In production JWT_SECRET is required.
 */
function jwtSecretOf(v: { JWT_SECRET?: string; DATA_DIR: string }, production: boolean): Pick<AuthSettings, "jwtSecret" | "jwtSecretGenerated" | "jwtSecretFile"> {
	if (v.JWT_SECRET) return { jwtSecret: v.JWT_SECRET, jwtSecretGenerated: false };
	const file = production || v.DATA_DIR === ":memory:" ? undefined : path.join(v.DATA_DIR, JWT_SECRET_FILE);
	return { jwtSecret: (file && readKeptSecret(file)) || crypto.randomBytes(32).toString("hex"), jwtSecretGenerated: true, ...(file ? { jwtSecretFile: file } : {}) };
}

function readKeptSecret(file: string): string | undefined {
	try {
		const secret = readSecretFile(file, MAX_SECRET_FILE_BYTES).toString("utf8").trim();
		return secret.length >= 16 ? secret : undefined;
	} catch {
		return undefined;
	}
}

/** Only the embedded default (no TRANSPORTER) on a data directory, given neither ADMIN_EMAIL nor ADMIN_PASSWORD, makes its own admin. */
function generatedAdminFile(v: { TRANSPORTER?: string; ADMIN_EMAIL?: string; ADMIN_PASSWORD?: string; DATA_DIR: string }): string | undefined {
	if (v.TRANSPORTER || v.ADMIN_EMAIL || v.ADMIN_PASSWORD || v.DATA_DIR === ":memory:") return undefined;
	return path.join(v.DATA_DIR, GENERATED_ADMIN_FILE);
}

/** A secret file's content, without its final line break (what `echo secret > file` adds). */
function secretFromFile(variable: string, file: string): string {
	let content: Buffer;
	try {
		content = readSecretFile(file, MAX_SECRET_FILE_BYTES);
	} catch (err) {
		throw new SettingsError(`Invalid environment: ${variable}=${JSON.stringify(file)}: ${(err as Error).message}`);
	}
	const value = content.toString("utf8").replace(/\r?\n$/, "");
	if (value === "") throw new SettingsError(`Invalid environment: ${variable}=${JSON.stringify(file)}: the file is empty`);
	return value;
}

/** The environment with each secret X given as X_FILE read into X; both set is refused (which one wins would be a guess). */
function withSecretFiles(given: Record<string, string>): Record<string, string> {
	const out = { ...given };
	for (const name of SECRET_VARIABLES) {
		const fileVar = `${name}_FILE`;
		if (!Object.prototype.hasOwnProperty.call(given, fileVar)) continue;
		if (Object.prototype.hasOwnProperty.call(given, name)) throw new SettingsError(`Invalid environment: ${name} and ${fileVar} are both set: set one`);
		out[name] = secretFromFile(fileVar, given[fileVar]);
		delete out[fileVar];
	}
	return out;
}

/** TAX_RATES: `COUNTRY:percent` pairs, each country once, at most 100 %; in basis points. */
function taxRatesBp(value: string): Record<string, number> {
	const rates: Record<string, number> = {};
	for (const pair of value.split(",")) {
		const [country, percent] = pair.split(":");
		const bp = Math.round(Number(percent) * 100);
		if (Object.hasOwn(rates, country)) throw new SettingsError(`Invalid environment: TAX_RATES names ${country} twice`);
		if (bp > 10_000) throw new SettingsError(`Invalid environment: TAX_RATES gives ${country} more than 100 %`);
		rates[country] = bp;
	}
	return rates;
}

/** SHIPPING_METHODS: `id:priceCents[:freeOverCents]` entries, each id once. */
function shippingMethods(value: string): ShippingMethod[] {
	const methods = value.split(",").map(entry => {
		const [id, price, freeOver] = entry.split(":");
		return { id, priceCents: Number(price), ...(freeOver === undefined ? {} : { freeOverCents: Number(freeOver) }) };
	});
	if (new Set(methods.map(m => m.id)).size !== methods.length) throw new SettingsError("Invalid environment: SHIPPING_METHODS names a method twice");
	return methods;
}

const DELAY_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `5s,30s,2m` in ms. */
function delaysMs(value: string): number[] {
	return value.split(",").map(d => {
		const m = /^(\d+)(ms|s|m|h)$/.exec(d)!;
		return Number(m[1]) * DELAY_MS[m[2]];
	});
}

const list = (value: string | undefined): string[] => (value ? [...new Set(value.split(",").map(v => v.trim().toLowerCase()))] : []);

/**
 * WEBHOOK_SECRET_KEY, or a key derived from the JWT secret (required in
 * production, kept in the data directory when generated): a dump of the
 * store alone then does not hand the webhook secrets over.
 */
function secretKeyOf(v: { WEBHOOK_SECRET_KEY?: string }, jwtSecret: string): { secretKey: Buffer; secretKeyDerived: boolean } {
	if (v.WEBHOOK_SECRET_KEY) return { secretKey: Buffer.from(v.WEBHOOK_SECRET_KEY, "hex"), secretKeyDerived: false };
	return { secretKey: Buffer.from(crypto.hkdfSync("sha256", jwtSecret, "", "webhook-secrets", 32)), secretKeyDerived: true };
}

function notificationsOf(v: Parsed & Record<string, never>, jwtSecret: string): NotificationSettings {
	const env = v.NODE_ENV as string | undefined;
	return {
		smtpUrl: v.SMTP_URL,
		mailFrom: v.MAIL_FROM,
		alertEmails: list(v.ALERT_EMAILS),
		publicUrl: (v.PUBLIC_URL as string).replace(/\/+$/, ""),
		...secretKeyOf(v, jwtSecret),
		retryScheduleMs: delaysMs(v.WEBHOOK_RETRY_SCHEDULE),
		timeoutMs: v.WEBHOOK_TIMEOUT_MS,
		maxResponseBytes: v.WEBHOOK_MAX_RESPONSE_BYTES,
		concurrency: v.WEBHOOK_CONCURRENCY,
		disableAfter: v.WEBHOOK_DISABLE_AFTER,
		allow: list(v.WEBHOOK_ALLOW),
		requireHttps: env !== "development" && env !== "test",
		logRetentionDays: v.WEBHOOK_LOG_RETENTION_DAYS,
		logMaxPerEndpoint: v.WEBHOOK_LOG_MAX,
		resetTtlMs: v.PASSWORD_RESET_TTL_MIN * 60_000,
		pollMs: 1000,
	};
}

/** Parse an environment. Throws a SettingsError naming each bad variable. */
export function parseSettings(env: Env): Settings {
	// Empty values count as unset, as in most .env conventions.
	const given = withSecretFiles(Object.fromEntries(Object.entries(env).filter(([k, v]) => k in ENV_SCHEMA && v !== undefined && v !== "")) as Record<string, string>);
	const result = check(given);
	if (result !== true) {
		const problems = (result as Array<{ field: string; message: string }>).map(
			e => `${e.field}=${SECRETS.has(e.field) ? "(hidden)" : JSON.stringify(env[e.field])}: ${e.message.replace(`The '${e.field}' field`, "").trim()}`,
		);
		throw new SettingsError(`Invalid environment: ${problems.join("; ")}`);
	}
	// fastest-validator checked `given` against ENV_SCHEMA just above: it is the parsed shape now.
	const v = given as unknown as Parsed & Record<string, never>;
	const production = v.NODE_ENV === "production";
	if (production && !v.JWT_SECRET) throw new SettingsError("Invalid environment: JWT_SECRET must be set when NODE_ENV=production");
	const services = servicesOf(v.SERVICES);
	const cacher = v.CACHER as string | undefined;
	const auth = jwtSecretOf(v, production);
	return {
		production,
		services,
		nodeId: v.NODE_ID ?? defaultNodeId(services),
		namespace: v.NAMESPACE ?? "",
		logLevel: v.LOG_LEVEL,
		logFormat: v.LOG_FORMAT,
		transporter: v.TRANSPORTER,
		cacher,
		cacheTtlS: v.CACHE_TTL_S,
		cacheMaxEntries: v.CACHE_MAX_ENTRIES,
		cacheMaxBytes: v.CACHE_MAX_MB * 1024 * 1024,
		metricsPort: v.METRICS_PORT,
		healthFile: v.HEALTH_FILE,
		tracing: { exporter: v.TRACING, endpoint: v.TRACING_ENDPOINT },
		requestTimeoutMs: v.REQUEST_TIMEOUT_MS,
		deadNodeProbeMs: v.DEAD_NODE_PROBE_MS,
		channelMaxRetries: v.CHANNEL_MAX_RETRIES,
		storage: { mongoUri: v.MONGO_URI, dataDir: v.DATA_DIR, sync: v.STORE_SYNC === "on" },
		auth: {
			...auth,
			jwtExpiresInS: tokenLifetimeS(v.JWT_EXPIRES_IN),
		},
		admin: { email: v.ADMIN_EMAIL, password: v.ADMIN_PASSWORD, generatedFile: generatedAdminFile(v), bcryptRounds: v.BCRYPT_ROUNDS },
		gateway: {
			port: v.PORT,
			host: v.HOST,
			trustProxyHops: trustProxyHops(v.TRUST_PROXY),
			rateLimit: { max: v.RATE_LIMIT_MAX, windowMs: v.RATE_LIMIT_WINDOW_MS },
			redisUrl: cacher?.startsWith("redis") ? cacher : undefined,
			logRequests: v.LOG_LEVEL === "debug" || v.LOG_LEVEL === "trace",
			imageOrigins: ((v.IMAGE_ORIGINS as string | undefined) ?? "")
				.split(",")
				.map(origin => origin.trim())
				.filter(Boolean),
		},
		settlement: { pendingTimeoutMs: v.PENDING_TIMEOUT_MS, recoveryIntervalMs: v.RECOVERY_INTERVAL_MS },
		payments: paymentsOf(v),
		shop: {
			pricing: {
				currency: v.CURRENCY,
				pricesIncludeTax: v.PRICES_INCLUDE_TAX === "true",
				taxRatesBp: taxRatesBp(v.TAX_RATES),
				shippingMethods: shippingMethods(v.SHIPPING_METHODS),
			},
			paymentDeadlineMs: v.PAYMENT_DEADLINE_S * 1000,
			cartTtlMs: v.CART_TTL_HOURS * 3_600_000,
		},
		notifications: notificationsOf(v, auth.jwtSecret),
		crashPoint: v.CRASH_POINT,
		pausePoint: v.PAUSE_POINT,
	};
}

/** Stripe needs both its secret key and its webhook secret, or neither. */
function paymentsOf(v: Record<string, string | undefined>): PaymentsSettings {
	const { STRIPE_SECRET_KEY: secretKey, STRIPE_WEBHOOK_SECRET: webhookSecret, STRIPE_API_URL: apiUrl } = v;
	if (!secretKey !== !webhookSecret) throw new SettingsError("Invalid environment: STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are set together");
	return { currency: v.CURRENCY as string, ...(secretKey && webhookSecret ? { stripe: { secretKey, webhookSecret, apiUrl } } : {}) };
}

/** This process's settings. */
export const settings: Settings = parseSettings(process.env);
