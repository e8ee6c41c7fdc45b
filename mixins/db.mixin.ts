import crypto from "crypto";
import fs from "fs";
import path from "path";
import type { Service, ServiceBroker, ServiceSchema } from "moleculer";
import DbService, { MemoryAdapter } from "moleculer-db";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nedbModel: { serialize(doc: object): string } = require("@seald-io/nedb/lib/model");
import CacheCleanerMixin from "./cache-cleaner.mixin";
import { pageWindow, toPage } from "../lib/pagination";

export interface IndexSpec {
	field: string;
	unique?: boolean;
	sparse?: boolean;
}

export interface DbAdapter {
	init(broker: ServiceBroker, service: Partial<Service>): void;
	connect(): Promise<unknown>;
	disconnect(): Promise<unknown>;
	find(params: { query?: object; sort?: string[]; offset?: number; limit?: number }): Promise<any[]>;
	findOne(query: object): Promise<any>;
	findById(id: string): Promise<any>;
	findByIds(ids: string[]): Promise<any[]>;
	count(params?: { query?: object }): Promise<number>;
	insert(doc: object): Promise<any>;
	updateById(id: string, update: object): Promise<any>;
	/** The number of documents changed: the test of a conditional update. */
	updateMany(query: object, update: object): Promise<number>;
	removeById(id: string): Promise<unknown>;
	removeMany(query: object): Promise<unknown>;
	entityToObject(doc: any): any;
	afterConnected?(): Promise<void>;
	db?: any;
}

const SECOND_CLEAN_DELAY_MS = 100;
const COMPACTION_INTERVAL_MS = 60_000;

/** Ids are strings in both stores, so a client's id never fails to cast. */
export function newId(): string {
	// randomUUID draws from a buffered pool; randomBytes per id cost ~3% of order placement.
	return crypto.randomUUID().replace(/-/g, "");
}

/**
 * The one place that picks the store: MongoDB through mongoose when
 * MONGO_URI is set, else NeDB files under DATA_DIR (`:memory:` keeps nothing).
 */
export function createAdapter(collection: string, indexes: IndexSpec[] = []): { adapter: DbAdapter; model?: unknown } {
	const mongoUri = process.env.MONGO_URI;
	if (mongoUri) {
		/* eslint-disable @typescript-eslint/no-require-imports */
		const mongoose = require("mongoose");
		/* eslint-enable @typescript-eslint/no-require-imports */
		const definition: Record<string, unknown> = { _id: { type: String, default: newId } };
		for (const idx of indexes) definition[idx.field] = { type: mongoose.Schema.Types.Mixed };
		const schema = new mongoose.Schema(definition, { strict: false, versionKey: false, minimize: false });
		for (const idx of indexes) schema.index({ [idx.field]: 1 }, { unique: !!idx.unique, sparse: !!idx.sparse });
		const model = mongoose.models[collection] || mongoose.model(collection, schema, collection);
		return { adapter: MongoAdapter(mongoUri), model };
	}

	const dataDir = process.env.DATA_DIR || "./data";
	if (dataDir === ":memory:") return { adapter: new NedbAdapter(undefined, indexes) };
	fs.mkdirSync(dataDir, { recursive: true });
	return { adapter: new NedbAdapter({ filename: path.join(dataDir, `${collection}.db`) }, indexes) };
}

/** A mongoose document as a plain object: with `strict: false`, fields outside the schema are not properties of the document. */
function toPlain(doc: any): any {
	return doc && typeof doc.toObject === "function" ? doc.toObject({ depopulate: true, versionKey: false }) : doc;
}

/**
 * moleculer-db's mongoose adapter, answering plain objects like the NeDB
 * one does. Built on first use, so mongoose loads only when MONGO_URI is set.
 */
let MongoAdapterClass: (new (uri: string) => DbAdapter) | undefined;
function MongoAdapter(uri: string): DbAdapter {
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const Base = require("moleculer-db-adapter-mongoose") as new (uri: string) => DbAdapter;
	MongoAdapterClass ??= class extends Base {
		async find(params: Parameters<DbAdapter["find"]>[0]) {
			return (await super.find(params)).map(toPlain);
		}
		async findOne(query: object) {
			return toPlain(await super.findOne(query));
		}
		async findById(id: string) {
			return toPlain(await super.findById(id));
		}
		async findByIds(ids: string[]) {
			return (await super.findByIds(ids)).map(toPlain);
		}
		async insert(doc: object) {
			return toPlain(await super.insert(doc));
		}
		async updateById(id: string, update: object) {
			return toPlain(await super.updateById(id, update));
		}
		entityToObject(doc: any) {
			return toPlain(doc);
		}
	};
	return new MongoAdapterClass(uri);
}

/**
 * moleculer-db's NeDB adapter, with the indexes the mongoose schema declares,
 * a file kept open for appends, and periodic compaction.
 */
