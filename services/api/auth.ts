import type { IncomingMessage } from "http";
import type { Context, ServiceBroker } from "moleculer";
import { Errors } from "moleculer";
import type { Socket } from "socket.io";
import type { AuthUser } from "../../lib/contracts/auth";
import { Tokens } from "../../lib/infra/auth";
import { serviceOf } from "../../lib/infra/redis";
import { VersionedEntries, takeSnapshot, versionOf } from "../../lib/infra/version-snapshot";
import type { CacheVersions, VersionRead } from "../../lib/infra/cache-versions";
import type { BackendService } from "../../lib/contracts/services";
import { ForbiddenError, UnauthorizedError } from "../../lib/contracts/errors";
import { checkAccess, isRead } from "../../lib/contracts/routes";
import type { AuthSettings } from "../../lib/infra/settings";
import { type Meta, defineMixin, state } from "../../lib/contracts/types";
import { DoorValidation } from "./door-validation";
import { readRouteHeaders } from "./route-headers";
import { parseQuery } from "./query";
import { ROUTED_SERVICES } from "./routed-services";

/** A REST request as moleculer-web hands it on. */
export type Req = IncomingMessage & { $action?: { name: string }; $alias?: { action?: string | null }; $params?: unknown; query?: Record<string, unknown> };

const CUSTOMERS: BackendService = "customers";
/** Accounts whose token version a gateway keeps: a few bytes each. */
export const TOKEN_VERSIONS_KEPT = { maxEntries: 100_000, maxBytes: 16 * 1024 * 1024 };

/** The versions of the broker's cacher (none without a cacher). */
const versionsOf = (broker: ServiceBroker): CacheVersions | undefined => (broker.cacher as { versions?: CacheVersions } | null)?.versions;

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

/** What the doors' token check needs of the gateway. */
type TokenGate = {
	broker: ServiceBroker;
	tokenVersions: VersionedEntries<number | null>;
	assertCurrent(user: AuthUser, read: boolean, meta?: object): Promise<void>;
};

const assertSameVersion = (user: AuthUser, current: number | null): void => {
	if (current !== user.version) throw new UnauthorizedError("This token was revoked; sign in again", "TOKEN_REVOKED");
};

/**
 * Every door's check that a call's token is still current (REST's and
 * Socket.IO's). The account's version kept under the customers version
 * now settles it: read from the node's memory, nothing is awaited; read
 * from Redis, a read request reads it in one snapshot with its action's
 * cached answer (one round trip), and is checked as soon as it arrives.
 * Otherwise customers is asked (assertCurrent).
 */
export function assertTokenCurrent(gateway: TokenGate, user: AuthUser, action: string, meta: object): Promise<void> | undefined {
	const versions = versionsOf(gateway.broker);
	const read = isRead(action);
	const ask = () => gateway.assertCurrent(user, read, meta);
	if (versions?.readNow) return settledByKept(gateway, user, versions.readNow(CUSTOMERS)) ? undefined : ask();
	if (!versions || !read) return ask();
	const snapshot = takeSnapshot(meta, versions, [CUSTOMERS, serviceOf({ name: action })]);
	// A failed read is assertCurrent's to judge: it reads the snapshot again.
	return snapshot.then(got => (settledByKept(gateway, user, got.get(CUSTOMERS)!) ? undefined : ask()), ask);
}

/** Whether the account's version kept under this customers version settles the check (a revoked token is refused here). */
function settledByKept(gateway: TokenGate, user: AuthUser, at: VersionRead): boolean {
	const kept = gateway.tokenVersions.get(user.id, at);
	if (kept === undefined) return false;
	assertSameVersion(user, kept);
	return true;
}

