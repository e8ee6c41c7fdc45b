import { execFileSync } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import type { Service, ServiceBroker } from "moleculer";
import { createAdapter, isDuplicateKeyError, type DbAdapter, type Doc } from "../../lib/db/adapter";
import { waitFor } from "../helpers/broker";

/**
 * The two stores behind one interface. NeDB runs for real; MongoDB has no
 * server on this machine, so the mongoose adapter runs against its model
 * with the driver's calls recorded: the same query and update documents
 * must reach it unchanged, and its answers must mean what NeDB's mean.
 */
interface Widget extends Doc {
	sku: string;
	stock: number;
	holds?: Record<string, { q: number }>;
	history?: string[];
}

const fakeService = { logger: console, settings: {}, schema: {} } as unknown as Service;

/** The documents the services send, and the outcome each must have on a store holding W1 (stock 5). */
const CONDITIONAL_UPDATES = [
	{
		what: "a guarded decrement with a marker",
		query: { _id: "W1", stock: { $gte: 2 }, "holds.r_o1": { $exists: false } },
		update: { $inc: { stock: -2 }, $set: { "holds.r_o1": { q: 2 } } },
		matched: 1,
	},
	{
		what: "the same again (marker there)",
		query: { _id: "W1", stock: { $gte: 2 }, "holds.r_o1": { $exists: false } },
		update: { $inc: { stock: -2 }, $set: { "holds.r_o1": { q: 2 } } },
		matched: 0,
	},
	{ what: "a guard that fails", query: { _id: "W1", stock: { $gte: 99 } }, update: { $inc: { stock: -99 } }, matched: 0 },
	{ what: "a set that changes nothing (still matched)", query: { _id: "W1" }, update: { $set: { sku: "W-1" } }, matched: 1 },
	{
		what: "an unset of the marker with a push",
		query: { _id: "W1", "holds.r_o1": { $exists: true } },
		update: { $unset: { "holds.r_o1": true }, $inc: { stock: 2 }, $push: { history: "given back" } },
		matched: 1,
	},
	{ what: "a compare on an array's size", query: { _id: "W1", history: { $size: 1 } }, update: { $set: { sku: "W-1b" } }, matched: 1 },
] as const;

