import fs from "fs";
import path from "path";
import Datastore from "@seald-io/nedb";
import { MemoryAdapter } from "moleculer-db";
import type { DbAdapter, Doc, FindParams, IndexSpec, Query, Update } from "./adapter";
import { lockDataDir } from "./data-dir-lock";
import { GroupCommit } from "./group-commit";
import { SortedIndexTree } from "./sorted-index";

/* eslint-disable @typescript-eslint/no-require-imports -- NeDB's persistence layer has no typings and no export of its own */
const Persistence = require("@seald-io/nedb/lib/persistence") as PersistenceClass;
const model = require("@seald-io/nedb/lib/model") as {
	deserialize(line: string): unknown;
	serialize(doc: object): string;
	match(doc: object, query: Query): boolean;
	deepCopy<D>(doc: D): D;
	compareThings(a: unknown, b: unknown): number;
};
/* eslint-enable @typescript-eslint/no-require-imports */

interface PersistenceOptions {
	db: Datastore;
	modes?: { fileMode: number; dirMode: number };
}
interface PersistenceInstance {
	loadDatabaseAsync(): Promise<void>;
	persistCachedDatabaseAsync(): Promise<void>;
	filename: string;
	inMemoryOnly: boolean;
	modes: { fileMode: number };
	afterSerialization(line: string): string;
	beforeDeserialization: (line: string) => string;
}
type PersistenceClass = new (options: PersistenceOptions) => PersistenceInstance;

/** When a file is compacted (see noteAppended): checked every COMPACT_CHECK_EVERY_LINES appended lines. */
const COMPACT_CHECK_EVERY_LINES = 1_000;
const COMPACT_MIN_DEAD_LINES = 1_000;
/** Dead lines per document from which a file is compacted even while it is written. */
const COMPACT_BUSY_DEAD_PER_DOC = 4;
/** How long a file must go unwritten before a compaction that can wait for a quiet moment. */
const COMPACT_QUIET_MS = 500;
/** After failed compactions in a row, the next waits for this many lines times 2^failures (at most 2^COMPACT_MAX_BACKOFF_STEPS). */
const COMPACT_MAX_BACKOFF_STEPS = 10;

/**
 * NeDB reads each line of a datafile through JSON.parse with a reviver (for
 * its `{ $$date }` form of a Date), several times slower than without one:
 * a quarter of a restart at 50,000 orders. A line that has no `$$date` in
 * it revives to exactly what a plain JSON.parse answers, so only those pay
 * for the reviver. (Patched on NeDB's model module, which its persistence
 * calls through: @seald-io/nedb 3.1, pinned.)
 */
const reviving = model.deserialize.bind(model);
model.deserialize = (line: string) => (line.includes("$$date") ? reviving(line) : JSON.parse(line));

/**
 * The same the other way: NeDB serialises each written document through
 * JSON.stringify with a replacer (which checks every key again, and writes
 * a Date as `{ $$date }`), ~2-3 times slower than without one, and each
 * update writes the whole document: 8% of an order's time. A document
 * holds only keys NeDB checked when it was written, so one without a Date
 * serialises to exactly what a plain JSON.stringify answers; one with a
 * Date keeps NeDB's way.
 */
const serializing = model.serialize.bind(model);
model.serialize = (doc: object) => (holdsDate(doc) ? serializing(doc) : JSON.stringify(doc));

function holdsDate(value: unknown): boolean {
	if (value === null || typeof value !== "object") return false;
	if (value instanceof Date) return true;
	if (Array.isArray(value)) return value.some(holdsDate);
	for (const key in value) if (holdsDate((value as Record<string, unknown>)[key])) return true;
	return false;
}

/**
 * NeDB's persistence, appending through one open descriptor. NeDB appends
 * each write with fs.appendFile (open, write and close through the thread
 * pool) and runs a datastore's operations one at a time, so every write
 * cost ~100 µs: 6,500 updates/s on one datastore here, against 55,000/s
 * through an open descriptor. NeDB never syncs an append; here a write is
 * acknowledged once an fdatasync that began after it has completed (group
 * commit: one sync per file per event-loop turn, through the thread pool,
 * waited for by the adapter after NeDB's one-at-a-time executor, so that
 * writes are not serialised behind it).
 *
 * `persistNewStateAsync` is the method NeDB's Datastore calls with the
 * documents an operation changed (@seald-io/nedb 3.1, pinned for it).
 * Compaction replaces the file; the descriptor is reopened after its
 * documented `compaction.done` event (compaction runs alone in the
 * datastore's executor, so no append falls between).
 */
