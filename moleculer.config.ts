import fs from "fs";
import path from "path";
import { Middleware as ChannelsMiddleware } from "@moleculer/channels";
import type { BrokerOptions, Middleware, ServiceBroker } from "moleculer";
import { AmqpTransporter } from "./lib/infra/amqp-transporter";
import { ConfirmedAmqpAdapter, InProcessAdapter } from "./lib/infra/channel-adapters";
import { CONSUMER_GROUPS, DEAD_LETTER } from "./lib/contracts/channels";
import { NearCacheMiddleware } from "./middlewares/near-cache";
import { ShopErrorRegenerator } from "./lib/contracts/errors";
import { createFile } from "./lib/infra/local-files";
import { ShopMemoryCacher, ShopRedisCacher, namespacePrefix, redisOptions } from "./lib/infra/redis";
import { settings, type Settings } from "./lib/infra/settings";
import { MESSAGES, ShopValidator } from "./lib/infra/validation";
import { HealthFileMiddleware } from "./middlewares/health-file";
import { RemoteCallTimeoutMiddleware } from "./middlewares/remote-call-timeout";
import { StartGateMiddleware } from "./middlewares/start-gate";
import { RestartedNodeMiddleware } from "./middlewares/restarted-node";
import { SettledCallsMiddleware } from "./middlewares/settled-calls";
import { RetryableChannelsMiddleware } from "./middlewares/retryable-channels";
import { StoppingSignalMiddleware } from "./middlewares/stopping-signal";
import { ENDPOINT_WAIT_MS, EndpointWaitMiddleware } from "./middlewares/endpoint-wait";
import { HotReloadMiddleware } from "./middlewares/hot-reload";
import { applyPatches } from "./lib/infra/patches";

/**
 * The broker's options, from the settings (lib/infra/settings.ts). Unset
 * TRANSPORTER / CACHER give the embedded default: one process, memory cache.
 */
function transporter(s: Settings): BrokerOptions["transporter"] {
	if (!s.transporter?.startsWith("amqp")) return s.transporter;
	return new AmqpTransporter({
		url: s.transporter,
		// The defaults (prefetch 1, Nagle on) cap remote calls at ~23/s.
		prefetch: 100,
		socketOptions: { noDelay: true },
		deadNodeProbeMs: s.deadNodeProbeMs,
	});
}

/** A cache key's params part longer than this is hashed (Moleculer's cacher): keys are bounded in bytes whatever a request holds. */
const MAX_KEY_PARAMS_LENGTH = 256;

function cacher(s: Settings): BrokerOptions["cacher"] {
	// Bounded: at most cacheMaxEntries answers, each for cacheTtlS (writes clear what they change anyway).
	if (!s.cacher) return new ShopMemoryCacher({ clone: false, max: s.cacheMaxEntries, maxBytes: s.cacheMaxBytes, ttl: s.cacheTtlS, maxParamsLength: MAX_KEY_PARAMS_LENGTH });
	return new ShopRedisCacher({
		// The namespace's own prefix: no other namespace's keys start with it.
		prefix: namespacePrefix(s.namespace),
		maxParamsLength: MAX_KEY_PARAMS_LENGTH,
		// Auto-pipelining: the near cache's tag reads of concurrent requests leave in one write.
		redis: { ...redisOptions(s.cacher), enableAutoPipelining: true },
		// Writes change their service's version; the TTL ends the entries of old versions (and of things nobody reads any more).
		ttl: s.cacheTtlS,
	});
}

/**
 * Durable channels over RabbitMQ when the transporter is AMQP (durable
 * exchanges and queues, persistent messages confirmed by RabbitMQ, limited
 * tries then the dead-letter queue); on the embedded default, in-process
 * delivery that a publisher awaits (lib/infra/channel-adapters.ts).
 */
function channels(s: Settings): Middleware {
	if (!s.transporter?.startsWith("amqp"))
		// @moleculer/channels' typings want its own adapter classes and answer no Middleware.
		return ChannelsMiddleware({ adapter: new InProcessAdapter({ maxRetries: s.channelMaxRetries, groups: CONSUMER_GROUPS }) } as never) as unknown as Middleware;
	return ChannelsMiddleware({
		adapter: new ConfirmedAmqpAdapter({
			amqp: {
				url: s.transporter,
				socketOptions: { noDelay: true },
				exchangeOptions: { durable: true },
				queueOptions: { durable: true },
				messageOptions: { persistent: true },
				publishAssertExchange: { enabled: true, exchangeOptions: { durable: true } },
			},
			maxInFlight: 50,
			maxRetries: s.channelMaxRetries,
			deadLettering: { enabled: true, queueName: DEAD_LETTER, exchangeName: DEAD_LETTER },
		}),
		// @moleculer/channels' typings want its own adapter classes and answer no Middleware.
	} as never) as unknown as Middleware;
}

/**
 * Off by default. TRACING names one of the exporters Moleculer ships;
 * TRACING_ENDPOINT is where Jaeger (HTTP; UDP 127.0.0.1:6832 when unset),
 * Zipkin or the Datadog agent listen. Every action and event is traced, so
 * an order placement is one trace from the gateway through orders to
 * products. Datadog needs the `dd-trace` package installed beside the shop.
 */