/** A socket call's check: a revoked token's socket closes, and the call is refused as an expired token's is. */
export async function assertSocketCurrent(gateway: TokenGate, socket: Socket, user: AuthUser, action: string, meta: object): Promise<void> {
	try {
		await assertTokenCurrent(gateway, user, action, meta);
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
const GatewayAuthMixin = defineMixin({
	// The gateway's settings carry the token keys and lifetimes.
	needs: state<{ settings: { auth: AuthSettings } }>(),
	/** tokenVersions: each account's current token version, kept under the customers version it was read at. */
	state: state<{ tokens: Tokens; doors: DoorValidation; tokenVersions: VersionedEntries<number | null> }>(),

	methods: {
		/** moleculer-web's own, with the contract's rule for prototype keys (./query.ts). */
		parseQueryString(req: Req) {
			return parseQuery(req);
		},

		async authenticate(ctx: Context, _route: unknown, req: Req): Promise<AuthUser | null> {
			const header = req.headers.authorization;
			if (!header || isDocsFile(req)) return null;
			const user = this.tokens.verifyBearer(header, req.socket);
			if (!user) throw new UnauthorizedError("Invalid or expired token", "INVALID_TOKEN");
			const checking = assertTokenCurrent(this, user, req.$action?.name ?? req.$alias?.action ?? "", ctx.meta);
			if (checking) await checking;
			return user;
		},

		/**
		 * Every door's check that a verified token is still its account's
		 * current one (a block, a password or role change and a sign-out
		 * everywhere end the earlier ones). The version comes from
		 * customers.tokenVersion, which the gateway keeps under the customers
		 * version (currentTokenVersion), which each of those writes renews
		 * before it answers. When customers cannot
		 * say, a read goes on the token alone; anything else is refused (503,
		 * nothing done).
		 */
		async assertCurrent(user: AuthUser, read: boolean, meta: object = {}): Promise<void> {
			let current: number | null;
			try {
				current = await this.currentTokenVersion(user.id, meta);
			} catch {
				if (read) return;
				throw new TokenCheckUnavailableError();
			}
			assertSameVersion(user, current);
		},

		/**
		 * customers.tokenVersion, kept by this gateway under the customers
		 * version (which every customers write renews before it answers): a
		 * check costs a version read, which a read request shares with its
		 * action's cached answer (lib/infra/version-snapshot.ts), and no call.
		 */
		async currentTokenVersion(id: string, meta: object): Promise<number | null> {
			const ask = async (opts?: object) => (await this.broker.call<{ version: number | null }, { id: string }>("customers.tokenVersion", { id }, opts)).version;
			const versions = versionsOf(this.broker);
			if (!versions) return ask();
			const tag = await versionOf(meta, versions, CUSTOMERS);
			const known = this.tokenVersions.get(id, tag);
			if (known !== undefined) return known;
			// Asked under the version read before asking (the owner's cacher keeps and serves it under that one), and kept here under it too.
			const version = await ask({ meta: { $cacheVersion: { service: CUSTOMERS, ...tag } } });
			this.tokenVersions.set(id, tag, version, 8);
			return version;
		},

		/** After authentication (moleculer-web's order): who may call, then the request's own shape and the action's rules. */
		async authorize(ctx: Context<unknown, Meta>, _route: unknown, req: Req) {
			if (isDocsFile(req)) return;
			const action = req.$action?.name ?? req.$alias?.action ?? "";
			this.assertAccess(action, ctx.meta.user);
			const fromQuery = Object.keys(req.query ?? {});
			if (fromQuery.length) ctx.meta.$queryFields = fromQuery;
			await this.doors.assert(action, req.$params as object, ctx.meta);
			Object.assign(ctx.meta, readRouteHeaders(action, req));
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

	created() {
		this.tokens = new Tokens(this.settings.auth);
		this.tokenVersions = new VersionedEntries(TOKEN_VERSIONS_KEPT);
		// Moleculer types the broker's validator as its base class; ours is ShopValidator (moleculer.config.ts).
		this.doors = new DoorValidation(this.broker.validator as unknown as ConstructorParameters<typeof DoorValidation>[0], [this.schema, ...ROUTED_SERVICES]);
	},
});

export default GatewayAuthMixin;
