import type { IncomingMessage } from "http";
import type { Context } from "moleculer";
import { Errors } from "moleculer";
import type { Socket } from "socket.io";
import type { AuthUser } from "../../lib/contracts/auth";
import { Tokens } from "../../lib/infra/auth";
import { ForbiddenError, UnauthorizedError } from "../../lib/contracts/errors";
import { checkAccess, isRead } from "../../lib/contracts/routes";
import type { AuthSettings } from "../../lib/infra/settings";
import { type Meta, type ServiceBase, defineMixin } from "../../lib/contracts/types";
import { adminPlacement } from "./admin-placement";
import { DoorValidation } from "./door-validation";
import { cartToken } from "./cart-token";
import { idempotencyKey } from "./idempotency-key";
import { parseQuery } from "./query";
import { ROUTED_SERVICES } from "./routed-services";

/** A REST request as moleculer-web hands it on. */
export type Req = IncomingMessage & { $action?: { name: string }; $alias?: { action?: string | null }; $params?: unknown; query?: Record<string, unknown> };

/** What `this` is for the gateway's door checks. */
export interface AuthThis extends ServiceBase<{ auth: AuthSettings }> {
	tokens: Tokens;
	doors: DoorValidation;
	assertAccess(action: string, user: AuthUser | null | undefined): void;
	assertCurrent(user: AuthUser, read: boolean): Promise<void>;
}

/** Whether a token is still current cannot be checked now (customers unreachable): a write is refused, nothing done. */
class TokenCheckUnavailableError extends Errors.MoleculerRetryableError {
	constructor() {
		super("Whether this token is still valid cannot be checked right now; try again shortly", 503, "TOKEN_CHECK_UNAVAILABLE");
	}
}

/** The room of a customer's sockets opened with tokens of one version: those of a newer token stay open when earlier ones are revoked. */
export const tokenRoom = (customerId: string, version: number) => `tokens:${customerId}:${version}`;

/** Closes a socket once the refused call has its answer: closed first, the client would never hear why. */
export const closeAfterAnswer = (socket: Socket) => setImmediate(() => socket.disconnect(true));

/** A socket call's check: a revoked token's socket closes, and the call is refused as an expired token's is. */
export async function assertSocketCurrent(gateway: AuthThis, socket: Socket, user: AuthUser, read: boolean): Promise<void> {
	try {
		await gateway.assertCurrent(user, read);
	} catch (err) {
		if ((err as { type?: string }).type !== "TOKEN_REVOKED") throw err;
		closeAfterAnswer(socket);
		throw new UnauthorizedError("unauthorized", "TOKEN_REVOKED");
	}
}

/** The documentation's files (./docs.ts) are the aliases that call no action: public, whatever token comes along, and they take no params. */
const isDocsFile = (req: Req) => !req.$alias?.action;

/**
 * The gateway's doors, as moleculer-web's hooks: who the token says, that
 * the token is still current, that this user may call the action (the one
 * route table, for REST and Socket.IO), and that the request's params pass
 * the action's own rules (./door-validation.ts).
 */
const GatewayAuthMixin = defineMixin<{ auth: AuthSettings }, AuthThis>({
	methods: {
		/** moleculer-web's own, with the contract's rule for prototype keys (./query.ts). */
		parseQueryString(this: AuthThis, req: Req) {
			return parseQuery(req);
		},

		async authenticate(this: AuthThis, _ctx: Context, _route: unknown, req: Req): Promise<AuthUser | null> {
			const header = req.headers.authorization;
			if (!header || isDocsFile(req)) return null;
			const match = /^Bearer\s+(\S+)$/i.exec(header);
			const user = match ? this.tokens.verify(match[1]) : null;
			if (!user) throw new UnauthorizedError("Invalid or expired token", "INVALID_TOKEN");
			await this.assertCurrent(user, isRead(req.$action?.name ?? req.$alias?.action ?? ""));
			return user;
		},

		/**
		 * Every door's check that a verified token is still its account's
		 * current one (a block, a password or role change and a sign-out
		 * everywhere end the earlier ones). The version comes from
		 * customers.tokenVersion: on a cluster the gateway's near cache
		 * serves it, checked against the customers tag in Redis, which each
		 * of those writes renews before it answers. When customers cannot
		 * say, a read goes on the token alone; anything else is refused (503,
		 * nothing done).
		 */
		async assertCurrent(this: AuthThis, user: AuthUser, read: boolean): Promise<void> {
			let current: { version: number | null };
			try {
				current = await this.broker.call<{ version: number | null }, { id: string }>("customers.tokenVersion", { id: user.id });
			} catch {
				if (read) return;
				throw new TokenCheckUnavailableError();
			}
			if (current.version !== user.version) throw new UnauthorizedError("This token was revoked; sign in again", "TOKEN_REVOKED");
		},

		/** After authentication (moleculer-web's order): who may call, then the request's own shape and the action's rules. */
		async authorize(this: AuthThis, ctx: Context<unknown, Meta>, _route: unknown, req: Req) {
			if (isDocsFile(req)) return;
			const action = req.$action?.name ?? req.$alias?.action ?? "";
			this.assertAccess(action, ctx.meta.user);
			ctx.meta.idempotencyKey = idempotencyKey(req);
			ctx.meta.cartToken = cartToken(req);
			const fromQuery = Object.keys(req.query ?? {});
			if (fromQuery.length) ctx.meta.$queryFields = fromQuery;
			await this.doors.assert(action, req.$params as object, ctx.meta);
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
	},

	created(this: AuthThis) {
		this.tokens = new Tokens(this.settings.auth);
		this.doors = new DoorValidation(this.broker.validator as unknown as ConstructorParameters<typeof DoorValidation>[0], [this.schema, ...ROUTED_SERVICES]);
	},
});

export default GatewayAuthMixin;
