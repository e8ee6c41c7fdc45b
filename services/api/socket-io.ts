import { Errors, type Context, type LoggerInstance, type ServiceSchema } from "moleculer";
import SocketIOService from "moleculer-io";
import { createAdapter } from "@socket.io/redis-adapter";
import Redis, { type RedisOptions } from "ioredis";
import type { Server, Socket } from "socket.io";
import type { AuthUser } from "../../lib/contracts/auth";
import { namespacePrefix, redisOptions } from "../../lib/infra/redis";
import { errorBody } from "./errors";

/** What moleculer-io's `call` action receives. */
export interface IoCall {
	socket: Socket;
	action: unknown;
	params: unknown;
}

type IoCallHandler = (this: unknown, ctx: Context<IoCall>) => Promise<unknown>;
// moleculer-io types its schema apart from Moleculer's ServiceSchema, and leaves its actions' handlers out.
const ioSchema = SocketIOService as unknown as ServiceSchema & { actions: { call: { handler: IoCallHandler } } };
/** moleculer-io's service, mixed into the gateway. */
export const SocketIOMixin: ServiceSchema = ioSchema;
/** moleculer-io's own `call`, run once the door has let the call through. */
export const ioCall = ioSchema.actions.call.handler;

/** A Socket.IO message's limit: REST's body limit (BODY_LIMIT, "100kb"). A larger one closes its connection (Engine.IO's maxHttpBufferSize). */
export const MESSAGE_LIMIT_BYTES = 100 * 1024;

/** The sockets one account may hold at once on one gateway node. */
export const SOCKETS_PER_ACCOUNT = 20;

export class TooManyConnectionsError extends Errors.MoleculerClientError {
	constructor() {
		super(`An account holds at most ${SOCKETS_PER_ACCOUNT} sockets at once on a gateway node; close one first`, 429, "TOO_MANY_CONNECTIONS");
	}
}

/**
 * Refuses a handshake that would give the account one socket too many on
 * this node: its sockets here are its room's members on the local adapter
 * (joined during the handshake, left however the socket ends), so nothing
 * has to be counted back. Check and join happen in one turn.
 */
export function roomForSocket(socket: Socket, user: AuthUser): void {
	if ((socket.nsp.adapter.rooms.get(`customer:${user.id}`)?.size ?? 0) < SOCKETS_PER_ACCOUNT) return;
	throw Object.assign(new Error("too many connections"), { data: errorBody(new TooManyConnectionsError()) });
}

/** Who the handshake let in, if anyone. */
// moleculer-io keeps the handshake's user on the socket's client, which socket.io's typings do not declare.
export const socketUser = (socket: Socket) => (socket.client as unknown as { user?: AuthUser }).user;

/** A token's expiry can be further off than a timer can wait (2^31 ms): such a socket is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A socket lives no longer than its token: closed (pushes stopped) when the token expires. */
export function closeAtExpiry(socket: Socket, user: AuthUser): void {
	if (user.expiresAt === undefined) return;
	const wait = user.expiresAt - Date.now();
	const timer = setTimeout(() => (wait > MAX_TIMER_MS ? closeAtExpiry(socket, user) : socket.disconnect(true)), Math.min(Math.max(wait, 0), MAX_TIMER_MS));
	timer.unref();
	socket.once("disconnect", () => clearTimeout(timer));
}

type SocketHandler = (this: Socket, action: unknown, ...rest: unknown[]) => Promise<void>;
export type SocketHandlers = Record<string, Record<string, SocketHandler>>;

/**
 * moleculer-io hands a `call` without params on as params `null`, which is
 * a value the contract refuses; a call without params is `{}`. The params
 * go on as absent instead (the callback comes first when there are none).
 */
export function keepMissingParamsApart(handlers: SocketHandlers): void {
	const call = handlers["/"]?.call;
	if (!call) return;
	handlers["/"].call = function (this: Socket, action: unknown, ...rest: unknown[]) {
		return rest.length === 1 && typeof rest[0] === "function" ? call.call(this, action, undefined, rest[0]) : call.call(this, action, ...rest);
	};
}

/**
 * The Socket.IO Redis adapter's publishing client. The adapter publishes
 * without waiting for the answer, so a publish that fails while Redis is
 * away would be an unhandled rejection, which ends the process: it is
 * logged instead (that push is lost; pushes are not durable anyway).
 */
class QuietPublisher extends Redis {
	constructor(
		options: RedisOptions,
		private readonly log: LoggerInstance,
	) {
		super(options);
	}

	publish(channel: string | Buffer, message: string | Buffer): Promise<number> {
		return super.publish(channel, message).catch((err: Error) => {
			this.log.warn("A Socket.IO push to the other gateways was lost while Redis is away:", err.message);
			return 0;
		});
	}
}

/** The two Redis connections through which every gateway reaches every socket. */
export interface SocketRedis {
	pub: Redis;
	sub: Redis;
}

/** The adapter's connections; their owner quits them after Socket.IO closed. */
export function socketRedisClients(redisUrl: string, logger: LoggerInstance): SocketRedis {
	// Subscriptions made before the connection is up wait for it: the offline queue stays on here.
	// The subscriber waits for Redis (its subscriptions come back with it); a push published while Redis is away is lost, not fatal.
	// Auto-pipelining: the pushes of one turn (an order reaches its owner's room and the admins') leave in one write.
	const pub = new QuietPublisher({ ...redisOptions(redisUrl), enableAutoPipelining: true }, logger);
	const sub = new Redis({ ...redisOptions(redisUrl), enableOfflineQueue: true, maxRetriesPerRequest: null });
	for (const client of [pub, sub]) client.on("error", (err: Error) => logger.warn("Socket.IO Redis adapter:", err.message));
	return { pub, sub };
}

/** Quits the adapter's connections; one that is not connected (Redis away) is dropped, since a QUIT would wait for Redis forever. */
export async function closeSocketRedis({ pub, sub }: SocketRedis): Promise<void> {
	await Promise.all(
		[pub, sub].map(async client => {
			if (client.status === "ready") await client.quit().catch(() => client.disconnect());
			else client.disconnect();
		}),
	);
}

/** Puts the Socket.IO server on the Redis adapter, one channel prefix per namespace (none shared with another, or with no namespace). */
export function useRedisAdapter(io: Server, { pub, sub }: SocketRedis, namespace: string): void {
	io.adapter(createAdapter(pub, sub, { key: `${namespacePrefix(namespace)}socket.io` }));
}