class AppendingPersistence extends Persistence {
	private fd: number | undefined;
	private loading = false;
	/** Lines in the file: counted while loading, then per append; the documents alone after a compaction. */
	private fileLines = 0;
	private lastAppendAt = 0;
	private quietTimer: NodeJS.Timeout | undefined;
	/** A failing compaction (a full disk) is not tried again on every check: only past this line count. */
	private retryAtLines = 0;
	private failuresInARow = 0;
	private compaction: Promise<void> | undefined;
	/** The descriptor an fdatasync is running on, and whether it is to be closed once that sync ends. */
	private syncingFd: number | undefined;
	private closeAfterSync = false;
	readonly commits = new GroupCommit(() => this.syncAppends());

	constructor(private readonly options: PersistenceOptions) {
		super(options);
		const decode = this.beforeDeserialization;
		// Called for each line the load reads (NeDB's hook for decoding lines): the count of lines, dead ones included.
		this.beforeDeserialization = (line: string) => {
			this.fileLines++;
			return decode(line);
		};
		options.db.on("compaction.done", () => {
			this.close();
			this.fileLines = options.db.getAllData().length;
		});
	}

	persistNewStateAsync(docs: object[]): Promise<void> {
		if (this.inMemoryOnly || docs.length === 0) return Promise.resolve();
		try {
			let lines = "";
			for (const doc of docs) lines += `${this.afterSerialization(model.serialize(doc))}\n`;
			this.fd ??= fs.openSync(this.filename, "a", this.modes.fileMode);
			fs.writeSync(this.fd, lines);
			this.noteAppended(docs.length);
			return Promise.resolve();
		} catch (err) {
			return Promise.reject(err instanceof Error ? err : new Error(String(err)));
		}
	}

	/**
	 * NeDB rewrites the whole datafile after each load (serialise every
	 * document, write a temporary file, fsync, rename): a third of a restart
	 * at 50,000 orders. The file as it was read is as valid and as durable;
	 * it is compacted once it holds enough dead lines (noteAppended). A last line that a crash cut
	 * short (NeDB skips it) is ended, so the next append starts a line of its own.
	 */
	async loadDatabaseAsync(): Promise<void> {
		this.loading = true;
		this.fileLines = 0;
		try {
			await super.loadDatabaseAsync();
		} finally {
			this.loading = false;
		}
		if (this.inMemoryOnly) return;
		const fd = fs.openSync(this.filename, "r+");
		try {
			const size = fs.fstatSync(fd).size;
			const last = Buffer.alloc(1);
			if (size > 0 && fs.readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a) fs.writeSync(fd, "\n", size);
		} finally {
			fs.closeSync(fd);
		}
	}

	persistCachedDatabaseAsync(): Promise<void> {
		return this.loading ? Promise.resolve() : super.persistCachedDatabaseAsync();
	}

	/**
	 * Every update appends the whole document, so the file holds dead lines:
	 * the catalog, whose few documents each order's takes rewrite, grew 49 MB
	 * of them by 50,000 orders, and the orders file holds three lines per
	 * order; a restart reads them all. Compaction rewrites the file from
	 * memory, but it holds the datastore's executor while it serialises
	 * every document (~0.2 s at 20,000 orders), so it is done when it costs
	 * least:
	 *  - once the dead lines outnumber the documents (by a thousand), at the
	 *    first quiet half second of the store: after a burst, not inside it;
	 *  - at once when they outnumber them four to one: a catalog under
	 *    constant orders, every thousand orders or so, a few ms each.
	 * (NeDB's fixed-interval compaction instead stalled a large store every
	 * minute, busy or not, dead lines or not.)
	 */
	private noteAppended(lines: number): void {
		this.lastAppendAt = Date.now();
		const before = this.fileLines;
		this.fileLines += lines;
		if (Math.floor(before / COMPACT_CHECK_EVERY_LINES) === Math.floor(this.fileLines / COMPACT_CHECK_EVERY_LINES) || this.fileLines < this.retryAtLines) return;
		const docs = this.options.db.getAllData().length;
		const dead = this.fileLines - docs;
		if (dead >= COMPACT_BUSY_DEAD_PER_DOC * docs + COMPACT_MIN_DEAD_LINES) this.compact();
		else if (dead >= docs + COMPACT_MIN_DEAD_LINES) this.compactWhenQuiet();
	}

