import type { ServiceBroker } from "moleculer";
import { markCheckedAtDoor } from "../../lib/validation";
import { createTestBroker } from "../helpers/broker";

describe("the validator, behind the gateway's door", () => {
	let broker: ServiceBroker;
	beforeAll(async () => {
		broker = createTestBroker();
		broker.createService({
			name: "shelf",
			actions: {
				count: { params: { n: "number" }, handler: (ctx: { params: { n: number } }) => ctx.params.n },
				weigh: { params: { n: "number" }, handler: (ctx: { params: { n: number } }) => ctx.params.n },
			},
		});
		await broker.start();
	});
	afterAll(() => broker.stop());

	it("trusts the door only for the action it checked the params for; any other call of them is validated", async () => {
		const checked = { n: 3 };
		markCheckedAtDoor(checked, "shelf.count");
		expect(await broker.call("shelf.count", checked)).toBe(3);
		const passedOn = { n: "3" };
		markCheckedAtDoor(passedOn, "shelf.count");
		await expect(broker.call("shelf.weigh", passedOn)).rejects.toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
		await expect(broker.call("shelf.count", { n: "3" })).rejects.toMatchObject({ code: 422 });
	});
});
