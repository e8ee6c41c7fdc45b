import type { IncomingMessage, Server as HttpServer, ServerResponse } from "http";
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import ApiGateway from "moleculer-web";
import SocketIOService from "moleculer-io";
import type { Server, Socket } from "socket.io";
import { Tokens, type AuthUser } from "../lib/auth";
import { ForbiddenError, UnauthorizedError } from "../lib/errors";
import { RedisRateLimitStore } from "../lib/rate-limit-store";
import { EXPOSED_ACTIONS, ROUTES, checkAccess, restAliases } from "../lib/routes";
import { settings, type AuthSettings, type GatewaySettings } from "../lib/settings";
import { type Meta, type SecureSettings, type ServiceBase, defineService } from "../lib/types";
import OpsPageMixin from "../mixins/ops-page.mixin";
import { adminPlacement } from "./api/admin-placement";
import { assertShallow, jsonBody } from "./api/body";
import { dependencyStates } from "../lib/dependencies";
import { RateBudget, callAction, callParams, type RateLimitStore } from "./api/doors";
import { clientAddress } from "./api/client-address";
import { RETRY_AFTER_S, answerClientError, errorBody, isUnexpected, statusOf } from "./api/errors";
import { idempotencyKey } from "./api/idempotency-key";
import { closeAtExpiry, ioCall, keepMissingParamsApart, socketRedisClients, socketUser, useRedisAdapter, type IoCall, type SocketHandlers, type SocketRedis } from "./api/socket-io";
import { docFiles, docsAliases } from "./api/docs";
import { buildOpenApi } from "./api/openapi";
import { ROUTED_SERVICES } from "./api/routed-services";
import { version } from "../package.json";

type Req = IncomingMessage & { $action?: { name: string }; $alias?: { action?: string | null }; $params?: unknown; query?: Record<string, unknown> };

/** The services /api/health reports, by the name clients see. */
const HEALTH_TARGETS: Record<string, string> = {
	"order-service": "orders",
	"product-service": "products",
	"customer-service": "customers",
	"alert-service": "alerts",
	"analytics-service": "analytics",
};
/** How long GET /api/health waits for each service (lib/health-report.ts's HEALTH_CALL_TIMEOUT_MS is the health file's, longer). */
const GATEWAY_HEALTH_TIMEOUT_MS = 1500;
/** The events pushed to Socket.IO clients. */
const PUSHED_EVENTS = ["order.updated", "product.updated", "alert.sent", "analytics.updated"];

interface ApiSettings extends SecureSettings {
	gateway: GatewaySettings;
	auth: AuthSettings;
	/** moleculer-web's and moleculer-io's own settings. */
	logRequest?: string;
	logResponse?: string;
	log4XXResponses?: boolean;
	logRequestParams?: string | null;
	logResponseData?: string | null;
	onError?(this: ApiThis, req: Req, res: ServerResponse, err: Error): void;
	io?: object;
}

interface RateLimitedRoute {
	rateLimit?: { limit: number; store: RateLimitStore & { close?(): Promise<void> } };
}

/** What `this` is inside the gateway. */
interface ApiThis extends ServiceBase<ApiSettings> {
	io: Server | null;
	tokens: Tokens;
	routes?: RateLimitedRoute[];
	server?: HttpServer;
	budget: RateBudget;
	socketRedis?: SocketRedis;
	assertAccess(action: string, user: AuthUser | null | undefined): void;
	isBlocked(customerId: string): Promise<boolean>;
	clientOf(socket: Socket): string;
	isServiceUp(ctx: Context, service: string): Promise<boolean>;
	sendApiError(req: Req, res: ServerResponse, err: Error): void;
}

/** The REST routes: every alias from the route table, guarded by the gateway's settings, and the documentation's files; health outside the rate limit. */
function apiRoutes(gateway: GatewaySettings, docs: ReturnType<typeof docsAliases>) {
	const common = {
		path: "/api",
		// Per-request logs cost ~10% of throughput even when their level is off: only with LOG_LEVEL=debug.
		logging: gateway.logRequests,
		whitelist: [...EXPOSED_ACTIONS],
		mappingPolicy: "restrict",
		autoAliases: false,
		authentication: true,
		authorization: true,
		mergeParams: true,
		bodyParsers: false,
		use: [jsonBody],
	};
	const limited = {
		...common,
		name: "api",
		rateLimit: {
			window: gateway.rateLimit.windowMs,
			limit: gateway.rateLimit.max,
			headers: true,
			key: (req: IncomingMessage) => clientAddress(req, gateway.trustProxyHops),
			...(gateway.redisUrl ? { StoreFactory: RedisRateLimitStore, redisUrl: gateway.redisUrl } : {}),
		},
		aliases: { ...restAliases(true), ...docs },
	};
	return [{ ...common, name: "health", aliases: restAliases(false) }, limited];
}

/** The documentation's files (./api/docs.ts) are the aliases that call no action: public, whatever token comes along, and they take no params. */
const isDocsFile = (req: Req) => !req.$alias?.action;

