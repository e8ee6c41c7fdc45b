import type { ServiceBroker } from "moleculer";
import { createTestBroker } from "../helpers/broker";

type Tracked = { _trackedContexts: unknown[] };

describe("a call whose handler path throws instead of rejecting", () => {
	let broker: ServiceBroker;

	beforeEach(async () => {
		broker = createTestBroker();
		broker.createService({
			name: "fragile",
			actions: {
				// The cache key builder reads `id` before the handler runs: a throwing getter throws inside the cacher.
				read: { cache: { keys: ["id"] }, handler: () => "never" },
				hooked: { hooks: { before: () => void JSON.parse("{") }, handler: () => "never" },
			},
		});
		await broker.start();
	});
	afterEach(() => broker.stop());

	const tracked = () => (broker.getLocalService("fragile") as unknown as Tracked)._trackedContexts.length + (broker as unknown as Tracked)._trackedContexts.length;

	it("is answered with the error, and its context is released so the node still stops at once", async () => {
		const params = Object.defineProperty({}, "id", {
			enumerable: true,
			get() {
				throw new RangeError("Maximum call stack size exceeded");
			},
		});
		await expect(broker.call("fragile.read", params)).rejects.toThrow("Maximum call stack size exceeded");
		await expect(broker.call("fragile.hooked", {})).rejects.toThrow(SyntaxError);
		expect(tracked()).toBe(0);
	});
});