	private compactWhenQuiet(): void {
		if (this.quietTimer || this.compaction) return;
		const check = () => {
			const quietFor = Date.now() - this.lastAppendAt;
			if (quietFor >= COMPACT_QUIET_MS) {
				this.quietTimer = undefined;
				this.compact();
			} else this.quietTimer = setTimeout(check, COMPACT_QUIET_MS - quietFor).unref();
		};
		this.quietTimer = setTimeout(check, COMPACT_QUIET_MS).unref();
	}

	private compact(): void {
		clearTimeout(this.quietTimer);
		this.quietTimer = undefined;
		// A compaction that failed before its rename left the file as it was, and a later check tries again; one that failed
		// after it (its last fsync) replaced the file without saying so: the descriptor is reopened either way, never left
		// on a file that is gone.
		this.compaction ??= this.options.db
			.compactDatafileAsync()
			.then(
				() => {
					this.failuresInARow = 0;
				},
				(err: Error) => {
					this.failuresInARow++;
					this.retryAtLines = this.fileLines + COMPACT_MIN_DEAD_LINES * 2 ** Math.min(this.failuresInARow, COMPACT_MAX_BACKOFF_STEPS);
					this.onCompactionError?.(err);
				},
			)
			.finally(() => {
				this.close();
				this.compaction = undefined;
			});
	}

	/**
	 * fdatasync of the appending descriptor, in the thread pool. Without one
	 * open, every append before this call is in a file that a compaction
	 * rewrote and synced (file and directory) after it, or there was none.
	 */
	private syncAppends(): Promise<void> {
		const fd = this.fd;
		if (fd === undefined) return Promise.resolve();
		this.syncingFd = fd;
		return new Promise<void>((resolve, reject) =>
			fs.fdatasync(fd, err => {
				this.syncingFd = undefined;
				if (this.closeAfterSync) {
					this.closeAfterSync = false;
					fs.closeSync(fd);
				}
				if (err) reject(err);
				else resolve();
			}),
		);
	}

	/** Told when a compaction fails (the adapter logs it). */
	onCompactionError?: (err: Error) => void;

	/** Stops planning compactions; resolves when one under way has finished. */
	async stop(): Promise<void> {
		clearTimeout(this.quietTimer);
		this.quietTimer = undefined;
		await this.compaction;
		this.close();
	}

	close(): void {
		if (this.fd === undefined) return;
		// A descriptor an fdatasync runs on is closed when the sync ends, never under it.
		if (this.fd === this.syncingFd) this.closeAfterSync = true;
		else fs.closeSync(this.fd);
		this.fd = undefined;
	}
}

/** A NeDB datastore whose file is appended through AppendingPersistence. */
class AppendingDatastore extends Datastore {
	constructor(readonly file: string) {
		super({ filename: file });
		(this as unknown as { persistence: PersistenceInstance }).persistence = new AppendingPersistence({ db: this });
	}

	closeFile(): Promise<void> {
		return this.appending.stop();
	}

	onCompactionError(report: (err: Error) => void): void {
		this.appending.onCompactionError = report;
	}

	/** Resolves once the writes made so far are on disk (group commit). */
	durable(): Promise<void> {
		return this.appending.commits.afterWrite();
	}

	private get appending(): AppendingPersistence {
		return (this as unknown as { persistence: AppendingPersistence }).persistence;
	}
}

type MemoryAdapterInstance = DbAdapter & { db: Datastore | null };

/** The parts of NeDB's datastore (3.1) that a page read in index order uses: its indexes, its one-at-a-time executor, its candidate lookup. */
interface IndexInternals {
	unique: boolean;
	sparse: boolean;
	tree: unknown;
	getAll(): Doc[];
}
interface DatastoreInternals {
	indexes: Record<string, IndexInternals>;
	executor: { pushAsync<R>(task: () => Promise<R>): Promise<R> };
	_getCandidatesAsync(query: Query, dontExpireStaleDocs?: boolean): Promise<Doc[]>;
	getAllData(): Doc[];
}

