import type { IncomingMessage, ServerResponse } from "http";
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import ApiGateway from "moleculer-web";
import SocketIOService from "moleculer-io";
import { createAdapter as createRedisAdapter } from "@socket.io/redis-adapter";
import Redis from "ioredis";
import type { Socket } from "socket.io";
import { verifyToken, type AuthUser } from "../lib/auth";
import { ForbiddenError, UnauthorizedError, UnprocessableError } from "../lib/errors";
import { EXPOSED_ACTIONS, checkAccess, restAliases } from "../lib/routes";
import { RedisRateLimitStore } from "../lib/rate-limit-store";
import type { Meta } from "../lib/types";

type Req = IncomingMessage & { $action?: { name: string }; $alias?: { action?: string }; $ctx?: Context };

/** The services /api/health reports, by the name clients see. */
const HEALTH_TARGETS: Record<string, string> = {
	"order-service": "orders",
	"product-service": "products",
	"customer-service": "customers",
	"alert-service": "alerts",
	"analytics-service": "analytics",
};
const HEALTH_CALL_TIMEOUT_MS = 1500;
const REDIS_URL = process.env.CACHER?.startsWith("redis") ? process.env.CACHER : undefined;
/**
 * With Redis, every gateway node reaches every socket (the Socket.IO Redis
 * adapter), so the nodes share one event group: each event is pushed once
 * per cluster. Without it, each node pushes to its own sockets.
 */
const PUSH_GROUP = REDIS_URL ? "socket-push" : undefined;

const TRUST_PROXY = !!process.env.TRUST_PROXY;

function clientAddress(req: IncomingMessage): string {
	if (TRUST_PROXY) {
		const forwarded = req.headers["x-forwarded-for"];
		const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim();
		if (first) return first;
	}
	return req.socket.remoteAddress || "unknown";
}