const ApiService = defineService<ApiSettings, ApiThis>({
	name: "api",
	mixins: [ApiGateway, SocketIOService as unknown as ServiceSchema, OpsPageMixin],

	settings: {
		$secureSettings: ["auth"],
		gateway: settings.gateway,
		auth: settings.auth,
		logRequest: "debug",
		logResponse: "debug",
		log4XXResponses: false,
		logRequestParams: null,
		logResponseData: null,

		onError(this: ApiThis, req: Req, res: ServerResponse, err: Error) {
			this.sendApiError(req, res, err);
		},

		// Socket.IO on the gateway's own HTTP server and port.
		io: {
			namespaces: {
				"/": {
					authorization: true,
					events: {
						call: {
							whitelist: [...EXPOSED_ACTIONS],
						},
					},
				},
			},
		},
	},

	/**
	 * Port, routes and push group from the final settings, so a test or a node may mix in other gateway settings;
	 * the OpenAPI description from the route table and the final schemas, the gateway's own included.
	 */
	merged(schema: ServiceSchema<ApiSettings, ApiThis>) {
		const s = schema.settings!;
		const openApi = buildOpenApi(ROUTES, [schema, ...ROUTED_SERVICES], { version, rateLimit: s.gateway.rateLimit });
		Object.assign(s, { port: s.gateway.port, ip: s.gateway.host, routes: apiRoutes(s.gateway, docsAliases(docFiles(openApi))) });
		// With Redis every gateway reaches every socket (the Socket.IO Redis adapter): the gateways share one event group, so each event is pushed once per cluster.
		if (s.gateway.redisUrl) for (const event of PUSHED_EVENTS) (schema.events![event] as { group?: string }).group = "socket-push";
	},

	actions: {
		/**
		 * moleculer-io's `call`, behind the same door as REST: the client's
		 * rate-limit budget, a token still valid, params an object (none is
		 * `{}`) no deeper than REST allows; the whitelist, the roles and the
		 * action's own validation follow.
		 */
		call: {
			visibility: "private",
			async handler(this: ApiThis, ctx: Context<IoCall>) {
				const { socket } = ctx.params;
				await this.budget.spend(this.clientOf(socket));
				const user = socketUser(socket);
				if (user?.expiresAt !== undefined && user.expiresAt <= Date.now()) {
					socket.disconnect(true);
					throw new UnauthorizedError("unauthorized", "TOKEN_EXPIRED");
				}
				const action = callAction(ctx.params.action);
				// The route table decides, as for REST: an unknown action is 404 here, before Moleculer could call it missing.
				this.assertAccess(action, user);
				ctx.params.action = action;
				ctx.params.params = callParams(ctx.params.params);
				return ioCall.call(this, ctx);
			},
		},

		health: {
			async handler(this: ApiThis, ctx: Context<unknown, Meta>) {
				const entries = await Promise.all(Object.entries(HEALTH_TARGETS).map(async ([label, service]) => [label, (await this.isServiceUp(ctx, service)) ? "running" : "down"]));
				const services = Object.fromEntries(entries) as Record<string, string>;
				const dependencies = dependencyStates(this.broker);
				const healthy = entries.every(([, state]) => state === "running") && !Object.values(dependencies).includes("down");
				if (!healthy) {
					ctx.meta.$statusCode = 503;
					ctx.meta.$responseHeaders = { "Retry-After": String(RETRY_AFTER_S) };
				}
				return { status: healthy ? "ok" : "degraded", services, dependencies };
			},
		},
	},

	events: {
		"order.updated": {
			handler(this: ApiThis, ctx: Context<{ order: { customerId: string } }>) {
				this.io?.to(`customer:${ctx.params.order.customerId}`).to("admins").emit("order.updated", ctx.params);
			},
		},
		"product.updated": {
			handler(this: ApiThis, ctx: Context) {
				this.io?.emit("product.updated", ctx.params);
			},
		},
		"alert.sent": {
			handler(this: ApiThis, ctx: Context) {
				this.io?.to("admins").emit("alert", ctx.params);
			},
		},
		/** A blocked customer's open sockets close, on every gateway (the Socket.IO adapter reaches them all). */
		"customer.blocked": {
			handler(this: ApiThis, ctx: Context<{ customerId: string }>) {
				this.io?.in(`customer:${ctx.params.customerId}`).disconnectSockets(true);
			},
		},
		"analytics.updated": {
			handler(this: ApiThis, ctx: Context) {
				this.io?.to("admins").emit("analytics.updated", ctx.params);
			},
		},
	},

	methods: {
		authenticate(this: ApiThis, _ctx: Context, _route: unknown, req: Req): AuthUser | null {
			const header = req.headers.authorization;
			if (!header || isDocsFile(req)) return null;
			const match = /^Bearer\s+(\S+)$/i.exec(header);
			const user = match ? this.tokens.verify(match[1]) : null;
			if (!user) throw new UnauthorizedError("Invalid or expired token", "INVALID_TOKEN");
			return user;
		},

		/** After authentication (moleculer-web's order): who may call, then the request's own shape. */
		authorize(this: ApiThis, ctx: Context<unknown, Meta>, _route: unknown, req: Req) {
			if (isDocsFile(req)) return;
			const action = req.$action?.name ?? req.$alias?.action ?? "";
			this.assertAccess(action, ctx.meta.user);
			assertShallow(req.$params);
			ctx.meta.idempotencyKey = idempotencyKey(req);
			const fromQuery = Object.keys(req.query ?? {});
			if (fromQuery.length) ctx.meta.$queryFields = fromQuery;
			if (action === "orders.create") Object.assign(ctx.meta, adminPlacement(req, ctx.meta.user));
		},

		/** The same rule for REST and Socket.IO calls, from the one route table. */
		assertAccess(action: string, user: AuthUser | null | undefined) {
			switch (checkAccess(action, user)) {
				case "allow":
					return;
				case "unauthenticated":
					throw new UnauthorizedError("Sign in to do this", "NO_TOKEN");
				case "forbidden":
					throw new ForbiddenError("Your role may not do this");
				default:
					throw new Errors.MoleculerClientError("Not found", 404, "NOT_FOUND");
			}
		},

		/**
		 * Socket.IO handshake: a valid JWT of a customer who is not blocked.
		 * The socket joins `customer:<id>`, and admins also `admins`.
		 */
		async socketAuthorize(this: ApiThis, socket: Socket): Promise<AuthUser> {
			try {
				await this.budget.spend(this.clientOf(socket));
			} catch (err) {
				throw Object.assign(new Error("Rate limit exceeded"), { data: errorBody(err as Error) });
			}
			const token = (socket.handshake.auth as { token?: unknown })?.token;
			const user = typeof token === "string" ? this.tokens.verify(token) : null;
			if (!user || (await this.isBlocked(user.id))) throw new Error("unauthorized");
			await socket.join(`customer:${user.id}`);
			if (user.role === "admin") await socket.join("admins");
			closeAtExpiry(socket, user);
			return user;
		},

		/** The client a socket counts against, as for REST: its handshake request's address. */
		clientOf(this: ApiThis, socket: Socket): string {
			return clientAddress(socket.request, this.settings.gateway.trustProxyHops);
		},

		/** moleculer-io answers a failed call with this: the contract's error shape, as REST's. */
		socketOnError(this: ApiThis, err: Error, respond: (body: unknown) => void) {
			if (isUnexpected(err)) this.logger.error("Socket call failed", err);
			respond(errorBody(err));
		},

		async isBlocked(this: ApiThis, customerId: string): Promise<boolean> {
			try {
				const res = await this.broker.call<{ allowed: boolean }, { id: string }>("customers.canOrder", { id: customerId });
				return !res.allowed;
			} catch (err) {
				// Customers unreachable: the token alone decides.
				this.logger.warn("Could not check the customer at the socket handshake", (err as Error).message);
				return false;
			}
		},

		async isServiceUp(this: ApiThis, ctx: Context, service: string): Promise<boolean> {
			if (!(this.broker.registry as unknown as { hasService(n: string): boolean }).hasService(service)) return false;
			try {
				await ctx.call(`${service}.health`, {}, { timeout: GATEWAY_HEALTH_TIMEOUT_MS, retries: 0 });
				return true;
			} catch {
				return false;
			}
		},

		/** moleculer-web logs every 5xx with its stack; only the unexpected ones are worth it (sendApiError logs those). */
		errorHandler(this: ApiThis, req: Req, res: ServerResponse, err: Error) {
			this.sendApiError(req, res, err);
		},

		sendApiError(this: ApiThis, _req: Req, res: ServerResponse, err: Error) {
			if (isUnexpected(err)) this.logger.error("Request failed", err);
			if (!res.headersSent) {
				const status = statusOf(err);
				res.setHeader("Content-Type", "application/json; charset=utf-8");
				if (status === 503) res.setHeader("Retry-After", String(RETRY_AFTER_S));
				res.writeHead(status);
			}
			res.end(JSON.stringify(errorBody(err)));
		},
	},

	created(this: ApiThis) {
		this.tokens = new Tokens(this.settings.auth);
		keepMissingParamsApart((this.settings.io as { handlers?: SocketHandlers } | undefined)?.handlers ?? {});
	},

	started(this: ApiThis) {
		this.server?.on("clientError", answerClientError);
		const rest = this.routes!.find(route => route.rateLimit)!.rateLimit!;
		this.budget = new RateBudget(rest.store, rest.limit);
		const redisUrl = this.settings.gateway.redisUrl;
		if (!redisUrl || !this.io) return;
		this.socketRedis = socketRedisClients(redisUrl, this.logger);
		useRedisAdapter(this.io, this.socketRedis, this.broker.namespace ?? "");
	},

	async stopped(this: ApiThis) {
		// Socket.IO (and its Redis adapter) first, while the Redis connections are still open; it closes the HTTP server too.
		const io = this.io;
		if (io) {
			await new Promise<void>(resolve => void io.close(() => resolve()));
			this.io = null;
		}
		for (const route of this.routes ?? []) await route.rateLimit?.store?.close?.();
		await Promise.all([this.socketRedis?.pub.quit(), this.socketRedis?.sub.quit()]);
	},
});

export default ApiService;
