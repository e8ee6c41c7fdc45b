import type { Server as HttpServer, ServerResponse } from "http";
import { Errors, type Context, type ServiceBroker, type ServiceSchema } from "moleculer";
import ApiGateway from "moleculer-web";
import type { Server, Socket } from "socket.io";
import type { AuthUser } from "../lib/contracts/auth";
import { UnauthorizedError } from "../lib/contracts/errors";
import { RedisRateLimitStore } from "../lib/infra/rate-limit-store";
import { EXPOSED_ACTIONS, ROUTES, SOCKET_ACTIONS, restAliases } from "../lib/contracts/routes";
import { settings, type AuthSettings, type GatewaySettings } from "../lib/infra/settings";
import { type SecureSettings, defineService, state } from "../lib/contracts/types";
import GatewayAuthMixin, { assertSocketCurrent, closeAfterAnswer, tokenRoom, type Req } from "./api/auth";
import GatewayHealthMixin from "./api/health";
import OpsPageMixin from "./api/ops-page";
import EndpointWaitMixin, { waitForEndpoint } from "./api/endpoint-wait";
import { jsonBody, rawBodyToMeta } from "./api/body";
import { callAction, callParams } from "./api/call-input";
import { RateBudget, type RateLimitStore } from "./api/rate-budget";
import { gateEveryRequest } from "./api/rate-gate";
import { ClosingDoor } from "./api/closing-door";
import { clientAddress } from "./api/client-address";
import { RETRY_AFTER_S, answerClientError, errorBody, isUnexpected, statusOf } from "./api/errors";
import { closeAtExpiry, ioCall, keepMissingParamsApart, socketRedisClients, socketUser, useRedisAdapter, type IoCall, type SocketHandlers, type SocketRedis } from "./api/socket-io";
import { MESSAGE_LIMIT_BYTES, SocketIOMixin, closeSocketRedis, roomForSocket } from "./api/socket-io";
import { docFiles, docsAliases } from "./api/docs";
import { buildOpenApi } from "./api/openapi";
import { ROUTED_SERVICES } from "./api/routed-services";
import { version } from "../package.json";

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
	onError?(req: Req, res: ServerResponse, err: Error): void;
	io?: object;
}

/** The rate-limit counters: moleculer-web's memory store, or ours in Redis (which says whether Redis answers). */
type Counters = RateLimitStore & { ready?: boolean; close?(): Promise<void> };

/** The REST route: every alias from the route table, guarded by the gateway's settings, and the documentation's files. The rate limit is kept before any route (./api/rate-gate.ts). */
function apiRoutes(gateway: GatewaySettings, docs: ReturnType<typeof docsAliases>) {
	const route = {
		name: "api",
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
		onBeforeCall: rawBodyToMeta,
		aliases: { ...restAliases(), ...docs },
	};
	return [route];
}

/** The counters, in Redis when the gateway has it, so that the limit holds across gateway nodes. */
function rateLimitCounters(gateway: GatewaySettings, broker: ServiceBroker): Counters {
	const { windowMs } = gateway.rateLimit;
	return gateway.redisUrl ? new RedisRateLimitStore("requests", windowMs, { redisUrl: gateway.redisUrl }, broker) : new ApiGateway.RateLimitStores.MemoryStore(windowMs);
}

