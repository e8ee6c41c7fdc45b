import type { Service, ServiceBroker } from "moleculer";
import type { StorageSettings } from "../infra/settings";
import { createMongoAdapter } from "./mongo-adapter";
import { createNedbAdapter } from "./nedb-adapter";

/** A stored document: every collection keys on a string `_id`. */
export interface Doc {
	_id: string;
}

/** A MongoDB query document; NeDB reads the same subset ($gte, $lte, $ne, $in, $exists, $or, $size, regexes). */
export type Query = Record<string, unknown>;

/** A MongoDB update document, in the subset both stores apply the same way. */
export interface Update {
	$set?: Record<string, unknown>;
	$unset?: Record<string, true>;
	$inc?: Record<string, number>;
	$push?: Record<string, unknown>;
}

export interface FindParams {
	query?: Query;
	/** moleculer-db's form: `["-createdAt"]`. */
	sort?: string[];
	offset?: number;
	limit?: number;
}

export interface IndexSpec {
	field: string;
	unique?: boolean;
	sparse?: boolean;
	/**
	 * Pages are sorted on this field: NeDB keeps the index as a sorted array,
	 * so a page at any depth and the total cost what one page costs; MongoDB
	 * gets an ordinary index. For a field holding one scalar per document
	 * (a date, a number, a string), not with unique. Sparse, it serves the
	 * pages of a range on the field (`{ dueAt: { $lte: now } }`).
	 */
	sorted?: boolean;
}

/**
 * What the services ask of a store, whichever it is. Both adapters answer
 * plain objects, take the same query and update documents, and count a
 * conditional update as applied when it matched (MongoDB's `matchedCount`,
 * NeDB's `numAffected`), even when it changed nothing.
 */
export interface DbAdapter<T extends Doc = Doc> {
	init(broker: ServiceBroker, service: Service): void;
	connect(): Promise<unknown>;
	disconnect(): Promise<unknown>;
	find(params: FindParams): Promise<T[]>;
	findOne(query: Query): Promise<T | null>;
	findById(id: string): Promise<T | null>;
	findByIds(ids: string[]): Promise<T[]>;
	count(params?: { query?: Query }): Promise<number>;
	/**
	 * Every document, for a reader that goes through them all (a dashboard's
	 * figures). Read-only: NeDB answers the documents it holds, not copies
	 * (a find copies each one), so a caller that changed one would change it
	 * in memory but not on disk.
	 */
	readAll(): Promise<ReadonlyArray<Readonly<T>>>;
	/** Throws an error that isDuplicateKeyError recognises when a unique index refuses it. */
	insert(doc: T): Promise<T>;
	/** The document after the update, or null when there is none with this id. */
	updateById(id: string, update: Update): Promise<T | null>;
	/** How many documents matched: the test of a conditional update. */
	updateMany(query: Query, update: Update): Promise<number>;
	/** A conditional update of one document: the document after it, or null when none matched (one step, no read after). */
	updateOne(query: Query, update: Update): Promise<T | null>;
	/** How many documents were removed. */
	removeMany(query: Query): Promise<number>;
}

/** A duplicate-key error from either store. */
export function isDuplicateKeyError(err: unknown): boolean {
	const e = err as { errorType?: string; code?: number } | null;
	return e?.errorType === "uniqueViolated" || e?.code === 11000;
}

export interface CreatedAdapter<T extends Doc> {
	adapter: DbAdapter<T>;
	/** The mongoose model moleculer-db's mongoose adapter reads from the service schema. */
	model?: unknown;
}

/**
 * The one place that picks the store: MongoDB through mongoose when a
 * MONGO_URI is set, else NeDB files under the data directory.
 */
export function createAdapter<T extends Doc>(storage: StorageSettings, collection: string, indexes: IndexSpec[] = []): CreatedAdapter<T> {
	if (storage.mongoUri) return createMongoAdapter<T>(storage.mongoUri, collection, indexes);
	return { adapter: createNedbAdapter<T>(storage.dataDir, collection, indexes, { sync: storage.sync }) };
}
