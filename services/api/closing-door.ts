import type { IncomingMessage, Server, ServerResponse } from "http";
import type { Duplex } from "stream";
import type { Server as SocketServer } from "socket.io";
import { Errors, type ServiceBroker } from "moleculer";
import { BROKER_STOPPING } from "../../middlewares/stopping-signal";

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;
type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** How often idle keep-alive connections are closed while the gateway stops. */
const CLOSE_IDLE_EVERY_MS = 100;

/**
 * The gateway's door while its node stops. Once the broker begins to stop
 * (before it waits for the calls in flight), every new request, on a new
 * connection or a kept-alive one, is answered 503 with `Connection: close`
 * (a client or load balancer tries another gateway), sockets are
 * disconnected, and each connection is closed as soon as it is idle.
 * Without it, a client polling over keep-alive (the operations page)
 * kept the gateway serving and calling nodes that were stopping too: the
 * stop waited on those calls (GracefulStopTimeoutError), and the HTTP
 * server, which closes only once every connection has ended, never did
 * (SIGKILL).
 */
export class ClosingDoor {
	private closing = false;
	private timer?: NodeJS.Timeout;

	constructor(
		private readonly server: Server,
		private readonly refuse: (req: IncomingMessage, res: ServerResponse, err: Error) => void,
		private readonly cutAfterMs: number,
	) {}

	/** A door on the gateway's server, shut when its broker begins to stop. */
	static install(server: Server, broker: ServiceBroker, io: () => SocketServer | null, refuse: ClosingDoor["refuse"]): ClosingDoor {
		const door = new ClosingDoor(server, refuse, broker.options.tracking?.shutdownTimeout ?? 5000);
		door.wrapListeners();
		broker.localBus.once(BROKER_STOPPING, () => door.close(io()));
		return door;
	}

	/** Closes Socket.IO and the HTTP server, cutting what is still open after the stop's wait. */
	async shut(io: SocketServer | null): Promise<void> {
		this.close(io);
		if (!io) return;
		const cut = setTimeout(() => this.end(), this.cutAfterMs);
		await new Promise<void>(resolve => void io.close(() => resolve()));
		clearTimeout(cut);
	}

	/** Wraps the server's request and upgrade listeners: installed last, so it answers before anything else does. */
	private wrapListeners(): void {
		const listeners = this.server.listeners("request") as RequestListener[];
		const upgrades = this.server.listeners("upgrade") as UpgradeListener[];
		this.server.removeAllListeners("request");
		this.server.removeAllListeners("upgrade");
		this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
			if (this.closing) socket.destroy();
			else for (const listener of upgrades) listener.call(this.server, req, socket, head);
		});
		this.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
			if (!this.closing) for (const listener of listeners) listener.call(this.server, req, res);
			else {
				res.setHeader("Connection", "close");
				this.refuse(req, res, new Errors.MoleculerRetryableError("The gateway is stopping", 503, "SERVICE_UNAVAILABLE"));
			}
		});
	}

	private close(io: SocketServer | null): void {
		if (this.closing) return;
		this.closing = true;
		io?.local.disconnectSockets(true);
		const closeIdle = () => this.server.closeIdleConnections();
		closeIdle();
		this.timer = setInterval(closeIdle, CLOSE_IDLE_EVERY_MS).unref();
		this.server.once("close", () => clearInterval(this.timer));
	}

	/** Ends what is still open (a request that outlived the stop's wait). */
	private end(): void {
		clearInterval(this.timer);
		this.server.closeAllConnections();
	}
}