function tracing(s: Settings): BrokerOptions["tracing"] {
	const { exporter, endpoint } = s.tracing;
	const exporters = {
		none: undefined,
		console: { type: "Console", options: { width: 120, colors: !!process.stdout.isTTY } },
		jaeger: { type: "Jaeger", options: endpoint ? { endpoint } : {} },
		zipkin: { type: "Zipkin", options: { baseURL: endpoint ?? "http://127.0.0.1:9411" } },
		datadog: { type: "Datadog", options: endpoint ? { agentUrl: endpoint } : {} },
	};
	const chosen = exporters[exporter];
	return chosen ? { enabled: true, sampling: { rate: 1 }, exporter: chosen } : { enabled: false };
}

/**
 * Moleculer's own middlewares, innermost first, as Moleculer registers them
 * but for two places: validation wraps the cacher, so that no cached answer
 * reaches a request that validation refuses and keys are built from
 * validated params (Moleculer looks the cache up first); and a throw inside
 * becomes a rejection before the context tracker (middlewares/settled-calls.ts).
 */
function internalMiddlewares(hotReload: boolean): Array<string | Middleware> {
	return [
		"ActionHook",
		"Bulkhead",
		"Cacher",
		"Validator",
		SettledCallsMiddleware(),
		"ContextTracker",
		"CircuitBreaker",
		"Timeout",
		"Retry",
		"Fallback",
		"ErrorHandler",
		"Tracing",
		"Metrics",
		"Debounce",
		"Throttle",
		// `npm run dev` (--hot): ours, which brings back a service that failed to reload (middlewares/hot-reload.ts).
		...(hotReload ? [HotReloadMiddleware()] : []),
	];
}

/** Keeps a generated JWT secret where the settings read it back on the next start; says what was done. */
function keepJwtSecret(auth: Settings["auth"]): string {
	const file = auth.jwtSecretFile;
	if (!file) return "JWT_SECRET is not set: tokens are signed with a secret generated for this process; they die with it, and other nodes cannot verify them. Set JWT_SECRET (16+ characters).";
	fs.mkdirSync(path.dirname(file), { recursive: true });
	createFile(file, `${auth.jwtSecret}\n`, 0o600);
	return `JWT_SECRET is not set: tokens are signed with a secret generated on this data directory's first start and kept in ${file} (readable by this user only), so a restart signs nobody out. Set JWT_SECRET (16+ characters) in production, and the same on every node of a cluster.`;
}

export function brokerOptions(s: Settings): BrokerOptions {
	applyPatches();
	const options: BrokerOptions = {
		namespace: s.namespace,
		nodeID: s.nodeId,

		logger: s.logLevel === "silent" ? false : { type: "Console", options: { formatter: s.logFormat === "json" ? "json" : "short", colors: s.logFormat !== "json" && !!process.stdout.isTTY } },
		logLevel: s.logLevel === "silent" ? "fatal" : s.logLevel,

		transporter: transporter(s),
		cacher: cacher(s),
		serializer: "JSON",
		// The project's errors keep their class and code across nodes.
		errorRegenerator: new ShopErrorRegenerator(),

		// Set per remote call by the RemoteCallTimeout middleware; see there.
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
		// A node killed without a word stops receiving calls once its heartbeats are missed this long (seconds).
		heartbeatInterval: 2,
		heartbeatTimeout: 8,
		contextParamsCloning: false,
		tracking: { enabled: true, shutdownTimeout: 5000 },
		disableBalancer: false,
		registry: { strategy: "RoundRobin", preferLocal: true },
		circuitBreaker: { enabled: false },
		// Listed in internalMiddlewares(), in the order the contract needs.
		internalMiddlewares: false,
		bulkhead: { enabled: false },

		// fastest-validator with the contract's null and depth rules. Unknown body fields are dropped, never stored.
		// Moleculer's typings take only its own validator classes.
		validator: new ShopValidator({ useNewCustomCheckerFunction: true, defaults: { object: { strict: "remove" } }, messages: MESSAGES }) as unknown as BrokerOptions["validator"],

		metrics: {
			enabled: s.metricsPort !== undefined,
			reporter: { type: "Prometheus", options: { port: s.metricsPort ?? 3030, path: "/metrics" } },
		},
		tracing: tracing(s),

		started(broker: ServiceBroker) {
			if (s.auth.jwtSecretGenerated && (broker.getLocalService("api") || broker.getLocalService("customers"))) broker.logger.warn(keepJwtSecret(s.auth));
		},
	};
	// A getter: each broker built from these options (tests build several in one process) gets its own channel adapter.
	Object.defineProperty(options, "middlewares", {
		enumerable: true,
		get: () => [
			RemoteCallTimeoutMiddleware(s.requestTimeoutMs),
			EndpointWaitMiddleware(Math.min(s.requestTimeoutMs, ENDPOINT_WAIT_MS)),
			StartGateMiddleware(s.requestTimeoutMs),
			RestartedNodeMiddleware(),
			channels(s),
			RetryableChannelsMiddleware(),
			// The report a container's HEALTHCHECK reads (bin/healthcheck.ts).
			...(s.healthFile ? [HealthFileMiddleware(s.healthFile)] : []),
			...(s.cacher ? [NearCacheMiddleware({ maxEntries: s.cacheMaxEntries, maxBytes: s.cacheMaxBytes })] : []),
			...internalMiddlewares(options.hotReload === true),
			// Last: its stopping hook runs first.
			StoppingSignalMiddleware(),
		],
	});
	return options;
}

export default brokerOptions(settings);
