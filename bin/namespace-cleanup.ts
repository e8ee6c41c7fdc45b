import { execFile } from "child_process";
import amqplib from "amqplib";
import Redis from "ioredis";
import { CONSUMER_GROUPS, DEAD_LETTER } from "../lib/channels";

/**
 * Removes what a cluster namespace leaves in RabbitMQ and Redis once its
 * nodes are gone: the durable channel queues and exchanges, the dead-letter
 * queue, cache entries and rate-limit counters; deleteNamespaceWithTransport
 * also the transporter's own queues and exchanges (`MOL-<namespace>.*`).
 * For test, benchmark and local clusters (`npm run cluster:clean`); a
 * shop's own namespace keeps them.
 */
export async function deleteNamespace(namespace: string, amqpUrl: string, redisUrl: string): Promise<void> {
	await Promise.all([deleteChannelTopology(namespace, amqpUrl), deleteRedisKeys(namespace, redisUrl)]);
}

/** All of it, the transporter's topology included (see deleteTransporterTopology); answers whether RabbitMQ's objects could be listed. */
export async function deleteNamespaceWithTransport(namespace: string, amqpUrl: string, redisUrl: string, nodeIds: string[]): Promise<{ listed: boolean }> {
	const [{ listed }] = await Promise.all([deleteTransporterTopology(namespace, amqpUrl, nodeIds), deleteRedisKeys(namespace, redisUrl)]);
	return { listed };
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
	return {
		queues: [...channels.flatMap(([channel, groups]) => groups.map(group => `${group}.${namespace}.${channel}`)), `${namespace}.${DEAD_LETTER}`],
		exchanges: [...channels.map(([channel]) => `${namespace}.${channel}`), `${namespace}.${DEAD_LETTER}`],
	};
}

async function deleteChannelTopology(namespace: string, amqpUrl: string): Promise<void> {
	await deleteObjects(amqpUrl, channelTopology(namespace));
}

/** The namespace's cache entries and rate-limit counters in Redis. */
export async function deleteRedisKeys(namespace: string, redisUrl: string): Promise<void> {
	const redis = new Redis(redisUrl);
	try {
		for (const pattern of [`MOL-${namespace}-*`, `${namespace}:ratelimit:*`]) {
			const keys: string[] = [];
			for await (const batch of redis.scanStream({ match: pattern, count: 500 })) keys.push(...(batch as string[]));
			if (keys.length) await redis.del(...keys);
		}
	} finally {
		redis.disconnect();
	}
}

// ---------------------------------------------------------------------------
// The transporter's topology

/** Packet types a node receives by broadcast: one fanout exchange each per namespace. */
const BROADCAST_PACKETS = ["DISCOVER", "INFO", "HEARTBEAT", "PING", "DISCONNECT"];
/** Packet types each node has a queue of its own for. */
const NODE_PACKETS = ["REQ", "RES", "EVENT", "DISCOVER", "INFO", "HEARTBEAT", "PING", "PONG", "DISCONNECT"];

function vhostOf(url: URL): string {
	return decodeURIComponent(url.pathname.slice(1)) || "/";
}

/** The names of a kind of object, from the management plugin's HTTP API (when it is enabled). */
async function listOverHttp(url: URL, kind: "queues" | "exchanges"): Promise<string[]> {
	const auth = Buffer.from(`${decodeURIComponent(url.username || "guest")}:${decodeURIComponent(url.password || "guest")}`).toString("base64");
	const res = await fetch(`http://${url.hostname}:15672/api/${kind}/${encodeURIComponent(vhostOf(url))}?columns=name`, {
		headers: { authorization: `Basic ${auth}` },
		signal: AbortSignal.timeout(3000),
	});
	if (!res.ok) throw new Error(`management API: ${res.status}`);
	return ((await res.json()) as Array<{ name: string }>).map(o => o.name);
}

/** The same through rabbitmqctl, for a RabbitMQ on this host without the management plugin. */
function listWithCtl(url: URL, kind: "queues" | "exchanges"): Promise<string[]> {
	if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(url.hostname)) return Promise.reject(new Error("rabbitmqctl reaches only this host's RabbitMQ"));
	return new Promise((resolve, reject) =>
		execFile("rabbitmqctl", ["--quiet", "--no-table-headers", `list_${kind}`, "-p", vhostOf(url), "name"], { timeout: 30_000 }, (err: Error | null, stdout: string) =>
			err ? reject(err) : resolve(stdout.split("\n").filter(Boolean)),
		),
	);
}

/** Every queue and exchange of the broker's vhost, or undefined when neither the management API nor rabbitmqctl can list them. */
export async function listBrokerObjects(amqpUrl: string): Promise<BrokerObjects | undefined> {
	const url = new URL(amqpUrl);
	for (const list of [listOverHttp, listWithCtl]) {
		try {
			const [queues, exchanges] = await Promise.all([list(url, "queues"), list(url, "exchanges")]);
			return { queues, exchanges };
		} catch {
			// the next way
		}
	}
	return undefined;
}

/**
 * What Moleculer's AMQP transporter leaves of a namespace: each node's
 * queues (they expire two minutes after their node), the balanced request
 * queues `MOL-<namespace>.REQB.<action>` (they never expire) and the
 * fanout exchanges (they stay for good), with the channels' topology.
 * Listed from the broker when it can be (management API, or rabbitmqctl on
 * this host); otherwise the names that can be known from `nodeIds` are
 * deleted, and the answer says the balanced queues may remain.
 */
export async function deleteTransporterTopology(namespace: string, amqpUrl: string, nodeIds: string[] = []): Promise<{ listed: boolean; deleted: BrokerObjects }> {
	const prefix = `MOL-${namespace}.`;
	const channels = channelTopology(namespace);
	const listed = await listBrokerObjects(amqpUrl);
	const ours = (name: string) => name.startsWith(prefix) || name.startsWith(`${namespace}.`);
	const deleted: BrokerObjects = listed
		? { queues: [...new Set([...listed.queues.filter(ours), ...channels.queues])], exchanges: [...new Set([...listed.exchanges.filter(ours), ...channels.exchanges])] }
		: {
				queues: [...nodeIds.flatMap(id => NODE_PACKETS.map(kind => `${prefix}${kind}.${id}`)), ...channels.queues],
				exchanges: [...BROADCAST_PACKETS.map(kind => `${prefix}${kind}`), ...channels.exchanges],
			};
	await deleteObjects(amqpUrl, deleted);
	return { listed: !!listed, deleted };
}
