import { spawn } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import { find as mingoFind, updateMany as mingoUpdateMany } from "mingo";
import { ServiceBroker, type Service } from "moleculer";
import { createAdapter, type DbAdapter, type Doc, type FindParams, type Query, type Update } from "../../lib/db/adapter";
import { releaseDataDir } from "../../lib/db/data-dir-lock";
import { bringToCurrentFormat, currentFormat, formatCollection, StoreFormatTooNewError, type Migration } from "../../lib/db/formats";
import DbMixin from "../../mixins/db.mixin";
import OrdersService from "../../services/orders.service";

/**
 * Data formats have versions: each service's store records the format of its
 * documents; a node brings an older one to its own at start, through the
 * service's list of migrations, and refuses one newer than it knows. Run on
 * NeDB for real, and on MongoDB's query and update language as mingo
 * implements it (no MongoDB server here).
 */

interface Order extends Doc {
	status: string;
	paymentStatus?: string;
}

/** An example of the migrations a service lists: format 2 gives every order a paymentStatus, absent read as "unpaid". */
const PAYMENT_STATUS: Migration = {
	to: 2,
	description: "orders gain paymentStatus (absent: unpaid)",
	async up({ collection }) {
		await collection.updateMany({ paymentStatus: { $exists: false } }, { $set: { paymentStatus: "unpaid" } });
	},
};
const FULFILMENT: Migration = {
	to: 3,
	description: "orders gain fulfilment (absent: null)",
	async up({ collection }) {
		await collection.updateMany({ fulfilment: { $exists: false } }, { $set: { fulfilment: null } });
	},
};

/** A store with MongoDB's semantics: every query and update document goes through mingo. */
function mingoAdapter<T extends Doc>(): DbAdapter<T> & { docs: T[] } {
	const docs: T[] = [];
	const copy = <D>(d: D): D => structuredClone(d);
	const first = (query: Query) => mingoFind<T>(docs, query).limit(1).all()[0] ?? null;
	return {
		docs,
		init() {},
		connect: async () => undefined,
		disconnect: async () => undefined,
		find: async (params: FindParams) =>
			mingoFind<T>(docs, params.query ?? {})
				.all()
				.map(copy),
		findOne: async (query: Query) => copy(first(query)),
		findById: async (id: string) => copy(first({ _id: id })),
		findByIds: async (ids: string[]) =>
			mingoFind<T>(docs, { _id: { $in: ids } })
				.all()
				.map(copy),
		count: async (params?: { query?: Query }) => mingoFind<T>(docs, params?.query ?? {}).all().length,
		readAll: async () => docs.map(copy),
		async insert(doc: T) {
			if (docs.some(d => d._id === doc._id)) throw Object.assign(new Error("E11000 duplicate key"), { code: 11000 });
			docs.push(copy(doc));
			return copy(doc);
		},
		async updateById(id: string, update: Update) {
			return this.updateOne({ _id: id }, update);
		},
		updateMany: async (query: Query, update: Update) => mingoUpdateMany(docs as never, query, update as never).matchedCount,
		async updateOne(query: Query, update: Update) {
			const target = first(query);
			if (!target) return null;
			mingoUpdateMany(docs as never, { _id: target._id }, update as never);
			return copy(first({ _id: target._id }));
		},
		removeMany: async (query: Query) => {
			const gone = mingoFind<T>(docs, query).all();
			for (const d of gone) docs.splice(docs.indexOf(d), 1);
			return gone.length;
		},
	};
}

const fakeService = { logger: console, settings: {}, schema: {} } as unknown as Service;
const quiet = { info: () => undefined };

/** A store for one service: its collection and its format record, on NeDB files or on mingo. */
interface StoreUnderTest {
	collection: DbAdapter<Order>;
	formats: DbAdapter;
	/** The same store, as a restarted node opens it. */
	reopen(): Promise<StoreUnderTest>;
	close(): Promise<void>;
}

async function nedbStore(dir: string): Promise<StoreUnderTest> {
	const storage = { dataDir: dir, sync: true };
	const collection = createAdapter<Order>(storage, "orders").adapter;
	const formats = createAdapter(storage, formatCollection("orders")).adapter;
	for (const a of [collection, formats]) {
		a.init({} as ServiceBroker, fakeService);
		await a.connect();
	}
	const close = async () => {
		await collection.disconnect();
		await formats.disconnect();
	};
	return { collection, formats, close, reopen: async () => (await close(), nedbStore(dir)) };
}