describe("storage adapters", () => {
	describe("NeDB (the embedded default), for real", () => {
		let dir: string;
		let adapter: DbAdapter<Widget>;
		/** The widgets store in `dir`, opened on what its file holds. */
		const openWidgets = async () => {
			const a = createAdapter<Widget>({ dataDir: dir, sync: true }, "widgets", [{ field: "sku", unique: true }]).adapter;
			a.init({} as ServiceBroker, fakeService);
			await a.connect();
			return a;
		};
		const widgetsFile = () => path.join(dir, "widgets.db");
		const fileText = () => fs.readFileSync(widgetsFile(), "utf8");

		beforeEach(async () => {
			dir = fs.mkdtempSync(path.join(os.tmpdir(), "adapters-"));
			adapter = await openWidgets();
			await adapter.insert({ _id: "W1", sku: "W-1", stock: 5, holds: {}, history: [] });
		});
		afterEach(async () => {
			await adapter.disconnect();
			fs.rmSync(dir, { recursive: true, force: true });
		});

		it("stops the node when a sync fails, and never answers the write as done", async () => {
			const fatal = jest.fn();
			const failing = createAdapter<Widget>({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), "adapters-eio-")), sync: true }, "widgets").adapter;
			failing.init({} as ServiceBroker, { ...fakeService, broker: { fatal } } as unknown as Service);
			await failing.connect();
			const spy = jest.spyOn(fs, "fdatasync").mockImplementation((_fd: number, cb: (err: Error) => void) => cb(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" })));
			try {
				await expect(failing.insert({ _id: "W9", sku: "W-9", stock: 1, holds: {}, history: [] })).rejects.toMatchObject({ code: "EIO" });
				expect(fatal).toHaveBeenCalledTimes(1);
				expect(fatal.mock.calls[0][0]).toMatch(/fdatasync of .*widgets\.db failed: the node stops/);
				expect(fatal.mock.calls[0][2]).toBe(true);
			} finally {
				spy.mockRestore();
				await failing.disconnect();
			}
		});

		it("counts each conditional update as applied exactly when it matched", async () => {
			for (const step of CONDITIONAL_UPDATES) expect([step.what, await adapter.updateMany(step.query, step.update)]).toEqual([step.what, step.matched]);
			expect(await adapter.findById("W1")).toEqual({ _id: "W1", sku: "W-1b", stock: 5, holds: {}, history: ["given back"] });
		});

		it("answers the document after a one-document conditional update, and null when its guard fails, leaving it as it was", async () => {
			const after = await adapter.updateOne({ _id: "W1", stock: { $gte: 2 } }, { $inc: { stock: -2 }, $push: { history: "taken" } });
			expect(after).toEqual({ _id: "W1", sku: "W-1", stock: 3, holds: {}, history: ["taken"] });
			expect(await adapter.updateOne({ _id: "W1", stock: { $gte: 99 } }, { $inc: { stock: -99 } })).toBeNull();
			after!.stock = 1000; // a copy: changing the answer changes nothing stored
			expect(await adapter.findById("W1")).toEqual({ _id: "W1", sku: "W-1", stock: 3, holds: {}, history: ["taken"] });
		});

		it("reads every document, a write that has answered included, and a reopened file's too", async () => {
			await adapter.insert({ _id: "W2", sku: "W-2", stock: 1 });
			await adapter.updateOne({ _id: "W1" }, { $inc: { stock: -1 } });
			const byId = (docs: ReadonlyArray<Readonly<Widget>>) => [...docs].sort((a, b) => a._id.localeCompare(b._id));
			expect(byId(await adapter.readAll())).toEqual([
				{ _id: "W1", sku: "W-1", stock: 4, holds: {}, history: [] },
				{ _id: "W2", sku: "W-2", stock: 1 },
			]);
			await adapter.disconnect();
			adapter = await openWidgets();
			expect(byId(await adapter.readAll()).map(d => [d._id, d.stock])).toEqual([
				["W1", 4],
				["W2", 1],
			]);
		});

		it("refuses a duplicate of a unique field with an error isDuplicateKeyError knows", async () => {
			const err = await adapter.insert({ _id: "W2", sku: "W-1", stock: 1 }).catch((e: unknown) => e);
			expect(isDuplicateKeyError(err)).toBe(true);
			expect(await adapter.count({ query: {} })).toBe(1);
		});

		it("keeps every write across a reopen, compaction included (the datastore's file is appended through one descriptor)", async () => {
			await adapter.updateMany({ _id: "W1" }, { $inc: { stock: 10 } });
			await (adapter as unknown as { db: { compactDatafileAsync(): Promise<void> } }).db.compactDatafileAsync();
			await adapter.insert({ _id: "W2", sku: "W-2", stock: 1 });
			await adapter.updateMany({ _id: "W2" }, { $set: { stock: 7 } });
			await adapter.disconnect();
			const reopened = await openWidgets();
			expect((await reopened.find({ query: {}, sort: ["sku"] })).map(w => [w._id, w.stock])).toEqual([
				["W1", 15],
				["W2", 7],
			]);
			adapter = reopened;
		});

		const fileLines = () => fileText().trim().split("\n").length;
		const reopen = async () => {
			await adapter.disconnect();
			adapter = await openWidgets();
		};

		it("compacts a file whose few documents were rewritten many times, losing no write (a catalog's takes)", async () => {
			for (let i = 0; i < 2_500; i++) await adapter.updateMany({ _id: "W1" }, { $inc: { stock: 1 } });
			// Compacted at the two-thousandth line (dead lines over one document by a thousand), then the later writes appended.
			expect(fileLines()).toBeLessThan(600);
			await reopen();
			expect(await adapter.findById("W1")).toMatchObject({ stock: 5 + 2_500 });
		});

		it("compacts a file that grows at its first quiet moment once its dead lines outnumber its documents, and a reopened file counts the dead lines it read", async () => {
			// Orders' shape: each document written three times.
			const write = async (from: number, to: number) => {
				for (let i = from; i < to; i++) {
					await adapter.insert({ _id: `G${i}`, sku: `G-${i}`, stock: 0 });
					await adapter.updateMany({ _id: `G${i}` }, { $set: { stock: 1 } });
					await adapter.updateMany({ _id: `G${i}` }, { $inc: { stock: 1 } });
				}
			};
			await write(0, 600);
			expect(fileLines()).toBeGreaterThanOrEqual(1 + 3 * 600); // no compaction yet: 1,200 dead lines, 601 documents
			await reopen();
			await write(600, 1_500);
			// 1,501 documents held in far fewer lines than the 4,501 written, once the store has been left alone a moment.
			await waitFor(() => fileLines() < 3_000, 10_000, "the file to be compacted");
			await reopen();
			expect(await adapter.count({ query: {} })).toBe(1_501);
			expect(await adapter.count({ query: { stock: 2 } })).toBe(1_500);
		});

		it("writes a Date as NeDB does and a date string as a string, and reads each back as it was written", async () => {
			const at = new Date("2026-11-25T10:00:00.000Z");
			await adapter.insert({ _id: "D1", sku: "D-1", stock: 1, history: ["2026-11-25T10:00:00.000Z"], when: at } as Widget);
			await adapter.updateMany({ _id: "W1" }, { $set: { "holds.r_x": { q: 1 } } });
			const lines = fileText().trim().split("\n");
			expect(lines.find(l => l.includes('"D1"'))).toContain(`"when":{"$$date":${at.getTime()}}`);
			expect(JSON.parse(lines.at(-1)!)).toEqual({ _id: "W1", sku: "W-1", stock: 5, holds: { r_x: { q: 1 } }, history: [] });
			await reopen();
			const d1 = (await adapter.findById("D1")) as Widget & { when: unknown };
			expect(d1.when).toBeInstanceOf(Date);
			expect((d1.when as Date).getTime()).toBe(at.getTime());
			expect(d1.history).toEqual(["2026-11-25T10:00:00.000Z"]);
		});

		it("opens a file whose last line a crash cut short without losing the writes after it, and still revives NeDB's dates", async () => {
			// NeDB refuses a file with more than 10% of bad lines: one among many.
			for (let i = 10; i < 30; i++) await adapter.insert({ _id: `X${i}`, sku: `X-${i}`, stock: i });
			await adapter.disconnect();
			fs.appendFileSync(widgetsFile(), `${JSON.stringify({ _id: "W7", sku: "W-7", stock: 7, at: { $$date: 1_700_000_000_000 } })}\n{"_id":"W8","sku":"W-`);
			adapter = await openWidgets();
			await adapter.insert({ _id: "W9", sku: "W-9", stock: 9 });
			await adapter.disconnect();
			adapter = await openWidgets();
			expect((await adapter.find({ query: { sku: { $regex: /^W/ } }, sort: ["sku"] })).map(w => w._id)).toEqual(["W1", "W7", "W9"]);
			expect(await adapter.count({ query: {} })).toBe(23);
			expect(((await adapter.findById("W7")) as unknown as { at: unknown }).at).toEqual(new Date(1_700_000_000_000));
		});

		it("pages and sorts as moleculer-db's find does", async () => {
			for (let i = 2; i <= 5; i++) await adapter.insert({ _id: `W${i}`, sku: `W-${i}`, stock: i * 10 });
			expect((await adapter.find({ query: {}, sort: ["-stock"], offset: 1, limit: 2 })).map(w => w._id)).toEqual(["W4", "W3"]);
			expect(await adapter.removeMany({ stock: { $lte: 30 } })).toBe(3);
		});
	});

	describe("NeDB's syscalls, under strace", () => {
		/**
		 * A child process writes and compacts a store (dist/, as a node runs it) under strace; the
		 * syscalls that make a write durable must come in this order.
		 */
		const traced = (script: string) => {
			const dir = fs.mkdtempSync(path.join(os.tmpdir(), "adapters-strace-"));
			const log = path.join(dir, "strace.log");
			const adapterModule = path.resolve(__dirname, "../../dist/lib/db/nedb-adapter.js");
			const program = `const { createNedbAdapter } = require(${JSON.stringify(adapterModule)});
				(async () => {
					const a = createNedbAdapter(${JSON.stringify(path.join(dir, "data"))}, "things", [], { sync: true });
					a.init({}, { logger: console, broker: {} });
					await a.connect();
					${script}
					await a.disconnect();
				})().catch(err => { console.error(err); process.exit(1); });`;
			execFileSync("strace", ["-f", "-qq", "-e", "trace=openat,write,pwrite64,writev,fsync,fdatasync,rename,renameat,renameat2", "-o", log, process.execPath, "-e", program], { stdio: "pipe" });
			const lines = fs.readFileSync(log, "utf8").split("\n");
			fs.rmSync(dir, { recursive: true, force: true });
			return { lines, file: path.join(dir, "data", "things.db") };
		};
		/** The index of the first line at or after `from` matching `re`, or -1. */
		const find = (lines: string[], re: RegExp, from = 0) => lines.findIndex((l, i) => i >= from && re.test(l));
		const fdOf = (line: string) => Number(/= (\d+)$/.exec(line)?.[1]);
		const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

		it("answers a write only after an fdatasync of its file that began after the write", () => {
			const { lines, file } = traced(
				`await a.insert({ _id: "T1", n: 1 }); process.stdout.write("ACK-1\\n"); await Promise.all([a.insert({ _id: "T2", n: 2 }), a.insert({ _id: "T3", n: 3 })]); process.stdout.write("ACK-2\\n");`,
			);
			const open = find(lines, new RegExp(`openat\\(.*"${esc(file)}", O_WRONLY\\|O_CREAT\\|O_APPEND`));
			expect(open).toBeGreaterThanOrEqual(0);
			const fd = fdOf(lines[open]);
			const write1 = find(lines, new RegExp(`^\\d+ +write\\(${fd}, .*T1`), open);
			const ack1 = find(lines, /write\(1, "ACK-1/);
			const sync1 = find(lines, new RegExp(`fdatasync\\(${fd}\\)`), write1);
			expect(write1).toBeGreaterThan(open);
			expect(sync1).toBeGreaterThan(write1);
			expect(ack1).toBeGreaterThan(sync1);
			// Two writes of one turn: one sync after both, before their answer.
			const write3 = find(lines, new RegExp(`write\\(${fd}, .*T3`), ack1);
			const sync2 = find(lines, new RegExp(`fdatasync\\(${fd}\\)`), write3);
			const ack2 = find(lines, /write\(1, "ACK-2/);
			expect(find(lines, new RegExp(`write\\(${fd}, .*T2`), ack1)).toBeLessThan(write3);
			expect([sync2 > write3, ack2 > sync2]).toEqual([true, true]);
			expect(lines.slice(write3, ack2).filter(l => l.includes(`fdatasync(${fd})`))).toHaveLength(1);
		});

		it("compacts crash-safely: the new file is synced before it replaces the old one, and the directory after", () => {
			const { lines, file } = traced(`await a.insert({ _id: "X", n: 0 }); for (let i = 0; i < 20; i++) await a.updateMany({ _id: "X" }, { $set: { n: i } }); await a.db.compactDatafileAsync();`);
			const openTemp = find(lines, new RegExp(`openat\\(.*"${esc(file)}~", O_RDWR`));
			expect(openTemp).toBeGreaterThanOrEqual(0);
			const syncTemp = find(lines, new RegExp(`fsync\\(${fdOf(lines[openTemp])}\\)`), openTemp);
			const rename = find(lines, new RegExp(`rename(at2?)?\\(.*"${esc(file)}~".*"${esc(file)}"`), openTemp);
			const openDir = find(lines, new RegExp(`openat\\(.*"${esc(path.dirname(file))}", O_RDONLY`), rename);
			const syncDir = openDir >= 0 ? find(lines, new RegExp(`fsync\\(${fdOf(lines[openDir])}\\)`), openDir) : -1;
			expect([syncTemp > openTemp, rename > syncTemp, openDir > rename, syncDir > openDir]).toEqual([true, true, true, true]);
		});
	});

	describe("NeDB pages sorted on an indexed field (read in the index's order)", () => {
		interface Entry extends Doc {
			owner: string;
			status: string;
			createdAt: string;
		}
		let dir: string;
		let adapter: DbAdapter<Entry>;
		const entries: Entry[] = [];
		const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();

		beforeAll(async () => {
			dir = fs.mkdtempSync(path.join(os.tmpdir(), "adapters-pages-"));
			adapter = createAdapter<Entry>({ dataDir: dir, sync: true }, "entries", [{ field: "owner" }, { field: "createdAt", sorted: true }]).adapter;
			adapter.init({} as ServiceBroker, fakeService);
			await adapter.connect();
			// Inserted out of time order, with two entries sharing a time.
			for (let i = 0; i < 250; i++) {
				const n = (i * 97) % 250;
				const entry = { _id: `E${String(i).padStart(3, "0")}`, owner: `c${n % 7}`, status: n % 3 === 0 ? "cancelled" : "confirmed", createdAt: at(n === 249 ? 248 : n) };
				entries.push(entry);
				await adapter.insert(entry);
			}
		});
		afterAll(async () => {
			await adapter.disconnect();
			fs.rmSync(dir, { recursive: true, force: true });
		});

		/** What the page must hold: the matching entries in time order, sliced. */
		function expected(match: (e: Entry) => boolean, descending: boolean, offset: number, limit: number): string[] {
			const sorted = entries.filter(match).sort((a, b) => a.createdAt.localeCompare(b.createdAt) * (descending ? -1 : 1));
			return sorted.slice(offset, offset + limit).map(e => e.createdAt);
		}

		it.each([
			["every entry, newest first", {}, () => true, true],
			["every entry, oldest first", {}, () => true, false],
			["one status (no index narrows it), newest first", { status: "cancelled" }, (e: Entry) => e.status === "cancelled", true],
			["one owner (its index narrows it), newest first", { owner: "c3" }, (e: Entry) => e.owner === "c3", true],
			["one owner and status, oldest first", { owner: "c2", status: "confirmed" }, (e: Entry) => e.owner === "c2" && e.status === "confirmed", false],
		])("answers any page of %s, and counts them", async (_what, query, match, descending) => {
			const total = entries.filter(match).length;
			expect(await adapter.count({ query })).toBe(total);
			for (const [offset, limit] of [
				[0, 10],
				[30, 10],
				[total - 5, 10],
				[total + 10, 10],
			]) {
				const page = await adapter.find({ query, sort: [descending ? "-createdAt" : "createdAt"], offset, limit });
				expect(page.map(e => e.createdAt)).toEqual(expected(match, descending, offset, limit));
			}
		});

		it("answers copies: changing a page changes nothing stored", async () => {
			const [first] = await adapter.find({ query: {}, sort: ["-createdAt"], offset: 0, limit: 1 });
			first.status = "changed";
			const [again] = await adapter.find({ query: {}, sort: ["-createdAt"], offset: 0, limit: 1 });
			expect(again.status).not.toBe("changed");
		});

		it("keeps its order through updates and a reopen of the file, and answers ranges and equalities on the field", async () => {
			expect(await adapter.updateMany({ owner: "c4" }, { $set: { status: "shipped" } })).toBe(entries.filter(e => e.owner === "c4").length);
			for (const e of entries) if (e.owner === "c4") e.status = "shipped";
			await adapter.disconnect();
			adapter = createAdapter<Entry>({ dataDir: dir, sync: true }, "entries", [{ field: "owner" }, { field: "createdAt", sorted: true }]).adapter;
			adapter.init({} as ServiceBroker, fakeService);
			await adapter.connect();
			const shipped = (e: Entry) => e.status === "shipped";
			expect(await adapter.count({ query: {} })).toBe(entries.length);
			expect((await adapter.find({ query: { status: "shipped" }, sort: ["-createdAt"], offset: 3, limit: 5 })).map(e => e.createdAt)).toEqual(expected(shipped, true, 3, 5));
			expect((await adapter.find({ query: {}, sort: ["createdAt"], offset: 100, limit: 50 })).map(e => e.createdAt)).toEqual(expected(() => true, false, 100, 50));
			expect(await adapter.count({ query: { createdAt: { $gte: at(10), $lt: at(20) } } })).toBe(10);
			expect(await adapter.count({ query: { createdAt: at(248) } })).toBe(2);
		});

		it("sees a write that has answered, in its place", async () => {
			await adapter.insert({ _id: "NEW", owner: "c1", status: "confirmed", createdAt: at(10_000) });
			expect((await adapter.find({ query: {}, sort: ["-createdAt"], offset: 0, limit: 1 }))[0]._id).toBe("NEW");
			expect(await adapter.count({ query: {} })).toBe(entries.length + 1);
			expect(await adapter.removeMany({ _id: "NEW" })).toBe(1);
			expect(await adapter.count({ query: {} })).toBe(entries.length);
		});
	});

	describe("NeDB pages of a range on a sparse sorted field (what is due, oldest first)", () => {
		interface Job extends Doc {
			channel: string;
			dueAt?: number;
		}
		let dir: string;
		let adapter: DbAdapter<Job>;
		const jobs: Job[] = [];

		beforeAll(async () => {
			dir = fs.mkdtempSync(path.join(os.tmpdir(), "adapters-due-"));
			adapter = createAdapter<Job>({ dataDir: dir, sync: true }, "jobs", [{ field: "dueAt", sparse: true, sorted: true }]).adapter;
			adapter.init({} as ServiceBroker, fakeService);
			await adapter.connect();
			// Out of order, some sharing a time, a third settled (no dueAt), one in ten a webhook.
			for (let i = 0; i < 300; i++) {
				const n = (i * 113) % 300;
				const job: Job = { _id: `J${String(i).padStart(3, "0")}`, channel: n % 10 === 0 ? "webhook" : "mail", ...(n % 3 === 0 ? {} : { dueAt: Math.floor(n / 2) }) };
				jobs.push(job);
				await adapter.insert(job);
			}
		});
		afterAll(async () => {
			await adapter.disconnect();
			fs.rmSync(dir, { recursive: true, force: true });
		});

		const due = (now: number, channel?: string) => jobs.filter(j => j.dueAt !== undefined && j.dueAt <= now && (!channel || j.channel === channel)).sort((a, b) => a.dueAt! - b.dueAt!);

		it.each([
			["due by a time", 60, undefined],
			["due by a time, of one channel", 120, "webhook"],
			["due by now, all", 1_000, undefined],
			["due before anything", -1, undefined],
		])("answers the page of what is %s, in the field's order, without the documents that lack it", async (_what, now, channel) => {
			const query = { dueAt: { $lte: now }, ...(channel ? { channel } : {}) };
			for (const limit of [5, 1_000]) {
				const page = await adapter.find({ query, sort: ["dueAt"], limit });
				expect(page.map(j => j.dueAt)).toEqual(
					due(now, channel)
						.slice(0, limit)
						.map(j => j.dueAt),
				);
			}
		});

		it("keeps the order through settling and rescheduling, and a query without a range on the field still sees every document", async () => {
			const [first] = await adapter.find({ query: { dueAt: { $lte: 1_000 } }, sort: ["dueAt"], limit: 1 });
			await adapter.updateMany({ _id: first._id }, { $unset: { dueAt: true } });
			const [second] = await adapter.find({ query: { dueAt: { $lte: 1_000 } }, sort: ["dueAt"], limit: 1 });
			await adapter.updateMany({ _id: second._id }, { $set: { dueAt: 10_000 } });
			for (const j of jobs) if (j._id === first._id) delete j.dueAt;
			for (const j of jobs) if (j._id === second._id) j.dueAt = 10_000;
			expect((await adapter.find({ query: { dueAt: { $lte: 20_000 } }, sort: ["dueAt"], limit: 1_000 })).map(j => j._id)).toEqual(due(20_000).map(j => j._id));
			const webhooks = await adapter.find({ query: { channel: "webhook" }, sort: ["dueAt"], limit: 1_000 });
			expect(webhooks).toHaveLength(jobs.filter(j => j.channel === "webhook").length);
		});
	});

	describe("MongoDB through mongoose, with the model's calls recorded", () => {
		let adapter: DbAdapter<Widget>;
		let model: Record<string, jest.Mock> & { schema: { indexes(): unknown[] } };

		beforeAll(() => {
			const created = createAdapter<Widget>({ dataDir: ":memory:", mongoUri: "mongodb://127.0.0.1:1/never-connected", sync: true }, "widgets", [
				{ field: "sku", unique: true },
				{ field: "flag", sparse: true },
			]);
			adapter = created.adapter;
			model = created.model as typeof model;
			adapter.init({} as ServiceBroker, fakeService);
		});
		afterEach(() => jest.restoreAllMocks());

		it("declares the unique and sparse indexes, with string ids", () => {
			expect(model.schema.indexes()).toEqual(
				expect.arrayContaining([
					[{ sku: 1 }, expect.objectContaining({ unique: true })],
					[{ flag: 1 }, expect.objectContaining({ sparse: true })],
				]),
			);
			const Model = model as unknown as new (doc: object) => { get(field: string): unknown };
			expect(typeof new Model({}).get("_id")).toBe("string");
		});

		it("writes with write concern majority and the journal: acknowledged means on disk on most members", () => {
			expect((model.schema as unknown as { options: { writeConcern?: unknown } }).options.writeConcern).toEqual({ w: "majority", j: true });
		});

		it("hands the same update documents to the driver and counts what matched, not what changed", async () => {
			for (const step of CONDITIONAL_UPDATES) {
				const updateMany = jest.spyOn(model as never, "updateMany" as never).mockResolvedValue({ matchedCount: step.matched, modifiedCount: 0 } as never);
				expect(await adapter.updateMany(step.query, step.update)).toBe(step.matched);
				expect(updateMany).toHaveBeenCalledWith(step.query, step.update);
			}
		});

		it("makes a one-document conditional update one findOneAndUpdate that answers the document after it, or null", async () => {
			const Model = model as unknown as new (doc: object) => { _id: string };
			const stored = new Model({ sku: "G-2", stock: 1 });
			const findOneAndUpdate = jest.spyOn(model as never, "findOneAndUpdate" as never).mockReturnValueOnce({ exec: async () => stored } as never);
			const query = { _id: stored._id, stock: { $gte: 1 } };
			const update = { $inc: { stock: -1 } };
			expect(await adapter.updateOne(query, update)).toEqual({ _id: stored._id, sku: "G-2", stock: 1 });
			expect(findOneAndUpdate).toHaveBeenCalledWith(query, update, { new: true });
			findOneAndUpdate.mockReturnValueOnce({ exec: async () => null } as never);
			expect(await adapter.updateOne(query, update)).toBeNull();
		});

		it("answers plain objects whose fields outside the schema are readable, as NeDB does", async () => {
			const Model = model as unknown as new (doc: object) => { _id: string };
			const stored = new Model({ sku: "G-1", stock: 3, holds: { r_x: { q: 1 } } });
			jest.spyOn(model as never, "findById" as never).mockReturnValue({ exec: async () => stored } as never);
			const found = await adapter.findById(stored._id);
			expect(found).toEqual({ _id: stored._id, sku: "G-1", stock: 3, holds: { r_x: { q: 1 } } });
			expect(typeof (found as unknown as { toObject?: unknown }).toObject).toBe("undefined");
		});

		it("passes the driver's duplicate-key error on, which isDuplicateKeyError knows", async () => {
			const Model = model as unknown as { prototype: { save(): Promise<unknown> } };
			jest.spyOn(Model.prototype, "save").mockRejectedValue(Object.assign(new Error("E11000 duplicate key"), { code: 11000 }));
			const err = await adapter.insert({ _id: "W9", sku: "W-1", stock: 1 }).catch((e: unknown) => e);
			expect(isDuplicateKeyError(err)).toBe(true);
		});

		it("hands a page's query, sort, offset and limit to the driver (the same documents the NeDB path reads in index order)", async () => {
			const calls: unknown[] = [];
			const cursor = {
				sort: (s: unknown) => (calls.push(["sort", s]), cursor),
				skip: (n: unknown) => (calls.push(["skip", n]), cursor),
				limit: (n: unknown) => (calls.push(["limit", n]), cursor),
				exec: async () => [],
			};
			const find = jest.spyOn(model as never, "find" as never).mockReturnValue(cursor as never);
			await adapter.find({ query: { status: "confirmed" }, sort: ["-createdAt"], offset: 4900, limit: 100 });
			expect(find).toHaveBeenCalledWith({ status: "confirmed" });
			expect(calls).toEqual(
				expect.arrayContaining([
					["sort", "-createdAt"],
					["skip", 4900],
					["limit", 100],
				]),
			);
		});

		it("reads every document with one find of the whole collection, as plain objects", async () => {
			const Model = model as unknown as new (doc: object) => { _id: string };
			const stored = [new Model({ sku: "R-1", stock: 2 }), new Model({ sku: "R-2", stock: 0 })];
			const find = jest.spyOn(model as never, "find" as never).mockReturnValue({ exec: async () => stored } as never);
			expect(await adapter.readAll()).toEqual([
				{ _id: stored[0]._id, sku: "R-1", stock: 2 },
				{ _id: stored[1]._id, sku: "R-2", stock: 0 },
			]);
			expect(find).toHaveBeenCalledWith({});
		});

		it("counts removed documents", async () => {
			const deleteMany = jest.spyOn(model as never, "deleteMany" as never).mockResolvedValue({ deletedCount: 3 } as never);
			expect(await adapter.removeMany({ stock: { $lte: 30 } })).toBe(3);
			expect(deleteMany).toHaveBeenCalledWith({ stock: { $lte: 30 } });
		});
	});
});
