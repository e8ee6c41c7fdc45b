import { Transporters } from "moleculer";

interface AmqpTransporterState {
	connection: { close(): Promise<void> } | null;
	channel: { close(): Promise<void> } | null;
	bindings: unknown[];
	connectionCount: number;
	channelDisconnecting: boolean;
	connectionDisconnecting: boolean;
	transit: { disconnecting: boolean };
	logger: { debug(...args: unknown[]): void };
}

/**
 * Moleculer's AMQP transporter, stopping without unbinding its queues one by
 * one: an unbind of a queue RabbitMQ already dropped closes the channel, so
 * every later call failed with "Channel ended" and a stack in the log of
 * each stopping node (`quit` in the REPL included). A node's own queues go
 * with it (they expire), and their bindings with them.
 */
// Moleculer's typings leave the AMQP transporter's send out.
export class AmqpTransporter extends (Transporters.AMQP as unknown as new (opts: object) => { send(topic: string, data: Buffer, meta: object): Promise<void> }) {
	private closing = false;

	/** A packet sent while the node closes its connection (its last DISCONNECT) is dropped without an error. */
	send(topic: string, data: Buffer, meta: object): Promise<void> {
		try {
			return super.send(topic, data, meta);
		} catch (err) {
			if (!this.closing) throw err;
			// Moleculer's typings leave the transporter's state out.
			(this as unknown as AmqpTransporterState).logger.debug(`Not sent while closing: ${topic}`);
			return Promise.resolve();
		}
	}

	async disconnect(): Promise<void> {
		// Moleculer's typings leave the transporter's state out.
		const self = this as unknown as AmqpTransporterState;
		this.closing = true;
		self.connectionCount = 0;
		self.channelDisconnecting = self.transit.disconnecting;
		self.connectionDisconnecting = self.transit.disconnecting;
		await self.channel?.close().catch((err: Error) => self.logger.debug("AMQP channel close:", err.message));
		await self.connection?.close().catch((err: Error) => self.logger.debug("AMQP connection close:", err.message));
		self.bindings = [];
		self.channel = null;
		self.connection = null;
	}
}