function mingoStore(collection = mingoAdapter<Order>(), formats = mingoAdapter<Doc>()): Promise<StoreUnderTest> {
	return Promise.resolve({ collection, formats, close: async () => undefined, reopen: () => mingoStore(collection, formats) });
}

const bring = (store: StoreUnderTest, migrations: readonly Migration[]) =>
	bringToCurrentFormat({ service: "orders", formats: store.formats, migrations, store: { collection: store.collection, open: () => Promise.reject(new Error("not used")) }, logger: quiet });

describe.each([
	["NeDB files, for real", "nedb"],
	["MongoDB's semantics (mingo)", "mingo"],
])("store formats on %s", (_label, kind) => {
	let dir: string;
	let store: StoreUnderTest;
	beforeEach(async () => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), "store-formats-"));
		store = kind === "nedb" ? await nedbStore(dir) : await mingoStore();
	});
	afterEach(async () => {
		await store.close();
		releaseDataDir(dir);
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it("records today's format (1, no migrations) on a new store, and finds it again after a restart", async () => {
		expect(currentFormat([])).toBe(1);
		expect(await bring(store, [])).toEqual({ from: 1, to: 1, ran: [] });
		store = await store.reopen();
		expect(await store.formats.findById("orders")).toMatchObject({ _id: "orders", version: 1 });
	});

	it("brings a store of an older format to the current one, migration by migration, and runs none again at the next start", async () => {
		await store.collection.insert({ _id: "o1", status: "confirmed" });
		await store.collection.insert({ _id: "o2", status: "cancelled", paymentStatus: "refunded" });
		await bring(store, []);
		store = await store.reopen();

		const up = jest.spyOn(PAYMENT_STATUS, "up");
		expect(await bring(store, [PAYMENT_STATUS, FULFILMENT])).toEqual({ from: 1, to: 3, ran: [2, 3] });
		store = await store.reopen();
		expect(await store.collection.find({ sort: ["_id"] })).toEqual([
			{ _id: "o1", status: "confirmed", paymentStatus: "unpaid", fulfilment: null },
			{ _id: "o2", status: "cancelled", paymentStatus: "refunded", fulfilment: null },
		]);
		expect(await store.formats.findById("orders")).toMatchObject({ version: 3 });
		expect(await bring(store, [PAYMENT_STATUS, FULFILMENT])).toEqual({ from: 3, to: 3, ran: [] });
		expect(up).toHaveBeenCalledTimes(1);
		up.mockRestore();
	});

	it("takes a store that recorded no format (written before formats had versions) as format 1, and migrates it", async () => {
		await store.collection.insert({ _id: "o1", status: "confirmed" });
		expect(await bring(store, [PAYMENT_STATUS])).toEqual({ from: 1, to: 2, ran: [2] });
		expect(await store.collection.findById("o1")).toMatchObject({ paymentStatus: "unpaid" });
	});

	it("refuses a store of a format newer than it knows, saying what to do, and changes nothing", async () => {
		await store.collection.insert({ _id: "o1", status: "confirmed" });
		await bring(store, [PAYMENT_STATUS, FULFILMENT]);
		const before = await store.collection.find({});
		const attempt = bring(store, [PAYMENT_STATUS]);
		await expect(attempt).rejects.toThrow(StoreFormatTooNewError);
		await expect(bring(store, [PAYMENT_STATUS])).rejects.toThrow(
			"The orders store holds format 3, newer than this code knows (2): run the version of the shop that wrote it, or a newer one (or restore a backup this version took)",
		);
		expect(await store.collection.find({})).toEqual(before);
		expect(await store.formats.findById("orders")).toMatchObject({ version: 3 });
	});

	it("keeps the format of the last migration that finished when one fails, and finishes at the next start (a migration may run twice)", async () => {
		await store.collection.insert({ _id: "o1", status: "confirmed" });
		const failing: Migration = { ...FULFILMENT, up: () => Promise.reject(new Error("disk full")) };
		await expect(bring(store, [PAYMENT_STATUS, failing])).rejects.toThrow("disk full");
		expect(await store.formats.findById("orders")).toMatchObject({ version: 2 });
		store = await store.reopen();
		expect(await bring(store, [PAYMENT_STATUS, FULFILMENT])).toEqual({ from: 2, to: 3, ran: [3] });
	});
});

