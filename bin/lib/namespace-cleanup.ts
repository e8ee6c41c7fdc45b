import amqplib from "amqplib";
import Redis from "ioredis";
import { CONSUMER_GROUPS, DEAD_LETTER } from "../../lib/contracts/channels";
import { namespacePrefix } from "../../lib/infra/redis";

/**
 * Removes what a cluster namespace leaves in RabbitMQ and Redis once its
 * nodes are gone: the durable channel queues and exchanges, the dead-letter
 * queue, cache entries and rate-limit counters; deleteNamespaceWithTransport
 * also the transporter's own queues and exchanges. Only what the namespace
 * provably owns: the exact names its topology declares, and the Redis keys
 * under its own prefix (lib/infra/redis.ts namespacePrefix), which no other
 * namespace's keys start with. Nothing is deleted because its name starts
 * like the namespace's. For test, benchmark and local clusters
 * (`npm run cluster:clean`); a shop's own namespace keeps them.
 */
export async function deleteNamespace(namespace: string, amqpUrl: string, redisUrl: string): Promise<void> {
	await Promise.all([deleteChannelTopology(namespace, amqpUrl), deleteRedisKeys(namespace, redisUrl)]);
}

/** All of it, the transporter's topology of these nodes included (see deleteTransporterTopology). */
export async function deleteNamespaceWithTransport(namespace: string, amqpUrl: string, redisUrl: string, nodeIds: string[]): Promise<void> {
	await Promise.all([deleteTransporterTopology(namespace, amqpUrl, nodeIds), deleteRedisKeys(namespace, redisUrl)]);
}

interface BrokerObjects {
	queues: string[];
	exchanges: string[];
}

async function deleteObjects(amqpUrl: string, { queues, exchanges }: BrokerObjects): Promise<void> {
	const connection = await amqplib.connect(amqpUrl);
	try {
		// A failed delete closes its channel: one channel per object.
		for (const [kind, names] of [
			["queue", queues],
			["exchange", exchanges],
		] as const) {
			for (const name of names) {
				const channel = await connection.createChannel();
				await (kind === "queue" ? channel.deleteQueue(name) : channel.deleteExchange(name)).catch(() => undefined);
				await channel.close().catch(() => undefined);
			}
		}
	} finally {
		await connection.close();
	}
}

/** The channels' exchanges and queues (`<namespace>.<channel>`, `<group>.<namespace>.<channel>`) and the dead-letter queue. */
function channelTopology(namespace: string): BrokerObjects {
	const channels = Object.entries(CONSUMER_GROUPS);
	// The channels' prefix is the namespace, and none without one (@moleculer/channels).
	const topic = (name: string) => (namespace ? `${namespace}.${name}` : name);
	return {
		queues: [...channels.flatMap(([channel, groups]) => groups.map(group => `${group}.${topic(channel)}`)), topic(DEAD_LETTER)],
		exchanges: [...channels.map(([channel]) => topic(channel)), topic(DEAD_LETTER)],
	};
}

async function deleteChannelTopology(namespace: string, amqpUrl: string): Promise<void> {
	await deleteObjects(amqpUrl, channelTopology(namespace));
}

/** The namespace's cache entries, versions, write leases and rate-limit counters in Redis: every key under its prefix. */
export async function deleteRedisKeys(namespace: string, redisUrl: string): Promise<void> {
	const redis = new Redis(redisUrl);
	try {
		const keys: string[] = [];
		for await (const batch of redis.scanStream({ match: `${escapeGlob(namespacePrefix(namespace))}*`, count: 500 })) keys.push(...(batch as string[]));
		if (keys.length) await redis.del(...keys);
	} finally {
		redis.disconnect();
	}
}

/** A pattern that matches `text` itself (`_`, `-` and `:` are plain in Redis' glob, the rest is escaped anyway). */
function escapeGlob(text: string): string {
	return text.replace(/[*?[\]\\]/g, "\\$&");
}

// ---------------------------------------------------------------------------
// The transporter's topology

/** Packet types a node receives by broadcast: one fanout exchange each per namespace (Moleculer's AMQP transporter). */
const BROADCAST_PACKETS = ["DISCOVER", "INFO", "HEARTBEAT", "PING", "DISCONNECT"];
/** Packet types each node has a queue of its own for. */
const NODE_PACKETS = ["REQ", "RES", "EVENT", "DISCOVER", "INFO", "HEARTBEAT", "PING", "PONG", "DISCONNECT"];

/** The transporter's prefix: `MOL`, or `MOL-<namespace>` (a namespace has no `.`, so the `.` after it ends it). */
function transporterPrefix(namespace: string): string {
	return namespace ? `MOL-${namespace}` : "MOL";
}

/**
 * What Moleculer's AMQP transporter declares for a namespace's nodes, by
 * exact name: each node's queues (they expire two minutes after their node
 * anyway) and the fanout exchanges (they stay for good); with the channels'
 * topology. The broker balances calls itself (`disableBalancer` is off), so
 * the transporter declares no balanced queues. A node not named here leaves
 * queues that expire by themselves.
 */
export async function deleteTransporterTopology(namespace: string, amqpUrl: string, nodeIds: string[] = []): Promise<BrokerObjects> {
	const prefix = transporterPrefix(namespace);
	const channels = channelTopology(namespace);
	const deleted: BrokerObjects = {
		queues: [...nodeIds.flatMap(id => NODE_PACKETS.map(kind => `${prefix}.${kind}.${id}`)), ...channels.queues],
		exchanges: [...BROADCAST_PACKETS.map(kind => `${prefix}.${kind}`), ...channels.exchanges],
	};
	await deleteObjects(amqpUrl, deleted);
	return deleted;
}
