import path from "path";
import type Datastore from "@seald-io/nedb";
import { MemoryAdapter } from "moleculer-db";
import type { DbAdapter, Doc, FindParams, IndexSpec, Query, Update } from "./adapter";
import { AppendingDatastore } from "./appending-persistence";
import { assertNoUnfinishedRestore, registerDatastore, unregisterDatastore } from "./backup";
import { lockDataDir } from "./data-dir-lock";
import { SortedIndexTree, isRange } from "./sorted-index";
import { applyPatches } from "../infra/patches";

/* eslint-disable @typescript-eslint/no-require-imports -- NeDB's model has no typings and no export of its own */
const model = require("@seald-io/nedb/lib/model") as {
	match(doc: object, query: Query): boolean;
	deepCopy<D>(doc: D): D;
	compareThings(a: unknown, b: unknown): number;
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** moleculer-db's memory adapter: its store, and the service it was initialised with (which its typings do not declare). */
type MemoryAdapterInstance = DbAdapter & { db: Datastore | null; service?: OwnerService; createCursor(params: FindParams): PromiseLike<Doc[]> };

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

/** What the adapter uses of the service it was initialised with. */
interface OwnerService {
	broker?: { fatal(message: string, err?: Error, needExit?: boolean): void };
	logger?: { warn(...args: unknown[]): void };
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
// moleculer-db's typings declare its adapters as interfaces, not classes to extend.
class NedbAdapter extends (MemoryAdapter as unknown as new (opts?: Datastore) => MemoryAdapterInstance) {
	constructor(
		private readonly datastore: Datastore | undefined,
		private readonly indexes: IndexSpec[],
		/** Acknowledge a write only once it is on disk (STORE_SYNC); off, a power cut loses acknowledged writes. */
		private readonly sync: boolean,
		private readonly dataDir?: string,
	) {
		super(datastore);
	}

	/** NeDB's datastore as it is (3.1), past its typings: indexes, executor, candidates. */
	private get internals(): DatastoreInternals | null {
		// @seald-io/nedb's typings leave out the members a page read in index order uses.
		return this.db as unknown as DatastoreInternals | null;
	}

	/** The service moleculer-db's adapter was initialised with. */
	private get owner(): OwnerService | undefined {
		return this.service;
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
			const service = this.owner;
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
		for (const idx of this.indexes) if (idx.sorted && !idx.unique) this.sortIndex(idx.field);
		const logger = this.owner?.logger;
		if (this.datastore instanceof AppendingDatastore && this.dataDir) registerDatastore(this.dataDir, this.datastore);
		if (this.datastore instanceof AppendingDatastore) this.datastore.onCompactionError(err => logger?.warn("Compacting a datafile failed; it is tried again later", err.message));
	}

	/** Replaces an index's AVL tree by a sorted array holding the same documents (lib/db/sorted-index.ts). */
	private sortIndex(field: string): void {
		const index = this.internals!.indexes[field];
		const tree = new SortedIndexTree<Doc>((a, b) => model.compareThings(a, b));
		for (const doc of index.getAll()) tree.insert(Reflect.get(doc, field) as unknown, doc);
		index.tree = tree;
	}

	/**
	 * A page sorted on one field with a sorted index (IndexSpec.sorted) is
	 * read in the index's order: the documents are walked in order (only
	 * those within a range the query sets on the field), matched, the offset
	 * skipped, and only the page copied; with no filter, the page is a
	 * slice. NeDB's own find matches every candidate and sorts them all
	 * before it skips, so a page of 100 among 50,000 orders cost a full sort
	 * (~0.3-1.7 s). A query that another index narrows (a customer's orders)
	 * keeps NeDB's path, which sorts only those candidates. A sparse index
	 * lacks the documents without the field: it is walked only for a range
	 * on the field, which those documents never match.
	 */
	find(params: FindParams): Promise<Doc[]> {
		const db = this.internals;
		const sort = params.sort?.length === 1 ? params.sort[0] : undefined;
		if (!db || !sort) return this.findByCursor(params);
		const descending = sort.startsWith("-");
		const field = descending ? sort.slice(1) : sort;
		const index = db.indexes[field];
		const query = params.query ?? {};
		if (!(index?.tree instanceof SortedIndexTree) || Object.entries(query).some(([k, v]) => k !== field && db.indexes[k] && narrowsByIndex(v))) return this.findByCursor(params);
		const tree = index.tree as SortedIndexTree<Doc>;
		const range = Object.prototype.hasOwnProperty.call(query, field) && isRange(query[field]) ? query[field] : undefined;
		if (index.sparse && !range) return this.findByCursor(params);
		const all = tree.values;
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
			const [from, to] = range ? tree.positions(range) : [0, all.length];
			const page: Doc[] = [];
			let skipped = 0;
			for (let i = 0; i < to - from && page.length < limit; i++) {
				const doc = all[descending ? to - 1 - i : from + i];
				if (!model.match(doc, query)) continue;
				if (skipped < offset) skipped++;
				else page.push(model.deepCopy(doc));
			}
			return Promise.resolve(page);
		});
	}

	/**
	 * moleculer-db's cursor (query or search, sort, offset, limit), awaited
	 * once: its own find runs the cursor through NeDB's callback API, which
	 * builds a callbackify wrapper on every call (~1% of a checkout's time).
	 */
	private async findByCursor(params: FindParams): Promise<Doc[]> {
		return await this.createCursor(params);
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
		const db = this.internals;
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

	/** NeDB's own documents, in the executor's turn so that no write is half applied. */
	readAll(): Promise<readonly Doc[]> {
		const db = this.internals;
		if (!db) return Promise.resolve([]);
		return db.executor.pushAsync(() => Promise.resolve(db.getAllData()));
	}

	async disconnect(): Promise<void> {
		if (this.datastore instanceof AppendingDatastore && this.dataDir) unregisterDatastore(this.dataDir, this.datastore);
		if (this.datastore instanceof AppendingDatastore) await this.datastore.closeFile();
		await super.disconnect();
	}
}

/** NeDB files under `dataDir` (`<collection>.db`); `:memory:` keeps nothing. */
export function createNedbAdapter<T extends Doc>(dataDir: string, collection: string, indexes: IndexSpec[], { sync = true } = {}): DbAdapter<T> {
	applyPatches();
	let adapter: NedbAdapter;
	if (dataDir === ":memory:") adapter = new NedbAdapter(undefined, indexes, false);
	else {
		lockDataDir(dataDir);
		assertNoUnfinishedRestore(dataDir);
		adapter = new NedbAdapter(new AppendingDatastore(path.join(dataDir, `${collection}.db`)), indexes, sync, dataDir);
	}
	// The adapter answers any collection's documents as it stores them: typed here, for the collection asked for.
	return adapter as unknown as DbAdapter<T>;
}