describe("a service's list of migrations", () => {
	it.each([
		[[{ ...PAYMENT_STATUS, to: 3 }], "migration 1 must make format 2, not 3"],
		[[PAYMENT_STATUS, PAYMENT_STATUS], "migration 2 must make format 3, not 2"],
	])("is numbered from format 2 on, one step each (%#)", async (migrations, message) => {
		expect(() => currentFormat(migrations)).toThrow(message);
	});
});

const ROOT = path.resolve(__dirname, "../..");

/** A node of its own holding the orders store (its migrations, from dist/), started and stopped on `dataDir`. */
const ORDERS_NODE = `
const { ServiceBroker } = require("moleculer");
const DbMixin = require("./dist/mixins/db.mixin").default;
const { ORDER_MIGRATIONS } = require("./dist/services/orders/order-doc");
const broker = new ServiceBroker({ logger: false });
broker.createService({ name: "orders", mixins: [DbMixin({ collection: "orders", publicFields: ["status"], migrations: ORDER_MIGRATIONS })], settings: { storage: { dataDir: process.env.DATA_DIR, sync: true } } });
broker.start().then(() => broker.stop()).then(() => console.log("stopped"));
`;

function runOrdersNode(dataDir: string, env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
	const proc = spawn(process.execPath, ["-e", ORDERS_NODE], {
		cwd: ROOT,
		env: { PATH: process.env.PATH, DATA_DIR: dataDir, JWT_SECRET: "unit-test-secret", ...env },
		stdio: ["ignore", "pipe", "pipe"],
	});
	let output = "";
	proc.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
	proc.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
	return new Promise(resolve => proc.once("exit", (code, signal) => resolve({ code, signal, output })));
}

/** A collection's documents as its NeDB file holds them: each _id's last line. */
function storedDocs(dataDir: string, collection: string): Map<string, Record<string, unknown>> {
	const docs = new Map<string, Record<string, unknown>>();
	for (const line of fs
		.readFileSync(path.join(dataDir, `${collection}.db`), "utf8")
		.split("\n")
		.filter(Boolean)) {
		const doc = JSON.parse(line) as Record<string, unknown>;
		if (typeof doc._id !== "string") continue;
		if (doc.$$deleted) docs.delete(doc._id);
		else docs.set(doc._id, doc);
	}
	return docs;
}