const ApiService = defineService({
	name: "api",
	// The first mixin wins where two define one method: the gateway's own doors over moleculer-web's parseQueryString.
	mixins: [EndpointWaitMixin, GatewayAuthMixin, ApiGateway, SocketIOMixin, GatewayHealthMixin, OpsPageMixin],

	settings: {
		$secureSettings: ["auth"],
		gateway: settings.gateway,
		auth: settings.auth,
		logRequest: "debug",
		logResponse: "debug",
		log4XXResponses: false,
		logRequestParams: null,
		logResponseData: null,

		onError(req: Req, res: ServerResponse, err: Error) {
			this.sendApiError(req, res, err);
		},

		// Socket.IO on the gateway's own HTTP server and port; a message has REST's body limit.
		io: {
			options: { maxHttpBufferSize: MESSAGE_LIMIT_BYTES },
			namespaces: {
				"/": {
					authorization: true,
					events: {
						call: {
							whitelist: [...SOCKET_ACTIONS],
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
	merged(schema: ServiceSchema) {
		const s = schema.settings as ApiSettings;
		const openApi = buildOpenApi(ROUTES, [schema, ...ROUTED_SERVICES], { version, rateLimit: s.gateway.rateLimit });
		Object.assign(s, { port: s.gateway.port, ip: s.gateway.host, routes: apiRoutes(s.gateway, docsAliases(docFiles(openApi))) });
		// With Redis every gateway reaches every socket (the Socket.IO Redis adapter): the gateways share one event group, so each event is pushed once per cluster.
		if (s.gateway.redisUrl) for (const event of PUSHED_EVENTS) (schema.events![event] as { group?: string }).group = "socket-push";
	},

	state: state<{ io: Server | null; server?: HttpServer; counters: Counters; budget: RateBudget; socketRedis?: SocketRedis; door?: ClosingDoor }>(),

	actions: {
		/**
		 * moleculer-io's `call`, behind the same door as REST: the client's
		 * rate-limit budget, a token still valid, params an object (none is
		 * `{}`) no deeper than REST allows; the whitelist, the roles and the
		 * action's own validation follow, and the wait for the action's node.
		 */
		call: {
			visibility: "private",
			async handler(ctx: Context<IoCall>) {
				const { socket } = ctx.params;
				await this.budget.spend(this.clientOf(socket));
				const user = socketUser(socket);
				if (user?.expiresAt !== undefined && user.expiresAt <= Date.now()) {
					closeAfterAnswer(socket);
					throw new UnauthorizedError("unauthorized", "TOKEN_EXPIRED");
				}
				const action = callAction(ctx.params.action);
				if (user) await assertSocketCurrent(this, socket, user, action, ctx.meta);
				// The route table decides, as for REST: an unknown action is 404 here, before Moleculer could call it missing.
				this.assertAccess(action, user);
				if (!SOCKET_ACTIONS.includes(action)) throw new Errors.MoleculerClientError("Not found", 404, "NOT_FOUND");
				const params = callParams(ctx.params.params);
				await this.doors.assert(action, params, {});
				ctx.params.action = action;
				ctx.params.params = params;
				await waitForEndpoint(this.broker, action);
				return ioCall.call(this, ctx);
			},
		},

		/** The cluster as this gateway saw it at most a second ago (HEALTH_REPORT_TTL_MS). */
	},

	events: {
		"order.updated": {
			handler(ctx: Context<{ order: { customerId: string } }>) {
				this.io?.to(`customer:${ctx.params.order.customerId}`).to("admins").emit("order.updated", ctx.params);
			},
		},
		"product.updated": {
			handler(ctx: Context) {
				this.io?.emit("product.updated", ctx.params);
			},
		},
		"alert.sent": {
			handler(ctx: Context) {
				this.io?.to("admins").emit("alert", ctx.params);
			},
		},
		/** The open sockets of a customer's earlier tokens close (a block, a password or role change, a sign-out everywhere), on every gateway (the Socket.IO adapter reaches them all). */
		"customer.tokensRevoked": {
			handler(ctx: Context<{ customerId: string; version: number }>) {
				const { customerId, version } = ctx.params;
				// In the next turn: a revocation asked through a socket gets its answer before that socket closes (a local event arrives before the answer).
				setImmediate(() => this.io?.in(`customer:${customerId}`).except(tokenRoom(customerId, version)).disconnectSockets(true));
			},
		},
		"analytics.updated": {
			handler(ctx: Context) {
				this.io?.to("admins").emit("analytics.updated", ctx.params);
			},
		},
	},

	methods: {
		/**
		 * Socket.IO handshake: a valid JWT of a customer who is not blocked.
		 * The socket joins `customer:<id>`, and admins also `admins`.
		 */
		async socketAuthorize(socket: Socket): Promise<AuthUser> {
			try {
				await this.budget.spend(this.clientOf(socket));
			} catch (err) {
				throw Object.assign(new Error("Rate limit exceeded"), { data: errorBody(err as Error) });
			}
			const token = (socket.handshake.auth as { token?: unknown })?.token;
			const user = typeof token === "string" ? this.tokens.verify(token) : null;
			if (!user) throw new Error("unauthorized");
			// A handshake only opens pushes: like a read, it goes on the token alone while customers cannot say.
			await this.assertCurrent(user, true).catch(() => {
				throw new Error("unauthorized");
			});
			roomForSocket(socket, user);
			await socket.join([`customer:${user.id}`, tokenRoom(user.id, user.version)]);
			if (user.role === "admin") await socket.join("admins");
			closeAtExpiry(socket, user);
			return user;
		},

		/** The client a socket counts against, as for REST: its handshake request's address. */
		clientOf(socket: Socket): string {
			return clientAddress(socket.request, this.settings.gateway.trustProxyHops);
		},

		/** moleculer-io answers a failed call with this: the contract's error shape, as REST's. */
		socketOnError(err: Error, respond: (body: unknown) => void) {
			if (isUnexpected(err)) this.logger.error("Socket call failed", err);
			respond(errorBody(err));
		},

		/** moleculer-web only logs a failed listen and runs on without a gateway: the node stops instead, naming the port. */
		failToListen(err: NodeJS.ErrnoException) {
			const { port, host } = this.settings.gateway;
			const why = err.code === "EADDRINUSE" ? "is in use" : err.code === "EACCES" ? "may not be opened by this user" : `cannot be opened (${err.code ?? err.message})`;
			this.broker.fatal(`The gateway cannot listen: port ${port} on ${host} ${why}. Stop what holds it, or set PORT (and HOST).`, err, true);
		},

		/** moleculer-web logs every 5xx with its stack; only the unexpected ones are worth it (sendApiError logs those). */
		errorHandler(req: Req, res: ServerResponse, err: Error) {
			this.sendApiError(req, res, err);
		},

		sendApiError(_req: Req, res: ServerResponse, err: Error) {
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

	created() {
		this.server?.once("error", (err: NodeJS.ErrnoException) => this.failToListen(err));
		this.counters = rateLimitCounters(this.settings.gateway, this.broker);
		this.budget = new RateBudget(this.counters, this.settings.gateway.rateLimit.max);
		keepMissingParamsApart((this.settings.io as { handlers?: SocketHandlers } | undefined)?.handlers ?? {});
	},

	started() {
		this.server?.on("clientError", answerClientError);
		// Last, once moleculer-web and Socket.IO have put their listeners on the server.
		if (this.server)
			gateEveryRequest(this.server, {
				budget: this.budget,
				clientOf: req => clientAddress(req, this.settings.gateway.trustProxyHops),
				refuse: (req, res, err) => this.sendApiError(req, res, err),
			});
		if (this.server)
			this.door = ClosingDoor.install(
				this.server,
				this.broker,
				() => this.io,
				(req, res, err) => this.sendApiError(req, res, err),
			);
		const redisUrl = this.settings.gateway.redisUrl;
		if (!redisUrl || !this.io) return;
		this.socketRedis = socketRedisClients(redisUrl, this.logger);
		useRedisAdapter(this.io, this.socketRedis, this.broker.namespace ?? "");
	},

	async stopped() {
		// Socket.IO (and its Redis adapter) first, while the Redis connections are still open; it closes the HTTP server too.
		const io = this.io;
		if (this.door) await this.door.shut(io);
		else if (io) await new Promise<void>(resolve => void io.close(() => resolve()));
		this.io = null;
		await this.counters.close?.();
		if (this.socketRedis) await closeSocketRedis(this.socketRedis);
	},
});

export default ApiService;
