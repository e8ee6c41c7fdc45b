import type * as Mongoose from "mongoose";
import type { Service, ServiceBroker } from "moleculer";
import type { CreatedAdapter, DbAdapter, Doc, FindParams, IndexSpec, Query, Update } from "./adapter";
import { newId } from "./ids";

/* eslint-disable @typescript-eslint/no-require-imports -- mongoose and its adapter load only when MONGO_URI is set */
type MongooseModule = typeof Mongoose;
type Model = Mongoose.Model<Record<string, unknown>>;

interface MongooseAdapterInstance {
	model: Model;
	broker: ServiceBroker;
	service: Service;
	find(params: FindParams): Promise<unknown[]>;
	findOne(query: Query): Promise<unknown>;
	findById(id: string): Promise<unknown>;
	findByIds(ids: string[]): Promise<unknown[]>;
	insert(doc: object): Promise<unknown>;
	updateById(id: string, update: Update): Promise<unknown>;
}

/** Every write of every collection: orders, reservations and stock among them. */
export const WRITE_CONCERN = { w: "majority", j: true } as const;

/** A mongoose document as a plain object: with `strict: false`, fields outside the schema are not properties of the document. */
function toPlain<T>(doc: unknown): T {
	const d = doc as { toObject?: (o: object) => T } | null;
	return d && typeof d.toObject === "function" ? d.toObject({ depopulate: true, versionKey: false }) : (d as T);
}

/** The model of a collection: string ids, the declared indexes, any other field stored as given. */
function modelFor(collection: string, indexes: IndexSpec[]): Model {
	const mongoose = require("mongoose") as MongooseModule;
	if (mongoose.models[collection]) return mongoose.models[collection] as Model;
	const definition: Record<string, unknown> = { _id: { type: String, default: newId } };
	for (const idx of indexes) definition[idx.field] = { type: mongoose.Schema.Types.Mixed };
	// Acknowledged means on disk, on a majority of the replica set: a write is answered once it is in the journal of most members.
	const schema = new mongoose.Schema(definition, { strict: false, versionKey: false, minimize: false, writeConcern: WRITE_CONCERN });
	for (const idx of indexes) schema.index({ [idx.field]: 1 }, { unique: !!idx.unique, sparse: !!idx.sparse });
	// The schema options shape mongoose's generic types; the adapter needs only the plain model.
	return mongoose.model(collection, schema, collection) as unknown as Model;
}

let AdapterClass: (new (uri: string, model: Model) => DbAdapter) | undefined;

/**
 * moleculer-db's mongoose adapter, made to answer as the NeDB one does:
 * plain objects, and a conditional update counted by what it matched
 * (the adapter's own updateMany answers `modifiedCount`, which is 0 when
 * the update set what was already there).
 */
function adapterClass(): new (uri: string, model: Model) => DbAdapter {
	const Base = require("moleculer-db-adapter-mongoose") as new (uri: string) => MongooseAdapterInstance;
	return class MongoAdapter extends Base {
		constructor(
			uri: string,
			private readonly ownModel: Model,
		) {
			super(uri);
		}
		/** The model comes with the adapter, not from the service schema: one service can own two collections. */
		init(broker: ServiceBroker, service: Service) {
			this.broker = broker;
			this.service = service;
			this.model = this.ownModel;
		}
		async find(params: FindParams) {
			return (await super.find(params)).map(toPlain);
		}
		/** MongoDB answers its own copies: one find of the whole collection. */
		readAll() {
			return this.find({ query: {} });
		}
		async findOne(query: Query) {
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
		async updateById(id: string, update: Update) {
			return toPlain(await super.updateById(id, update));
		}
		async updateMany(query: Query, update: Update): Promise<number> {
			return (await this.model.updateMany(query, update)).matchedCount;
		}
		async updateOne(query: Query, update: Update) {
			return toPlain(await this.model.findOneAndUpdate(query, update, { new: true }).exec());
		}
		async removeMany(query: Query): Promise<number> {
			return (await this.model.deleteMany(query)).deletedCount;
		}
		// The class extends an untyped require(): it is typed here as what it answers.
	} as unknown as new (uri: string, model: Model) => DbAdapter;
}

export function createMongoAdapter<T extends Doc>(uri: string, collection: string, indexes: IndexSpec[]): CreatedAdapter<T> {
	AdapterClass ??= adapterClass();
	const model = modelFor(collection, indexes);
	// The adapter answers any collection's documents as stored: typed here, for the collection asked for.
	return { adapter: new AdapterClass(uri, model) as unknown as DbAdapter<T>, model };
}