describe("the db mixin checks the format as its service starts", () => {
	let dir: string;
	beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "store-formats-mixin-"))));
	afterEach(() => {
		releaseDataDir(dir);
		fs.rmSync(dir, { recursive: true, force: true });
	});

	const start = async (migrations: Migration[]) => {
		const broker = new ServiceBroker({ logger: false });
		broker.createService({
			name: "orders",
			mixins: [DbMixin<Order, Order>({ collection: "orders", publicFields: ["status"], migrations })],
			settings: { storage: { dataDir: dir, sync: true } },
		});
		await broker.start().catch(async err => {
			await broker.stop();
			throw err;
		});
		return broker;
	};

	it("migrates an older store before the service runs, and refuses to start on a newer one", async () => {
		let broker = await start([]);
		const orders = broker.getLocalService("orders") as unknown as { adapter: DbAdapter<Order> };
		await orders.adapter.insert({ _id: "o1", status: "confirmed" });
		await broker.stop();

		broker = await start([PAYMENT_STATUS]);
		expect(await (broker.getLocalService("orders") as unknown as { adapter: DbAdapter<Order> }).adapter.findById("o1")).toMatchObject({ paymentStatus: "unpaid" });
		await broker.stop();

		await expect(start([])).rejects.toThrow(/The orders store holds format 2, newer than this code knows \(1\)/);
	});

	it("survives a kill -9 between a migration's writes and its record (format.after-migration): the next start runs it again and records it", async () => {
		const legacy = await start([]);
		await (legacy.getLocalService("orders") as unknown as { adapter: DbAdapter<Doc & Record<string, unknown>> }).adapter.insert({ _id: "old", status: "shipped", totalCents: 500 });
		await legacy.stop();
		releaseDataDir(dir);

		expect(await runOrdersNode(dir, { CRASH_POINT: "format.after-migration" })).toMatchObject({ signal: "SIGKILL" });
		expect(storedDocs(dir, formatCollection("orders")).get("orders")).toMatchObject({ version: 1 });
		expect(storedDocs(dir, "orders").get("old")).toMatchObject({ paymentStatus: "unpaid" });

		expect(await runOrdersNode(dir, {})).toMatchObject({ code: 0, output: expect.stringContaining("stopped") });
		expect(storedDocs(dir, formatCollection("orders")).get("orders")).toMatchObject({ version: 2 });
		expect(storedDocs(dir, "orders").get("old")).toMatchObject({ status: "shipped", paymentStatus: "unpaid", paidCents: 0, paymentHistory: [], fulfilment: null, returns: [] });
	});

	it("brings orders stored before payments to the orders service's format: unpaid, nothing paid, not shipped, no returns; later orders untouched", async () => {
		const legacy = await start([]);
		const store = (legacy.getLocalService("orders") as unknown as { adapter: DbAdapter<Doc & Record<string, unknown>> }).adapter;
		await store.insert({ _id: "old", status: "shipped", totalCents: 500 });
		await store.insert({ _id: "paid", status: "confirmed", paymentStatus: "paid", paidCents: 700, paymentHistory: [{ status: "paid" }], fulfilment: null, returns: [] });
		await legacy.stop();

		const broker = new ServiceBroker({ logger: false });
		broker.createService({ ...OrdersService, settings: { ...OrdersService.settings, storage: { dataDir: dir, sync: true } } });
		await broker.start();
		try {
			const orders = (broker.getLocalService("orders") as unknown as { adapter: DbAdapter<Doc & Record<string, unknown>> }).adapter;
			expect(await orders.findById("old")).toMatchObject({ status: "shipped", paymentStatus: "unpaid", paidCents: 0, paymentHistory: [], fulfilment: null, returns: [] });
			expect(await orders.findById("paid")).toMatchObject({ paymentStatus: "paid", paidCents: 700, paymentHistory: [{ status: "paid" }] });
		} finally {
			await broker.stop();
		}
	});
});

describe("store formats through mongoose, with the driver's calls recorded (no MongoDB server here)", () => {
	const created = createAdapter({ dataDir: ":memory:", mongoUri: "mongodb://127.0.0.1:1/never-connected", sync: true }, formatCollection("orders"));
	const formats = created.adapter;
	const model = created.model as Record<string, (...args: unknown[]) => unknown>;
	const Model = created.model as new (doc: object) => object;
	formats.init({} as ServiceBroker, fakeService);
	const store = { collection: mingoAdapter<Doc>(), open: () => Promise.reject(new Error("not used")) };
	afterEach(() => jest.restoreAllMocks());

	it("reads the record by the service's name and moves it forward with one guarded update, never back", async () => {
		jest.spyOn(model, "findById").mockReturnValue({ exec: async () => new Model({ _id: "orders", version: 1 }) });
		const update = jest.spyOn(model, "findOneAndUpdate").mockReturnValue({ exec: async () => new Model({ _id: "orders", version: 2 }) });
		expect(await bringToCurrentFormat({ service: "orders", formats, migrations: [PAYMENT_STATUS], store, logger: quiet })).toEqual({ from: 1, to: 2, ran: [2] });
		expect(update).toHaveBeenCalledWith({ _id: "orders", version: { $lt: 2 } }, { $set: { version: 2, updatedAt: expect.any(String) } }, { new: true });
	});

	it("refuses a newer format it reads there, writing nothing", async () => {
		jest.spyOn(model, "findById").mockReturnValue({ exec: async () => new Model({ _id: "orders", version: 3 }) });
		const update = jest.spyOn(model, "findOneAndUpdate");
		await expect(bringToCurrentFormat({ service: "orders", formats, migrations: [PAYMENT_STATUS], store, logger: quiet })).rejects.toThrow(StoreFormatTooNewError);
		expect(update).not.toHaveBeenCalled();
	});
});
