import amqp from "amqplib";
import { ServiceBroker } from "moleculer";
import { AmqpTransporter } from "../../lib/infra/amqp-transporter";
import { waitFor } from "../helpers/broker";

class WithoutPingQueue extends AmqpTransporter {
	subscribe(cmd: string, nodeID?: string): Promise<void> {
		if (cmd === "PING") return Promise.resolve();
		return (AmqpTransporter.prototype as unknown as { subscribe(cmd: string, nodeID?: string): Promise<void> }).subscribe.call(this, cmd, nodeID);
	}
}

/** Two nodes over the real RabbitMQ, the watcher probing for dead nodes; heartbeats too slow to notice anything. */
describe("the dead-node probe", () => {
	const url = "amqp://guest:guest@127.0.0.1:5672";
	const namespace = `probe-${process.pid}`;
	// No reconnection: the watched node's connection is closed under it, and stays closed.
	const node = (nodeID: string, transporter: AmqpTransporter) => new ServiceBroker({ namespace, nodeID, logger: false, heartbeatTimeout: 600, transit: { disableReconnect: true }, transporter });
	const watcher = node("watcher", new AmqpTransporter({ url, deadNodeProbeMs: 20 }));
	// A live node one of whose queues is missing (its PING queue is never declared). Deleting a live node's
	// queue would not do: Moleculer's consumer fails on the cancel and its connection closes.
	const watched = node("watched", new WithoutPingQueue({ url }));
	const disconnected: Array<{ id: string; unexpected: boolean }> = [];
	let probed: string[] = [];
	let rabbit: amqp.ChannelModel;

	beforeAll(async () => {
		const queueExists = Reflect.get(AmqpTransporter.prototype, "queueExists") as (this: AmqpTransporter, queue: string) => Promise<boolean>;
		jest.spyOn(AmqpTransporter.prototype as unknown as { queueExists: typeof queueExists }, "queueExists").mockImplementation(function (this: AmqpTransporter, queue: string) {
			probed.push(queue);
			return queueExists.call(this, queue);
		});
		watcher.localBus.on("$node.disconnected", ({ node: n, unexpected }: { node: { id: string }; unexpected: boolean }) => disconnected.push({ id: n.id, unexpected }));
		await Promise.all([watcher.start(), watched.start()]);
		await waitFor(() => watcher.registry.nodes.get("watched")?.available, 10_000, "the watched node");
		rabbit = await amqp.connect(url);
	});
	afterAll(async () => {
		jest.restoreAllMocks();
		await rabbit.close();
		await Promise.all([watcher.stop(), watched.stop()]);
	});

	const pingQueue = `MOL-${namespace}.PING.watched`;

	it("does not declare a node dead when only one of its queues is missing", async () => {
		const channel = await rabbit.createChannel();
		// A 404 closes the channel, with an error event.
		channel.on("error", () => undefined);
		await expect(channel.checkQueue(pingQueue)).rejects.toMatchObject({ code: 404 });
		probed = [];
		// Three probes of the watched node, unless it was declared dead first.
		await waitFor(() => probed.filter(q => q === pingQueue).length >= 3 || disconnected.length > 0, 10_000, "three probes");
		expect(disconnected).toEqual([]);
		expect(watcher.registry.nodes.get("watched")?.available).toBe(true);
	});

	it("declares a node dead when its connection closed without a word (all its queues gone)", async () => {
		await (watched.transit!.tx as unknown as { connection: amqp.ChannelModel }).connection.close();
		await waitFor(() => disconnected.length > 0, 10_000, "the watched node declared dead");
		expect(disconnected).toEqual([{ id: "watched", unexpected: true }]);
	});
});
