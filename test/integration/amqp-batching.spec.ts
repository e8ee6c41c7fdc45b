import amqp from "amqplib";
import { applyPatches } from "../../lib/infra/patches";
import { AMQP_URL, requireInfrastructure } from "../helpers/cluster";

/**
 * lib/infra/patches.ts, amqplib's part: a turn's frames leave in one socket write. What a
 * user checks is that nothing changes for them: every message arrives,
 * whole and in order; the write count shows the batching is in place.
 */
describe("AMQP frames written per event-loop turn (lib/infra/patches.ts)", () => {
	let connection: amqp.ChannelModel;

	beforeAll(async () => {
		await requireInfrastructure();
		applyPatches();
		connection = await amqp.connect(AMQP_URL, { noDelay: true });
	});
	afterAll(async () => {
		await connection?.close();
	});

	it("delivers 200 messages published in one turn whole and in order, in far fewer socket writes than messages", async () => {
		const channel = await connection.createChannel();
		const { queue } = await channel.assertQueue("", { exclusive: true, autoDelete: true });
		const socket = (connection.connection as unknown as { stream: { _writev?: unknown; _write: unknown } }).stream as unknown as {
			_writev(chunks: unknown[], cb: () => void): void;
			_write(chunk: unknown, enc: string, cb: () => void): void;
		};
		let writes = 0;
		const writev = socket._writev.bind(socket);
		const write = socket._write.bind(socket);
		socket._writev = (chunks, cb) => (writes++, writev(chunks, cb));
		socket._write = (chunk, enc, cb) => (writes++, write(chunk, enc, cb));

		const sent = Array.from({ length: 200 }, (_, i) => ({ i, text: `message ${i} `.repeat(1 + (i % 7)) }));
		for (const m of sent) channel.sendToQueue(queue, Buffer.from(JSON.stringify(m)));
		const received: unknown[] = [];
		await new Promise<void>((resolve, reject) => {
			void channel
				.consume(queue, msg => {
					if (!msg) return;
					received.push(JSON.parse(msg.content.toString()));
					channel.ack(msg);
					if (received.length === sent.length) resolve();
				})
				.catch(reject);
		});
		expect(received).toEqual(sent);
		expect(writes).toBeLessThan(sent.length / 10);
		await channel.close();
	});
});
