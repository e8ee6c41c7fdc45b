import net from "net";
import { REDIS_URL } from "./cluster";

/** A TCP proxy in front of the real Redis that a test can take away and bring back. */
export class RedisProxy {
	private server: net.Server | null = null;
	private readonly sockets = new Set<net.Socket>();
	constructor(readonly port: number) {}

	get url(): string {
		return `redis://127.0.0.1:${this.port}`;
	}

	start(): Promise<void> {
		const upstream = new URL(REDIS_URL);
		this.server = net.createServer(client => {
			const server = net.connect(Number(upstream.port) || 6379, upstream.hostname);
			for (const s of [client, server]) {
				this.sockets.add(s);
				s.on("close", () => this.sockets.delete(s));
				s.on("error", () => undefined);
			}
			client.pipe(server).pipe(client);
		});
		return new Promise(resolve => this.server!.listen(this.port, "127.0.0.1", () => resolve()));
	}

	/** Redis is unreachable: connections cut, new ones refused. */
	async stop(): Promise<void> {
		for (const s of this.sockets) s.destroy();
		await new Promise<void>(resolve => (this.server ? this.server.close(() => resolve()) : resolve()));
		this.server = null;
	}
}
