import { ServiceBroker } from "moleculer";
import { EndpointWaitMiddleware } from "../../middlewares/endpoint-wait";

const stock = { name: "stock", actions: { level: () => 7 } };

describe("EndpointWaitMiddleware: a call to an action no node serves right now", () => {
	let broker: ServiceBroker;
	beforeEach(async () => {
		broker = new ServiceBroker({ logger: false, middlewares: [EndpointWaitMiddleware(60_000)] });
		broker.createService(stock);
		await broker.start();
	});
	afterEach(() => broker.stop());

	it("waits for a node to serve it again, and is answered by that one", async () => {
		await broker.destroyService(broker.getLocalService("stock"));
		let answer: unknown;
		const call = broker.call("stock.level").then(a => (answer = a));
		await new Promise(r => setImmediate(r));
		expect(answer).toBeUndefined();
		broker.createService({ ...stock, actions: { level: () => 8 } });
		await call;
		expect(answer).toBe(8);
	});

	it("fails at once for an action the cluster never had, and after its bound for one that stays away", async () => {
		await expect(broker.call("nothing.here")).rejects.toMatchObject({ name: "ServiceNotFoundError" });
		const short = new ServiceBroker({ logger: false, middlewares: [EndpointWaitMiddleware(50)] });
		short.createService(stock);
		await short.start();
		try {
			await short.destroyService(short.getLocalService("stock"));
			await expect(short.call("stock.level")).rejects.toMatchObject({ name: "ServiceNotAvailableError" });
		} finally {
			await short.stop();
		}
	});
});
