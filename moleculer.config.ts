import os from "os";
import { Middleware as ChannelsMiddleware } from "@moleculer/channels";
import type { BrokerOptions, CallingOptions, Middleware, ServiceBroker } from "moleculer";

/**
 * Every broker setting comes from the environment (see README).
 * Unset TRANSPORTER / CACHER give the embedded default: one process, memory cache.
 */
const env = process.env;

function transporter(): BrokerOptions["transporter"] {
	const url = env.TRANSPORTER;
	if (!url) return undefined;
	if (!url.startsWith("amqp")) return url;
	return {
		type: "AMQP",
		options: {
			url,
			// The defaults (prefetch 1, Nagle on) cap remote calls at ~23/s.
			prefetch: 100,
			socketOptions: { noDelay: true },
		},
	};
}

function cacher(): BrokerOptions["cacher"] {
	const url = env.CACHER;
	if (!url) return { type: "Memory", options: { clone: false } };
	if (!url.startsWith("redis")) return url;
	return {
		type: "Redis",
		options: {
			prefix: env.NAMESPACE ? `MOL-${env.NAMESPACE}` : "MOL",
			redis: url,
			// Writes clear what they change; the TTL only keeps keys of things nobody reads any more from piling up.
			ttl: Number(env.CACHE_TTL_S) || 3600,
		},
	};
}

/**
 * Durable channels over RabbitMQ when the transporter is AMQP (durable
 * exchanges and queues, persistent messages, 3 tries then the dead-letter
 * queue); in-process delivery on the embedded default.
 */
function channels(): Middleware {
	const url = env.TRANSPORTER;
	if (!url?.startsWith("amqp")) return ChannelsMiddleware({ adapter: { type: "Fake", options: {} } } as never) as unknown as Middleware;
	return ChannelsMiddleware({
		adapter: {
			type: "AMQP",
			options: {
				amqp: {
					url,
					socketOptions: { noDelay: true },
					exchangeOptions: { durable: true },
					queueOptions: { durable: true },
					messageOptions: { persistent: true },
					publishAssertExchange: { enabled: true, exchangeOptions: { durable: true } },
				},
				maxInFlight: 50,
				maxRetries: Number(env.CHANNEL_MAX_RETRIES) || 3,
				deadLettering: { enabled: true, queueName: "DEAD_LETTER", exchangeName: "DEAD_LETTER" },
			},
		},
	} as never) as unknown as Middleware;
}

/**
 * Timeouts for calls that cross the network, where a message can be lost.
 * A local call cannot be lost, and a timer per in-process call costs ~15%
 * of the gateway's throughput, so local calls (preferred when a local
 * endpoint exists) get none unless the caller asks.
 */
/** An action name, or the endpoint moleculer-web resolved already. */
type CallTarget = string | { local: boolean };

function isLocalTarget(broker: ServiceBroker, target: CallTarget, opts: CallingOptions): boolean {
	if (typeof target !== "string") return target.local;
	if (opts.nodeID) return opts.nodeID === broker.nodeID;
	const registry = broker.registry as unknown as { getActionEndpoints(n: string): { hasLocal(): boolean } | undefined };
	return !!registry.getActionEndpoints(target)?.hasLocal();
}

function remoteCallTimeout(ms: number): Middleware {
	let broker: ServiceBroker;
	return {
		name: "RemoteCallTimeout",
		created(b: ServiceBroker) {
			broker = b;
		},
		call(next: (target: CallTarget, params: unknown, opts?: CallingOptions) => Promise<unknown>) {
			return (target: CallTarget, params: unknown, opts: CallingOptions = {}) => {
				if (opts.timeout == null && !isLocalTarget(broker, target, opts)) opts = { ...opts, timeout: ms };
				return next(target, params, opts);
			};
		},
	} as unknown as Middleware;
}

const REQUEST_TIMEOUT_MS = Number(env.REQUEST_TIMEOUT_MS) || 10 * 1000;

const config: BrokerOptions = {
	namespace: env.NAMESPACE || "",
	nodeID: env.NODE_ID || `${os.hostname().toLowerCase()}-${process.pid}`,

	logger: env.LOG_LEVEL === "silent" ? false : { type: "Console", options: { formatter: "short", colors: !!process.stdout.isTTY } },
	logLevel: (env.LOG_LEVEL as BrokerOptions["logLevel"]) || "info",

	transporter: transporter(),
	cacher: cacher(),
	serializer: "JSON",

	// Set per remote call by remoteCallTimeout(); see there.
	requestTimeout: 0,
	// Retries are opted into per action: only idempotent actions set `retryPolicy: { enabled: true }`.
	retryPolicy: {
		enabled: false,
		retries: 3,
		delay: 100,
		maxDelay: 1000,
		factor: 2,
		check: (err: Error) => !!(err as { retryable?: boolean }).retryable,
	},
	maxCallLevel: 100,
	heartbeatInterval: 5,
	heartbeatTimeout: 15,
	contextParamsCloning: false,
	tracking: { enabled: true, shutdownTimeout: 5000 },
	disableBalancer: false,
	registry: { strategy: "RoundRobin", preferLocal: true },
	circuitBreaker: { enabled: false },
	bulkhead: { enabled: false },

	validator: {
		type: "Fastest",
		options: {
			useNewCustomCheckerFunction: true,
			// Unknown body fields are dropped, never stored.
			defaults: { object: { strict: "remove" } },
		},
	},

	metrics: {
		enabled: !!env.METRICS_PORT,
		reporter: { type: "Prometheus", options: { port: Number(env.METRICS_PORT) || 3030, path: "/metrics" } },
	},
	tracing: { enabled: false },
};

// A getter: each broker built from this config (tests build several in one process) gets its own channel adapter.
Object.defineProperty(config, "middlewares", { enumerable: true, get: () => [remoteCallTimeout(REQUEST_TIMEOUT_MS), channels()] });

export = config;
