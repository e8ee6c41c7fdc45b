import type { Context, Service, ServiceSchema } from "moleculer";
import DbService from "moleculer-db";
import { createAdapter, type DbAdapter, type Doc, type IndexSpec, type Query } from "../lib/db/adapter";
import { coalesced } from "../lib/coalesce";
import { pageWindow, toPage, type Page } from "../lib/pagination";
import { ShopRedisCacher } from "../lib/redis";
import { settings, type StorageSettings } from "../lib/settings";
import { defineMixin, type SecureSettings, type ServiceBase } from "../lib/types";
import { cacheCleanEvents, type DependencyCleaning } from "./cache-cleaner.mixin";

export interface DbMixinOptions<P> {
	collection: string;
	indexes?: IndexSpec[];
	/** What a client sees of a document (`id` for `_id`; a missing field shows as null). */
	publicFields: ReadonlyArray<keyof P & string>;
	/** Other services whose writes also clear this service's cached answers (its own always do). */
	cacheScope?: string[];
}

export interface DbSettings extends SecureSettings {
	idField?: string;
	storage: StorageSettings;
}

/** What the mixin adds to a service's `this`. */
export interface DbMethods<T extends Doc, P> {
	adapter: DbAdapter<T>;
	/** A stored document as a client sees it. */
	toPublic(doc: T): P;
	/** One page of the documents matching `query`, as clients see them. */
	findPage(query: Query, sort: string, page: number, pageSize: number): Promise<Page<P>>;
	/** Clears this service's cached answers before a write answers; tells the other nodes. */
	entityChanged(type: "created" | "updated" | "removed", doc: unknown, ctx: Context | null): Promise<void>;
	/** A second collection owned by the same service, connected; disconnected when the service stops. */
	openCollection<U extends Doc>(collection: string, indexes?: IndexSpec[]): Promise<DbAdapter<U>>;
}

type This<T extends Doc, P> = ServiceBase<DbSettings> &
	DbMethods<T, P> &
	DependencyCleaning & {
		extraAdapters: DbAdapter[];
		/** Tell the other nodes, then clear this node's keys: shared between concurrent writers (lib/coalesce.ts). */
		cleanAfterWrite: () => Promise<void>;
		secondCleanTimer?: NodeJS.Timeout;
		schema: ServiceSchema;
		cleanKeys(): Promise<void>;
	};

/** How long after a write its second clean runs (see clearCache). */
export const SECOND_CLEAN_DELAY_MS = 100;

/**
 * moleculer-db for one collection, owned by the service that mixes it in,
 * on the store that `settings.storage` names. moleculer-db's own actions are
 * disabled: each service declares the actions it offers, with their
 * validation.
 */
export default function DbMixin<T extends Doc, P>(options: DbMixinOptions<P>): Partial<ServiceSchema> {
	const { collection, indexes = [], publicFields, cacheScope = [] } = options;
	return defineMixin<DbSettings, This<T, P>>({
		mixins: [DbService],
		settings: { idField: "id", $secureSettings: ["storage"], storage: settings.storage },
		actions: { find: false, count: false, insert: false, list: false, get: false, create: false, update: false, remove: false },

		/** The store is picked from the final settings, so a test or a node may mix in other storage settings. */
		merged(schema: ServiceSchema) {
			const { adapter, model } = createAdapter<T>((schema.settings as DbSettings).storage, collection, indexes);
			schema.adapter = adapter;
			if (model) schema.model = model;
			schema.events = { ...schema.events, ...cacheCleanEvents([schema.name, ...cacheScope]) };
		},

		methods: {
			toPublic(this: This<T, P>, doc: T): P {
				const out: Record<string, unknown> = {};
				const source = doc as unknown as Record<string, unknown>;
				for (const field of publicFields) out[field] = field === "id" ? String(doc._id) : (source[field] ?? null);
				return out as P;
			},

			async findPage(this: This<T, P>, query: Query, sort: string, page: number, pageSize: number): Promise<Page<P>> {
				const [docs, total] = await Promise.all([this.adapter.find({ query, sort: [sort], ...pageWindow(page, pageSize) }), this.adapter.count({ query })]);
				return toPage(
					docs.map(d => this.toPublic(d)),
					total,
					page,
					pageSize,
				);
			},

			/**
			 * moleculer-db's clean (keys gone before the answer, other nodes told),
			 * plus a second clean of this node's keys shortly after: a read that
			 * loaded the old document just before the write cannot leave it
			 * cached. Concurrent writes share cleans (lib/coalesce.ts): each
			 * still answers after a clean that started after it wrote, but a
			 * burst of orders costs a few cleans (a Redis SCAN each, and a
			 * broadcast) instead of one per order.
			 */
			clearCache(this: This<T, P>): Promise<void> {
				if (!this.secondCleanTimer) {
					this.secondCleanTimer = setTimeout(() => {
						this.secondCleanTimer = undefined;
						this.cleanAfterDependency().catch(() => undefined);
					}, SECOND_CLEAN_DELAY_MS);
					this.secondCleanTimer.unref();
				}
				return this.cleanAfterWrite();
			},

			/** Clear this node's keys of the service; with Redis, renew the tag the near caches compare (middlewares/near-cache.ts). */
			async cleanKeys(this: This<T, P>): Promise<void> {
				const cacher = this.broker.cacher;
				if (!cacher) return;
				await cacher.clean(`${this.fullName}.**`);
				if (cacher instanceof ShopRedisCacher) await cacher.renewTag(this.fullName);
			},

			async openCollection<U extends Doc>(this: This<T, P>, name: string, extraIndexes: IndexSpec[] = []): Promise<DbAdapter<U>> {
				const { adapter, model } = createAdapter<U>(this.settings.storage, name, extraIndexes);
				adapter.init(this.broker, { ...this, schema: { ...this.schema, model } } as unknown as Service);
				await adapter.connect();
				this.extraAdapters.push(adapter);
				return adapter;
			},
		},

		created(this: This<T, P>) {
			this.extraAdapters = [];
			// One coalescer guards the keys' clean, whoever asks for it: a write (which also tells the other nodes), its second clean, or another service's write.
			this.cleanAfterDependency = coalesced(() => this.cleanKeys());
			this.cleanAfterWrite = coalesced(async () => {
				void this.broker.broadcast(`cache.clean.${this.fullName}`);
				await this.cleanAfterDependency();
			});
		},

		async stopped(this: This<T, P>) {
			clearTimeout(this.secondCleanTimer);
			await Promise.all(this.extraAdapters.map(a => a.disconnect()));
		},
	});
}
