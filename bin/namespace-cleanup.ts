import amqplib from "amqplib";
import Redis from "ioredis";
import { CONSUMER_GROUPS, DEAD_LETTER } from "../lib/channels";

/**
 * Removes what a cluster namespace leaves in RabbitMQ and Redis once its
 * nodes are gone: the durable channel queues and exchanges, the dead-letter
 * queue, cache entries and rate-limit counters.
 * For test, benchmark and local clusters (`npm run cluster:clean`); a
 * shop's own namespace keeps them.
 */
export async function deleteNamespace(namespace: string, amqpUrl: string, redisUrl: string): Promise<void> {
	await Promise.all([deleteChannelTopology(namespace, amqpUrl), deleteRedisKeys(namespace, redisUrl)]);
}

async function deleteChannelTopology(namespace: string, amqpUrl: string): Promise<void> {
	const connection = await amqplib.connect(amqpUrl);
	try {
		const channels = Object.entries(CONSUMER_GROUPS);
		const exchanges = [...channels.map(([channel]) => `${namespace}.${channel}`), `${namespace}.${DEAD_LETTER}`];
		const queues = [...channels.flatMap(([channel, groups]) => groups.map(group => `${group}.${namespace}.${channel}`)), `${namespace}.${DEAD_LETTER}`];
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

async function deleteRedisKeys(namespace: string, redisUrl: string): Promise<void> {
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