const ApiService: ServiceSchema = {
	name: "api",
	mixins: [ApiGateway, SocketIOService as unknown as ServiceSchema],

	settings: {
		port: Number(process.env.PORT ?? 5000),
		ip: process.env.HOST || "0.0.0.0",
		logRequest: "debug",
		logResponse: "debug",
		log4XXResponses: false,
		logRequestParams: null,
		logResponseData: null,

		routes: [
			{
				path: "/api",
				// Per-request logs cost ~10% of throughput even when their level is off: only with LOG_LEVEL=debug.
				logging: process.env.LOG_LEVEL === "debug",
				whitelist: EXPOSED_ACTIONS as string[],
				mappingPolicy: "restrict",
				autoAliases: false,
				authentication: true,
				authorization: true,
				mergeParams: true,
				bodyParsers: { json: { strict: true, limit: "100kb" }, urlencoded: false },
				rateLimit: {
					window: Number(process.env.RATE_LIMIT_WINDOW_MS) || 60_000,
					limit: Number(process.env.RATE_LIMIT_MAX) || 300,
					headers: true,
					key: clientAddress,
					...(process.env.CACHER?.startsWith("redis") ? { StoreFactory: RedisRateLimitStore } : {}),
				},
				aliases: restAliases(),
				onBeforeCall(ctx: Context<unknown, Meta>, _route: unknown, req: Req) {
					const key = req.headers["idempotency-key"];
					if (key === undefined) return;
					if (typeof key !== "string" || key.length < 1 || key.length > 100) {
						throw new UnprocessableError("Idempotency-Key must be 1 to 100 characters", [{ field: "Idempotency-Key", type: "stringLength" }], "VALIDATION_ERROR");
					}
					ctx.meta.idempotencyKey = key;
				},
			},
		],

		onError(this: any, req: Req, res: ServerResponse, err: any) {
			this.sendApiError(req, res, err);
		},

		// Socket.IO on the gateway's own HTTP server and port.
		io: {
			namespaces: {
				"/": {
					authorization: true,
					events: {
						call: {
							whitelist: EXPOSED_ACTIONS as string[],
							onBeforeCall(this: any, _ctx: Context, socket: Socket, action: string) {
								this.assertAccess(action, (socket.client as unknown as { user?: AuthUser }).user);
							},
						},
					},
				},
			},
		},
	},

	actions: {
		health: {
			async handler(ctx: Context<unknown, Meta>) {
				const entries = await Promise.all(
					Object.entries(HEALTH_TARGETS).map(async ([label, service]) => [label, (await this.isServiceUp(ctx, service)) ? "running" : "down"]),
				);
				const services = Object.fromEntries(entries);
				const healthy = entries.every(([, state]) => state === "running");
				if (!healthy) ctx.meta.$statusCode = 503;
				return { status: healthy ? "ok" : "degraded", services };
			},
		},
	},

	events: {
		"order.updated": {
			group: PUSH_GROUP,
			handler(this: any, ctx: Context<{ order: { customerId: string } }>) {
				this.io.to(`customer:${ctx.params.order.customerId}`).to("admins").emit("order.updated", ctx.params);
			},
		},
		"product.updated": {
			group: PUSH_GROUP,
			handler(this: any, ctx: Context) {
				this.io.emit("product.updated", ctx.params);
			},
		},
		"alert.sent": {
			group: PUSH_GROUP,
			handler(this: any, ctx: Context) {
				this.io.to("admins").emit("alert", ctx.params);
			},
		},
		"analytics.updated": {
			group: PUSH_GROUP,
			handler(this: any, ctx: Context) {
				this.io.to("admins").emit("analytics.updated", ctx.params);
			},
		},
	},

	methods: {
		authenticate(_ctx: Context, _route: unknown, req: Req) {
			const header = req.headers.authorization;
			if (!header) return null;
			const match = /^Bearer\s+(\S+)$/i.exec(header);
			const user = match ? verifyToken(match[1]) : null;
			if (!user) throw new UnauthorizedError("Invalid or expired token", "INVALID_TOKEN");
			return user;
		},

		authorize(ctx: Context<unknown, Meta>, _route: unknown, req: Req) {
			this.assertAccess(req.$action?.name ?? req.$alias?.action ?? "", ctx.meta.user);
		},

		/** The same rule for REST and Socket.IO calls, from the one permission table. */
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
		async socketAuthorize(socket: Socket): Promise<AuthUser> {
			const token = (socket.handshake.auth as { token?: unknown })?.token;
			const user = typeof token === "string" ? verifyToken(token) : null;
			if (!user || (await this.isBlocked(user.id))) throw new Error("unauthorized");
			await socket.join(`customer:${user.id}`);
			if (user.role === "admin") await socket.join("admins");
			return user;
		},

		async isBlocked(customerId: string): Promise<boolean> {
			try {
				const res = await this.broker.call<{ allowed: boolean }, { id: string }>("customers.canOrder", { id: customerId });
				return !res.allowed;
			} catch (err) {
				// Customers unreachable: the token alone decides.
				this.logger.warn("Could not check the customer at the socket handshake", (err as Error).message);
				return false;
			}
		},

		async isServiceUp(ctx: Context, service: string): Promise<boolean> {
			if (!(this.broker.registry as unknown as { hasService(n: string): boolean }).hasService(service)) return false;
			try {
				await ctx.call(`${service}.health`, {}, { timeout: HEALTH_CALL_TIMEOUT_MS, retries: 0 });
				return true;
			} catch {
				return false;
			}
		},

		/** moleculer-web's error shape, never a stack; a 5xx that is not ours says no more than that. */
		sendApiError(req: Req, res: ServerResponse, err: any) {
			const status = this.statusOf(err);
			let body = { name: err.name, message: err.message, code: status, type: err.type ?? (status === 429 ? "RATE_LIMIT_EXCEEDED" : undefined), data: err.data };
			if (status === 413) body = { name: "PayloadTooLarge", message: "Request body is larger than 100 kB", code: 413, type: "PAYLOAD_TOO_LARGE", data: undefined };
			else if (status === 400 && err.type === "entity.parse.failed") body = { name: "BadRequest", message: "Malformed JSON body", code: 400, type: "INVALID_JSON", data: undefined };
			else if (status >= 500 && !(err instanceof Errors.MoleculerError)) {
				this.logger.error("Request failed", err);
				body = { name: "InternalServerError", message: "Internal server error", code: 500, type: "INTERNAL_ERROR", data: undefined };
			}
			if (body.type === "VALIDATION_ERROR" && Array.isArray(body.data)) {
				body.data = body.data.map(({ actual, ...rest }: { actual?: unknown; field?: string }) => (String(rest.field).includes("password") ? rest : { ...rest, actual }));
			}
			if (!res.headersSent) {
				res.setHeader("Content-Type", "application/json; charset=utf-8");
				res.writeHead(status);
			}
			res.end(JSON.stringify(body));
		},

		statusOf(err: any): number {
			const candidates = [err?.code, err?.status, err?.statusCode];
			for (const c of candidates) if (Number.isInteger(c) && c >= 400 && c <= 599) return c;
			return 500;
		},
	},

	started() {
		if (REDIS_URL) {
			this.ioPub = new Redis(REDIS_URL);
			this.ioSub = this.ioPub.duplicate();
			for (const client of [this.ioPub, this.ioSub]) client.on("error", (err: Error) => this.logger.warn("Socket.IO Redis adapter:", err.message));
			this.io.adapter(createRedisAdapter(this.ioPub, this.ioSub, { key: `${this.broker.namespace || "MOL"}#socket.io` }));
		}
	},

	async stopped() {
		// Socket.IO (and its Redis adapter) first, while the Redis connections are still open; it closes the HTTP server too.
		if (this.io) {
			await new Promise<void>(resolve => this.io.close(() => resolve()));
			this.io = null;
		}
		for (const route of this.routes ?? []) await route.rateLimit?.store?.close?.();
		await Promise.all([this.ioPub?.quit(), this.ioSub?.quit()].filter(Boolean));
	},
};

export default ApiService;
