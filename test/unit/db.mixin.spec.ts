import { createAdapter } from "../../mixins/db.mixin";

/**
 * MongoDB has no server on this machine: these tests stand the model's
 * calls in for the database and check what the project adds around them.
 */
describe("db mixin: the MongoDB adapter (MONGO_URI set)", () => {
	beforeAll(() => {
		process.env.MONGO_URI = "mongodb://127.0.0.1:1/never-connected";
	});
	afterAll(() => {
		delete process.env.MONGO_URI;
	});

	it("declares the unique and sparse indexes, with string ids", () => {
		const { model } = createAdapter("widgets", [{ field: "sku", unique: true }, { field: "flag", sparse: true }]) as { model: any };
		expect(model.schema.indexes()).toEqual(
			expect.arrayContaining([
				[{ sku: 1 }, expect.objectContaining({ unique: true })],
				[{ flag: 1 }, expect.objectContaining({ sparse: true })],
			]),
		);
		expect(typeof new model({}).get("_id")).toBe("string");
	});

	it("answers plain objects whose fields outside the schema are readable, as the NeDB adapter does", async () => {
		const { adapter, model } = createAdapter("gadgets", [{ field: "sku", unique: true }]) as { adapter: any; model: any };
		adapter.init({} as never, { schema: { model }, logger: console, settings: {} } as never);
		adapter.model = model;
		const stored = new model({ sku: "G-1", status: "pending", holds: { r_x: { q: 1 } } });
		jest.spyOn(model.prototype, "save").mockImplementation(async function (this: unknown) {
			return this;
		});
		jest.spyOn(model, "findById").mockReturnValue({ exec: async () => stored } as never);

		const inserted = await adapter.insert({ sku: "G-1", status: "pending" });
		expect(typeof inserted.toObject).toBe("undefined");
		expect(inserted).toMatchObject({ sku: "G-1", status: "pending" });
		const found = await adapter.findById(stored._id);
		expect(found).toEqual({ _id: stored._id, sku: "G-1", status: "pending", holds: { r_x: { q: 1 } } });
		expect(adapter.entityToObject(found)).toBe(found);
	});
});
