import { Adapters } from "@moleculer/channels";
import type { Channel, ChannelModel as Connection, ConfirmChannel } from "amqplib";
import { Errors } from "moleculer";

/**
 * The two channel adapters, each made to say "delivered" only when the
 * message is safe, so that a publisher clears its outbox only then:
 * - InProcessAdapter (the embedded default): the publish resolves once every
 *   consumer group's handler has handled the message (channels' Fake adapter
 *   emits an event and forgets it: a failing handler or a crash lost it);
 * - ConfirmedAmqpAdapter: the publish resolves once RabbitMQ has confirmed
 *   the message (publisher confirms; the AMQP adapter does not wait for them,
 *   and drops a message published while it is stopping).
 */

interface ChannelDef {
	id: string;
	name: string;
	group: string;
	maxRetries?: number;
	handler(payload: unknown, raw: unknown): Promise<unknown>;
}

interface BaseAdapterLike {
	broker: { started: boolean };
	opts: { maxRetries?: number; prefix?: string; amqp?: { messageOptions?: object; exchangeOptions?: object } };
	logger: { warn(...args: unknown[]): void; info(...args: unknown[]): void };
	serializer: { serialize(payload: unknown): Buffer };
	connected: boolean;
	stopping: boolean;
	connection?: Connection;
	initChannelActiveMessages(id: string): void;
	addChannelActiveMessages(id: string, ids: string[]): void;
	removeChannelActiveMessages(id: string, ids: string[]): void;
	stopChannelActiveMessages(id: string): void;
	disconnect(): Promise<void>;
	createConsumerHandler(chan: ChannelDef): (msg: unknown) => Promise<void>;
}

type AdapterClass = new (opts?: object) => BaseAdapterLike;

const DEFAULT_TRIES = 3;
let nextMessageId = 0;

// @moleculer/channels' typings declare no adapter classes to extend.
export class InProcessAdapter extends (Adapters.Fake as unknown as AdapterClass) {
	private readonly channels = new Map<string, ChannelDef>();

	/** `groups`: the consumer groups each channel has; a message is delivered only once each of them has it. */
	constructor(private readonly options: { maxRetries?: number; groups: Readonly<Record<string, readonly string[]>> }) {
		super({ maxRetries: options.maxRetries });
	}

	subscribe(chan: ChannelDef): Promise<void> {
		this.channels.set(chan.id, chan);
		this.initChannelActiveMessages(chan.id);
		return Promise.resolve();
	}

	unsubscribe(chan: ChannelDef): Promise<void> {
		this.channels.delete(chan.id);
		this.stopChannelActiveMessages(chan.id);
		return Promise.resolve();
	}

	/** Handled by every group subscribed to the channel, each tried a few times; rejects if one could not. */
	async publish(channelName: string, payload: unknown, opts: { headers?: object } = {}): Promise<void> {
		if (this.stopping) throw new Errors.MoleculerRetryableError("Channels are stopping: not delivered", 503, "CHANNEL_STOPPING");
		const groups = [...this.channels.values()].filter(chan => chan.name === channelName);
		// While the node starts, a consumer may not have subscribed yet (it starts after the publisher): it must get the message later, not never.
		const unprefixed = this.opts.prefix ? channelName.slice(this.opts.prefix.length + 1) : channelName;
		const missing = (this.options.groups[unprefixed] ?? []).filter(group => !groups.some(chan => chan.group === group));
		if (missing.length && !this.broker.started) throw new Errors.MoleculerRetryableError(`Not delivered: ${missing.join(", ")} not subscribed to ${channelName} yet`, 503, "CHANNEL_UNAVAILABLE");
		await Promise.all(groups.map(chan => this.deliver(chan, payload, opts.headers)));
	}