/** A value NeDB's candidate lookup finds through an index (an equality or an `$in`). */
function narrowsByIndex(value: unknown): boolean {
	if (value === null || ["string", "number", "boolean"].includes(typeof value) || value instanceof Date) return true;
	return typeof value === "object" && Object.prototype.hasOwnProperty.call(value, "$in");
}

/**
 * moleculer-db's NeDB adapter (handed a preconfigured datastore, as it
 * allows), with the indexes the mongoose schema declares, compacted by
 * its persistence when dead lines pile up.
 */
class NedbAdapter extends (MemoryAdapter as unknown as new (opts?: Datastore) => MemoryAdapterInstance) {
	constructor(
		private readonly datastore: Datastore | undefined,
		private readonly indexes: IndexSpec[],
		/** Acknowledge a write only once it is on disk (STORE_SYNC); off, a power cut loses acknowledged writes. */
		private readonly sync: boolean,
	) {
		super(datastore);
	}

	/**
	 * A write's result, once the write is on disk. A failed sync stops the
	 * node: the page cache can no longer be trusted, and retrying would only
	 * say that pages the kernel dropped were written.
	 */
	private async committed<R>(result: R): Promise<R> {
		if (!this.sync || !(this.datastore instanceof AppendingDatastore)) return result;
		try {
			await this.datastore.durable();
		} catch (err) {
			const service = (this as unknown as { service?: { broker?: { fatal(message: string, err?: Error, needExit?: boolean): void } } }).service;
			const message = `fdatasync of ${this.datastore.file} failed: the node stops, since the written data can no longer be trusted to reach the disk`;
			if (service?.broker) service.broker.fatal(message, err as Error, true);
			throw err;
		}
		return result;
	}

	async connect(): Promise<void> {
		await super.connect();
		const db = this.db!;
		for (const idx of this.indexes) await db.ensureIndexAsync({ fieldName: idx.field, unique: !!idx.unique, sparse: !!idx.sparse });
		// After the load: NeDB rebuilds an index's tree only when it loads the file again.
		for (const idx of this.indexes) if (idx.sorted && !idx.unique && !idx.sparse) this.sortIndex(idx.field);
		const logger = (this as unknown as { service?: { logger?: { warn(...args: unknown[]): void } } }).service?.logger;
		if (this.datastore instanceof AppendingDatastore) this.datastore.onCompactionError(err => logger?.warn("Compacting a datafile failed; it is tried again later", err.message));
	}

	/** Replaces an index's AVL tree by a sorted array holding the same documents (lib/db/sorted-index.ts). */
	private sortIndex(field: string): void {
		const index = (this.db as unknown as DatastoreInternals).indexes[field];
		const tree = new SortedIndexTree<Doc>((a, b) => model.compareThings(a, b));
		for (const doc of index.getAll()) tree.insert((doc as unknown as Record<string, unknown>)[field], doc);
		index.tree = tree;
	}

	/**
	 * A page sorted on one field with a sorted index (IndexSpec.sorted) is
	 * read in the index's order: the documents are walked in order, matched,
	 * the offset skipped, and only the page copied; with no filter, the page
	 * is a slice. NeDB's own find matches every candidate and sorts them all
	 * before it skips, so a page of 100 among 50,000 orders cost a full sort
	 * (~0.3-1.7 s). A query that another index narrows (a customer's orders)
	 * keeps NeDB's path, which sorts only those candidates.
	 */
	find(params: FindParams): Promise<Doc[]> {
		const db = this.db as unknown as DatastoreInternals | null;
		const sort = params.sort?.length === 1 ? params.sort[0] : undefined;
		if (!db || !sort) return super.find(params);
		const descending = sort.startsWith("-");
		const field = descending ? sort.slice(1) : sort;
		const index = db.indexes[field];
		const query = params.query ?? {};
		if (!(index?.tree instanceof SortedIndexTree) || Object.entries(query).some(([k, v]) => k !== field && db.indexes[k] && narrowsByIndex(v))) return super.find(params);
		const all = index.tree.values as Doc[];
		const offset = params.offset ?? 0;
		const limit = params.limit ?? Infinity;
		return db.executor.pushAsync(() => {
			if (Object.keys(query).length === 0) {
				// Every document matches: the page is a slice.
				const from = descending ? Math.max(0, all.length - offset - limit) : offset;
				const to = descending ? all.length - offset : offset + limit;
				const slice = all.slice(from, Math.max(from, to)).map(doc => model.deepCopy(doc));
				return Promise.resolve(descending ? slice.reverse() : slice);
			}
			const page: Doc[] = [];
			let skipped = 0;
			for (let i = 0; i < all.length && page.length < limit; i++) {
				const doc = all[descending ? all.length - 1 - i : i];
				if (!model.match(doc, query)) continue;
				if (skipped < offset) skipped++;
				else page.push(model.deepCopy(doc));
			}
			return Promise.resolve(page);
		});
	}

