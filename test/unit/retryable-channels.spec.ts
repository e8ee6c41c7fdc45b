import { Middleware as ChannelsMiddleware } from "@moleculer/channels";
import { Errors, ServiceBroker, type Middleware } from "moleculer";
import { CacheUnavailableError } from "../../lib/contracts/errors";
import { InProcessAdapter } from "../../lib/infra/channel-adapters";
import { RetryableChannelsMiddleware } from "../../middlewares/retryable-channels";

/** One consumer of `faulty`, failing with the errors given, in turn, before it handles a message. */
async function consumer(failures: Error[], retryable: Middleware) {
	const broker = new ServiceBroker({
		logger: false,
		// @moleculer/channels' typings want its own adapter classes.
		middlewares: [ChannelsMiddleware({ adapter: new InProcessAdapter({ maxRetries: 2, groups: {} }) } as never) as unknown as Middleware, retryable],
	});
	const handled: unknown[] = [];
	let calls = 0;
	broker.createService({
		name: "reader",
		channels: {
			faulty: {
				group: "reader",
				handler(msg: unknown) {
					calls++;
					const failure = failures.shift();
					if (failure) throw failure;
					handled.push(msg);
				},
			},
		},
	});
	await broker.start();
	return { broker, handled, calls: () => calls };
}

describe("durable channel handlers whose dependency is away", () => {
	it("are tried again in place while the failure is retryable (Redis away), so the message is handled once and not dead-lettered", async () => {
		const failures = Array.from({ length: 6 }, () => new CacheUnavailableError(new Error("connection cut")));
		const { broker, handled, calls } = await consumer(failures, RetryableChannelsMiddleware([5]));
		try {
			await broker.sendToChannel("faulty", { orderId: "o1" });
			expect(handled).toEqual([{ orderId: "o1" }]);
			expect(calls()).toBe(7);
		} finally {
			await broker.stop();
		}
	});

	it("leave any other failure (a malformed message) to the adapter's few redeliveries, then refuse it", async () => {
		const failures = Array.from({ length: 6 }, () => new Errors.MoleculerError("Malformed order status message"));
		const { broker, handled, calls } = await consumer(failures, RetryableChannelsMiddleware([5]));
		try {
			await expect(broker.sendToChannel("faulty", { orderId: "o2" })).rejects.toThrow("Malformed order status message");
			expect(handled).toEqual([]);
			expect(calls()).toBe(3);
		} finally {
			await broker.stop();
		}
	});

	it("stop trying in place after their time, and hand the failure on", async () => {
		const failures = Array.from({ length: 50 }, () => new CacheUnavailableError(new Error("still cut")));
		const { broker, handled } = await consumer(failures, RetryableChannelsMiddleware([5], 30));
		try {
			await expect(broker.sendToChannel("faulty", { orderId: "o3" })).rejects.toThrow("The cache (Redis) is unavailable");
			expect(handled).toEqual([]);
		} finally {
			await broker.stop();
		}
	});
});