	private async deliver(chan: ChannelDef, payload: unknown, headers: object | undefined): Promise<void> {
		const id = String(++nextMessageId);
		const tries = 1 + (chan.maxRetries ?? this.opts.maxRetries ?? DEFAULT_TRIES);
		this.addChannelActiveMessages(chan.id, [id]);
		try {
			for (let attempt = 1; ; attempt++) {
				try {
					await chan.handler(payload, { payload, headers });
					return;
				} catch (err) {
					if (attempt >= tries) throw err;
					this.logger.warn(`${chan.group} failed to handle a ${chan.name} message (try ${attempt} of ${tries})`, (err as Error).message);
				}
			}
		} finally {
			this.removeChannelActiveMessages(chan.id, [id]);
		}
	}
}

// @moleculer/channels' typings declare no adapter classes to extend.
export class ConfirmedAmqpAdapter extends (Adapters.AMQP as unknown as AdapterClass) {
	private confirmChannel: ConfirmChannel | null = null;
	private confirmConnection: Connection | undefined;
	private readonly exchangesDeclared = new WeakMap<Channel, Set<string>>();

	/**
	 * channels 0.1.8 checks for amqplib ^0.8 || ^0.9 and warns on 0.10, which
	 * moleculer's AMQP transporter needs: the check is stale (the adapter's
	 * calls are the same in 0.10, and the integration tests run on it).
	 */
	checkClientLibVersion(library: string): boolean {
		return library === "amqplib";
	}

	/**
	 * channels 0.1.8 acks, or republishes a failed message, on its channel
	 * after the handler: when RabbitMQ went away meanwhile, that throws from
	 * a callback nobody awaits, and the process ends. The message is still
	 * unacked on a closed channel, so RabbitMQ delivers it again: nothing is
	 * left to do but say so.
	 */
	createConsumerHandler(chan: ChannelDef): (msg: unknown) => Promise<void> {
		const handle = super.createConsumerHandler(chan);
		return async msg => {
			try {
				await handle(msg);
			} catch (err) {
				this.logger.warn(`A ${chan.name} message could not be acknowledged (RabbitMQ is away); it will be delivered again`, (err as Error).message);
			}
		};
	}

	async publish(channelName: string, payload: unknown, opts: { headers?: object } = {}): Promise<void> {
		if (this.stopping || !this.connected || !this.connection) throw new Errors.MoleculerRetryableError("RabbitMQ is not connected: not published", 503, "CHANNEL_UNAVAILABLE");
		const channel = await this.confirmingChannel(this.connection);
		await this.assertExchange(channel, channelName);
		const content = this.serializer.serialize(payload);
		const options = { ...this.opts.amqp?.messageOptions, headers: opts.headers };
		await new Promise<void>((resolve, reject) => {
			channel.publish(channelName, "", content, options, err => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()));
		});
	}

	async disconnect(): Promise<void> {
		await this.confirmChannel?.close().catch(() => undefined);
		this.confirmChannel = null;
		await super.disconnect();
	}

	/** One confirm channel per connection, opened again after RabbitMQ closed it. */
	private async confirmingChannel(connection: Connection): Promise<ConfirmChannel> {
		if (this.confirmChannel && this.confirmConnection === connection) return this.confirmChannel;
		const channel = await connection.createConfirmChannel();
		channel.on("close", () => {
			if (this.confirmChannel === channel) this.confirmChannel = null;
		});
		channel.on("error", (err: Error) => this.logger.warn("AMQP confirm channel error", err.message));
		this.confirmChannel = channel;
		this.confirmConnection = connection;
		return channel;
	}

	/** Publishing to an exchange no one declared closes the channel: declare it once per channel. */
	private async assertExchange(channel: Channel, exchange: string): Promise<void> {
		const asserted = this.exchangesDeclared.get(channel) ?? new Set<string>();
		if (asserted.has(exchange)) return;
		await channel.assertExchange(exchange, "fanout", { durable: true, ...this.opts.amqp?.exchangeOptions });
		asserted.add(exchange);
		this.exchangesDeclared.set(channel, asserted);
	}
}
