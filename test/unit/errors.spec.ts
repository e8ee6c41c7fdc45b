import { ServiceBroker } from "moleculer";
import { CacheUnavailableError, ConflictError, InsufficientStockError, NotFoundError } from "../../lib/contracts/errors";
import { brokerOptions } from "../../moleculer.config";
import { parseSettings } from "../../lib/infra/settings";

/** Two nodes of one namespace over Moleculer's in-process transporter, with the project's broker options. */
function node(nodeID: string, namespace: string): ServiceBroker {
	const options = brokerOptions(parseSettings({ NAMESPACE: namespace, NODE_ID: nodeID, LOG_LEVEL: "silent" }));
	return new ServiceBroker({ ...options, transporter: "Fake", logger: false, metrics: { enabled: false }, middlewares: [] });
}

describe("the project's errors across nodes", () => {
	const namespace = `errors-${process.pid}`;
	const owner = node("owner", namespace);
	const caller = node("caller", namespace);
	const thrown = {
		notFound: () => new NotFoundError("Product", "p1"),
		conflict: () => new ConflictError("Taken", "SKU_TAKEN"),
		stock: () => new InsufficientStockError([{ productId: "p1", requested: 2, available: 1 }]),
		cache: () => new CacheUnavailableError(new Error("connection cut")),
	};

	beforeAll(async () => {
		owner.createService({
			name: "thrower",
			actions: Object.fromEntries(
				Object.entries(thrown).map(([name, make]) => [
					name,
					() => {
						throw make();
					},
				]),
			),
		});
		await Promise.all([owner.start(), caller.start()]);
		await caller.waitForServices("thrower", 10_000);
	});
	afterAll(() => Promise.all([caller.stop(), owner.stop()]));

	it.each(Object.entries(thrown))("%s keeps its class, code, type and data", async (name, make) => {
		const expected = make();
		const err = (await caller.call(`thrower.${name}`).catch((e: unknown) => e)) as Error & { code: number; type: string; data: unknown; nodeID: string };
		expect(err).toBeInstanceOf(expected.constructor);
		expect({ name: err.name, message: err.message, code: err.code, type: err.type, data: err.data }).toEqual({
			name: expected.name,
			message: expected.message,
			code: (expected as unknown as { code: number }).code,
			type: (expected as unknown as { type: string }).type,
			data: (expected as unknown as { data: unknown }).data,
		});
		expect(err.nodeID).toBe("owner");
	});
});