class NedbAdapter extends (MemoryAdapter as unknown as new (opts?: object) => DbAdapter) {
	private fd: number | undefined;

	constructor(
		opts: object | undefined,
		private readonly indexes: IndexSpec[],
	) {
		super(opts);
	}

	async connect() {
		await super.connect();
		for (const idx of this.indexes) {
			await this.db.ensureIndex({ fieldName: idx.field, unique: !!idx.unique, sparse: !!idx.sparse });
		}
		this.appendThroughOpenFile();
		if (!this.db.inMemoryOnly) this.db.setAutocompactionInterval(COMPACTION_INTERVAL_MS);
	}

	async disconnect() {
		this.db?.stopAutocompaction();
		this.closeFile();
		return super.disconnect();
	}

	/**
	 * NeDB appends each write with fs.appendFile (open, write and close through
	 * the thread pool) and runs a datastore's operations one at a time, so
	 * every write cost ~100 µs and capped order placement near 450/s. One
	 * descriptor per datastore, written synchronously, keeps the durability
	 * NeDB has (the OS page cache; it never fsyncs appends) at a few µs.
	 * Compaction replaces the file, so it closes the descriptor first.
	 * Overrides @seald-io/nedb 3.1's Persistence methods (version pinned).
	 */
	private appendThroughOpenFile() {
		const persistence = this.db.persistence;
		if (persistence.inMemoryOnly) return;
		persistence.persistNewStateAsync = async (docs: object[]) => {
			let lines = "";
			for (const doc of docs) lines += `${persistence.afterSerialization(nedbModel.serialize(doc))}\n`;
			if (!lines) return;
			this.fd ??= fs.openSync(persistence.filename, "a", persistence.modes?.fileMode);
			fs.writeSync(this.fd, lines);
		};
		const compact = persistence.persistCachedDatabaseAsync.bind(persistence);
		persistence.persistCachedDatabaseAsync = async () => {
			this.closeFile();
			await compact();
		};
	}

	private closeFile() {
		if (this.fd === undefined) return;
		fs.closeSync(this.fd);
		this.fd = undefined;
	}
}

/**
 * moleculer-db for one collection, owned by the service that mixes it in.
 * Only the mixin's own actions are disabled: each service declares the
 * actions it offers, with their validation.
 */
export default function DbMixin(collection: string, indexes: IndexSpec[] = [], service = collection): Partial<ServiceSchema> {
	const { adapter, model } = createAdapter(collection, indexes);
	const schema: Partial<ServiceSchema> & Record<string, unknown> = {
		// moleculer-db broadcasts `cache.clean.<service>` on every write.
		mixins: [DbService, CacheCleanerMixin([service])],
		adapter,
		settings: { idField: "id" },
		actions: { find: false, count: false, insert: false, list: false, get: false, create: false, update: false, remove: false },
		methods: {
			/**
			 * moleculer-db's clean (keys gone before the answer, other nodes told),
			 * plus a second clean shortly after: a read that loaded the old
			 * document just before the write cannot leave it cached.
			 */
			clearCache(this: Service & { secondCleanTimer?: NodeJS.Timeout }) {
				this.broker.broadcast(`cache.clean.${this.fullName}`);
				if (!this.broker.cacher) return Promise.resolve();
				if (!this.secondCleanTimer) {
					this.secondCleanTimer = setTimeout(() => {
						this.secondCleanTimer = undefined;
						this.broker.cacher?.clean(`${this.fullName}.**`).catch(() => undefined);
					}, SECOND_CLEAN_DELAY_MS);
					this.secondCleanTimer.unref();
				}
				return this.broker.cacher.clean(`${this.fullName}.**`);
			},

			/** One page of the documents matching `query`, each as the service shows it (`toPublic`). */
			async findPage(query: object, sort: string, page: number, pageSize: number) {
				const [docs, total] = await Promise.all([
					this.adapter.find({ query, sort: [sort], ...pageWindow(page, pageSize) }),
					this.adapter.count({ query }),
				]);
				return toPage(docs.map((d: any) => this.toPublic(d)), total, page, pageSize);
			},

			/** A stored document (a plain object from either adapter) as its owner shows it: `id`, not `_id`. */
			toEntity(doc: any) {
				if (!doc) return doc;
				const { _id, ...rest } = doc;
				return { id: String(_id), ...rest };
			},
		},
	};
	if (model) schema.model = model;
	return schema;
}

/** A second collection owned by the same service (products' reservations). */
export async function connectExtraAdapter(service: Service, collection: string, indexes: IndexSpec[] = []): Promise<DbAdapter> {
	const { adapter, model } = createAdapter(collection, indexes);
	adapter.init(service.broker, { broker: service.broker, logger: service.logger, settings: {}, schema: { model } } as unknown as Service);
	await adapter.connect();
	return adapter;
}
