import { Middleware as ChannelsMiddleware } from "@moleculer/channels";
import type { BrokerOptions, Middleware, ServiceBroker } from "moleculer";
import { AmqpTransporter } from "./lib/amqp-transporter";
import { ConfirmedAmqpAdapter, InProcessAdapter } from "./lib/channel-adapters";
import { CONSUMER_GROUPS, DEAD_LETTER } from "./lib/channels";
import { NearCacheMiddleware } from "./middlewares/near-cache";
import { ShopErrorRegenerator } from "./lib/errors";
import { ShopMemoryCacher, ShopRedisCacher, namespacePrefix, redisOptions } from "./lib/redis";
import { settings, type Settings } from "./lib/settings";
import { ShopValidator } from "./lib/validation";
import { HealthFileMiddleware } from "./middlewares/health-file";
import { RemoteCallTimeoutMiddleware } from "./middlewares/remote-call-timeout";
import { StartGateMiddleware } from "./middlewares/start-gate";
import { RestartedNodeMiddleware } from "./middlewares/restarted-node";

/**
 * The broker's options, from the settings (lib/settings.ts). Unset
 * TRANSPORTER / CACHER give the embedded default: one process, memory cache.
 */
function transporter(s: Settings): BrokerOptions["transporter"] {
	if (!s.transporter?.startsWith("amqp")) return s.transporter;
	return new AmqpTransporter({
		url: s.transporter,
		// The defaults (prefetch 1, Nagle on) cap remote calls at ~23/s.
		prefetch: 100,
		socketOptions: { noDelay: true },
	});
}

function cacher(s: Settings): BrokerOptions["cacher"] {
	// Bounded: at most cacheMaxEntries answers, each for cacheTtlS (writes clear what they change anyway).
	if (!s.cacher) return new ShopMemoryCacher({ clone: false, max: s.cacheMaxEntries, ttl: s.cacheTtlS });
	return new ShopRedisCacher({
		// The namespace's own prefix: no other namespace's keys start with it.
		prefix: namespacePrefix(s.namespace),
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
 * delivery that a publisher awaits (lib/channel-adapters.ts).
 */
function channels(s: Settings): Middleware {
	if (!s.transporter?.startsWith("amqp"))
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

export function brokerOptions(s: Settings): BrokerOptions {
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
		bulkhead: { enabled: false },

		// fastest-validator with the contract's null and depth rules. Unknown body fields are dropped, never stored.
		validator: new ShopValidator({ useNewCustomCheckerFunction: true, defaults: { object: { strict: "remove" } } }) as unknown as BrokerOptions["validator"],

		metrics: {
			enabled: s.metricsPort !== undefined,
			reporter: { type: "Prometheus", options: { port: s.metricsPort ?? 3030, path: "/metrics" } },
		},
		tracing: tracing(s),

		started(broker: ServiceBroker) {
			if (s.auth.jwtSecretGenerated && (broker.getLocalService("api") || broker.getLocalService("customers"))) {
				broker.logger.warn(
					"JWT_SECRET is not set: tokens are signed with a secret generated for this process; they die with it, and other nodes cannot verify them. Set JWT_SECRET (16+ characters).",
				);
			}
		},
	};
	// A getter: each broker built from these options (tests build several in one process) gets its own channel adapter.
	Object.defineProperty(options, "middlewares", {
		enumerable: true,
		get: () => [
			RemoteCallTimeoutMiddleware(s.requestTimeoutMs),
			StartGateMiddleware(s.requestTimeoutMs),
			RestartedNodeMiddleware(),
			channels(s),
			// The report a container's HEALTHCHECK reads (bin/healthcheck.ts).
			...(s.healthFile ? [HealthFileMiddleware(s.healthFile)] : []),
			...(s.cacher ? [NearCacheMiddleware(s.cacheMaxEntries)] : []),
		],
	});
	return options;
}

export default brokerOptions(settings);