	/*
	 * The single-document calls go to NeDB's promise API: moleculer-db wraps
	 * NeDB's callback API, which itself wraps that promise API, so each call
	 * crossed promise -> callback -> promise (~5% of an order's time). The
	 * answers are the same copies.
	 */

	// NeDB answers awaitable cursors, which run again on each `then`: awaited here once, so callers get promises.
	async findOne(query: Query): Promise<Doc | null> {
		return await this.db!.findOneAsync(query);
	}

	async findById(id: string): Promise<Doc | null> {
		return await this.db!.findOneAsync({ _id: id });
	}

	async findByIds(ids: string[]): Promise<Doc[]> {
		return await this.db!.findAsync({ _id: { $in: ids } });
	}

	async insert(doc: Doc): Promise<Doc> {
		return this.committed(await this.db!.insertAsync<Doc>(doc));
	}

	async updateMany(query: Query, update: Update): Promise<number> {
		return this.committed((await this.db!.updateAsync(query, update, { multi: true })).numAffected);
	}

	/** moleculer-db's NeDB wrapper answers undefined when nothing matched; MongoDB, and the contract of DbAdapter, null. */
	updateById(id: string, update: Update): Promise<Doc | null> {
		return this.updateOne({ _id: id }, update);
	}

	/** NeDB answers the updated document of a single update itself (a copy, as every answer). */
	async updateOne(query: Query, update: Update): Promise<Doc | null> {
		const { affectedDocuments } = (await this.db!.updateAsync(query, update, { multi: false, returnUpdatedDocs: true })) as { affectedDocuments: Doc | null };
		return this.committed(affectedDocuments ?? null);
	}

	async removeMany(query: Query): Promise<number> {
		return this.committed(await this.db!.removeAsync(query, { multi: true }));
	}

	/** Counts without copying: NeDB's count runs a cursor that deep-copies every matching document. */
	count(params: { query?: Query } = {}): Promise<number> {
		const db = this.db as unknown as DatastoreInternals | null;
		if (!db) return super.count(params);
		const query = params.query ?? {};
		return db.executor.pushAsync(async () => {
			if (Object.keys(query).length === 0) {
				// A sorted index that is not sparse holds every document once.
				const sorted = Object.values(db.indexes).find(i => i.tree instanceof SortedIndexTree && !i.sparse);
				return sorted ? (sorted.tree as SortedIndexTree<Doc>).values.length : db.getAllData().length;
			}
			let n = 0;
			for (const doc of await db._getCandidatesAsync(query, true)) if (model.match(doc, query)) n++;
			return n;
		});
	}

	async disconnect(): Promise<void> {
		if (this.datastore instanceof AppendingDatastore) await this.datastore.closeFile();
		await super.disconnect();
	}
}

/** NeDB files under `dataDir` (`<collection>.db`); `:memory:` keeps nothing. */
export function createNedbAdapter<T extends Doc>(dataDir: string, collection: string, indexes: IndexSpec[], { sync = true } = {}): DbAdapter<T> {
	if (dataDir === ":memory:") return new NedbAdapter(undefined, indexes, false) as unknown as DbAdapter<T>;
	lockDataDir(dataDir);
	return new NedbAdapter(new AppendingDatastore(path.join(dataDir, `${collection}.db`)), indexes, sync) as unknown as DbAdapter<T>;
}
