import { Transporters } from "moleculer";

interface ProbeChannel {
	checkQueue(queue: string): Promise<unknown>;
	close(): Promise<void>;
	on(event: "error" | "close", listener: () => void): unknown;
}

interface RegistryNode {
	id: string;
	local: boolean;
	available: boolean;
}

/** The AMQP transporter's state, which Moleculer's typings leave out. */
interface AmqpTransporterState {
	connection: { close(): Promise<void>; createChannel(): Promise<ProbeChannel> } | null;
	connected: boolean;
	prefix: string;
	broker: { registry: { nodes: { toArray(): RegistryNode[]; disconnected(nodeID: string, unexpected: boolean): void } } };
	channel: { close(): Promise<void> } | null;
	bindings: unknown[];
	connectionCount: number;
	channelDisconnecting: boolean;
	connectionDisconnecting: boolean;
	transit: { disconnecting: boolean };
	logger: { debug(...args: unknown[]): void; warn(...args: unknown[]): void };
	opts: { deadNodeProbeMs?: number };
}

/** The queues Moleculer's AMQP transporter declares auto-delete for each node (`<prefix>.<cmd>.<nodeID>`): they go with its connection. */
const NODE_QUEUES = ["PING", "PONG", "INFO", "DISCOVER", "HEARTBEAT", "DISCONNECT"] as const;

/**
 * Moleculer's AMQP transporter, stopping without unbinding its queues one by
 * one: an unbind of a queue RabbitMQ already dropped closes the channel, so
 * every later call failed with "Channel ended" and a stack in the log of
 * each stopping node (`quit` in the REPL included). A node's own queues go
 * with it (they expire), and their bindings with them.
 */
// Moleculer's typings leave the AMQP transporter's state, send and onConnected out.
export class AmqpTransporter extends (Transporters.AMQP as unknown as new (opts: object) => AmqpTransporterState & {
	send(topic: string, data: Buffer, meta: object): Promise<void>;
	onConnected(wasReconnect: boolean): Promise<void>;
}) {
	private closing = false;
	private probeTimer?: NodeJS.Timeout;
	private probeChannel?: Promise<ProbeChannel>;
	private probing = false;

	/**
	 * A node killed without a word (kill -9, a crashed container) stays
	 * registered until its heartbeats are missed (heartbeatTimeout), and
	 * calls balanced to it wait in its queue until they time out: with a
	 * restart under a new node id, the cluster answered 503 most of that
	 * time. RabbitMQ knows at once: each node consumes a queue of its own
	 * that is declared auto-delete (`<prefix>.PING.<nodeID>`, Moleculer's
	 * own, unchanged), so it is gone as soon as the node's connection is.
	 * Every `deadNodeProbeMs` (DEAD_NODE_PROBE_MS) this node checks that queue of each node
	 * it knows; a node whose queue is gone, and all its other auto-delete
	 * queues with it (NODE_QUEUES), is disconnected here, as a missed
	 * heartbeat would: no call is balanced to it any more, and the calls
	 * waiting for its answer are rejected (retryable), so that the callers
	 * that may retry (idempotent actions) do, on another node. A new node's
	 * announcement is not taken as a sign that another died (a scale-out
	 * looks the same): only the dead node's own queue says so. A node that
	 * was only cut off reconnects, redeclares its queues and announces
	 * itself again.
	 */
	onConnected(wasReconnect: boolean): Promise<void> {
		clearInterval(this.probeTimer);
		const every = this.opts.deadNodeProbeMs ?? 0;
		if (every > 0) this.probeTimer = setInterval(() => void this.probeNodes(), every).unref();
		return super.onConnected(wasReconnect);
	}

	private async probeNodes(): Promise<void> {
		if (this.probing || this.closing || !this.connected || !this.connection) return;
		this.probing = true;
		try {
			for (const node of this.broker.registry.nodes.toArray()) {
				if (node.local || !node.available || this.closing) continue;
				if (!(await this.allGone(node.id))) continue;
				// Asked again: the registry may have changed while RabbitMQ answered.
				if (!node.available) continue;
				this.logger.warn(`Node '${node.id}' is gone: its RabbitMQ connection closed without a goodbye (its queues ${this.prefix}.{${NODE_QUEUES.join(",")}}.${node.id} are deleted).`);
				this.broker.registry.nodes.disconnected(node.id, true);
			}
		} catch (err) {
			this.logger.debug("Node probe:", (err as Error).message);
		} finally {
			this.probing = false;
		}
	}

	/**
	 * Whether every auto-delete queue of the node is gone, as when its
	 * connection closed: one missing queue (deleted by hand, or between a
	 * channel's close and its redeclaration) is not a dead node. The PING
	 * queue is asked first; the others only when it is missing.
	 */
	private async allGone(nodeID: string): Promise<boolean> {
		for (const cmd of NODE_QUEUES) if (await this.queueExists(`${this.prefix}.${cmd}.${nodeID}`)) return false;
		return true;
	}

	/** Whether RabbitMQ has the queue; a missing one closes the probe's channel, made again on the next check. */
	private async queueExists(queue: string): Promise<boolean> {
		this.probeChannel ??= this.connection!.createChannel().then(channel => {
			const forget = () => (this.probeChannel = undefined);
			channel.on("error", forget);
			channel.on("close", forget);
			return channel;
		});
		const channel = await this.probeChannel;
		try {
			await channel.checkQueue(queue);
			return true;
		} catch (err) {
			this.probeChannel = undefined;
			if ((err as { code?: number }).code === 404) return false;
			throw err;
		}
	}

	/** A packet sent while the node closes its connection (its last DISCONNECT) is dropped without an error. */
	send(topic: string, data: Buffer, meta: object): Promise<void> {
		try {
			return super.send(topic, data, meta);
		} catch (err) {
			if (!this.closing) throw err;
			this.logger.debug(`Not sent while closing: ${topic}`);
			return Promise.resolve();
		}
	}

	async disconnect(): Promise<void> {
		this.closing = true;
		clearInterval(this.probeTimer);
		this.probeChannel = undefined;
		this.connectionCount = 0;
		this.channelDisconnecting = this.transit.disconnecting;
		this.connectionDisconnecting = this.transit.disconnecting;
		await this.channel?.close().catch((err: Error) => this.logger.debug("AMQP channel close:", err.message));
		await this.connection?.close().catch((err: Error) => this.logger.debug("AMQP connection close:", err.message));
		this.bindings = [];
		this.channel = null;
		this.connection = null;
	}
}
