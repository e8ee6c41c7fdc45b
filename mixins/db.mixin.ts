import type { Context, Service, ServiceSchema } from "moleculer";
import DbService from "moleculer-db";
import { createAdapter, type DbAdapter, type Doc, type IndexSpec, type Query } from "../lib/db/adapter";
import { bringToCurrentFormat, formatCollection, type Migration } from "../lib/db/formats";
import { pageWindow, toPage, type Page } from "../lib/contracts/pagination";
import type { CacheVersions, WriteHolds } from "../lib/infra/cache-versions";
import { settings, type StorageSettings } from "../lib/infra/settings";
import { defineMixin, state, type Mixin, type SecureSettings, type ServiceBase } from "../lib/contracts/types";
import { cacheCleanEvents, type DependencyCleaning } from "./cache-cleaner.mixin";

export interface DbMixinOptions<T, P> {
	collection: string;
	indexes?: IndexSpec[];
	/** What a client sees of a document (`id` for `_id`; a missing field shows as null). */
	publicFields: ReadonlyArray<keyof P & string>;
	/** What a client sees of a field that documents stored before it existed lack (instead of null); a stored null stays null. */
	publicDefaults?: { [K in keyof P]?: () => P[K] };
	/** The fields some documents show beyond `publicFields` (a checkout order's money and deadline), after them. */
	moreFields?: (doc: T) => ReadonlyArray<keyof P & string>;
	/** Other services whose writes also clear this service's cached answers (its own always do). */
	cacheScope?: string[];
	/** The service's data-format migrations, from format 2 on (lib/db/formats.ts); its store is brought to the last at start, before the service runs. */
	migrations?: readonly Migration[];
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
	/** After a write: tells the other nodes and the services whose answers depend on this one (its own answers changed version before the write committed). */
	entityChanged(type: "created" | "updated" | "removed", doc: unknown, ctx: Context | null): Promise<void>;
	/** A second collection owned by the same service, connected; disconnected when the service stops. */
	/** Another collection of the service; `held: false` for one no cached answer is read from (its writes then need no cache lease). */
	openCollection<U extends Doc>(collection: string, indexes?: IndexSpec[], held?: boolean): Promise<DbAdapter<U>>;
}

/** What the shop's cachers add (lib/infra/redis.ts). */
interface VersionedCacher {
	versions: CacheVersions;
	holds: WriteHolds;
}

/**
 * A store whose every write holds its service's write lease
 * (lib/infra/cache-versions.ts): the service's cached answers change version
 * before the write commits, and a write is refused, having changed
 * nothing, when the cache cannot be reached. By construction: whichever
 * code writes, through whichever collection of the service.
 */
function heldWrites<T extends Doc>(adapter: DbAdapter<T>): DbAdapter<T> {
	let holds: WriteHolds | undefined;
	let service = "";
	const init = adapter.init.bind(adapter);
	adapter.init = (broker, svc) => {
		holds = (broker.cacher as Partial<VersionedCacher> | undefined)?.holds;
		service = svc.fullName;
		init(broker, svc);
	};
	const held =
		<A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
		(...args: A): Promise<R> =>
			holds ? holds.write(service, () => write(...args)) : write(...args);
	adapter.insert = held(adapter.insert.bind(adapter));
	adapter.updateById = held(adapter.updateById.bind(adapter));
	adapter.updateMany = held(adapter.updateMany.bind(adapter));
	adapter.updateOne = held(adapter.updateOne.bind(adapter));
	adapter.removeMany = held(adapter.removeMany.bind(adapter));
	return adapter;
}

/**
 * moleculer-db for one collection, owned by the service that mixes it in,
 * on the store that `settings.storage` names. moleculer-db's own actions are
 * disabled: each service declares the actions it offers, with their
 * validation.
 */
export default function DbMixin<T extends Doc, P>(options: DbMixinOptions<T, P>): Mixin<ServiceBase<DbSettings> & DbMethods<T, P> & DependencyCleaning> {
	const { collection, indexes = [], publicFields, publicDefaults = {}, moreFields, cacheScope = [], migrations = [] } = options;
	const defaults: Partial<Record<string, () => unknown>> = publicDefaults;
	return defineMixin({
		mixins: [DbService],
		settings: { idField: "id", $secureSettings: ["storage"], storage: settings.storage },
		// moleculer-db sets the adapter and supplies entityChanged.
		state: state<Pick<DbMethods<T, P>, "adapter" | "entityChanged"> & { extraAdapters: DbAdapter[] }>(),
		actions: { find: false, count: false, insert: false, list: false, get: false, create: false, update: false, remove: false },

		/** The store is picked from the final settings, so a test or a node may mix in other storage settings. */
		merged(schema: ServiceSchema) {
			const { adapter, model } = createAdapter<T>((schema.settings as DbSettings).storage, collection, indexes);
			schema.adapter = heldWrites(adapter);
			if (model) schema.model = model;
			schema.events = { ...schema.events, ...cacheCleanEvents([schema.name, ...cacheScope]) };
		},

		methods: {
			toPublic(doc: T): P {
				const out: Record<string, unknown> = {};
				const show = (field: string) => {
					const value: unknown = Reflect.get(doc, field);
					out[field] = field === "id" ? String(doc._id) : value === undefined ? (defaults[field]?.() ?? null) : value;
				};
				publicFields.forEach(show);
				moreFields?.(doc).forEach(show);
				return out as P;
			},

			async findPage(query: Query, sort: string, page: number, pageSize: number): Promise<Page<P>> {
				const window = pageWindow(page, pageSize);
				const docs = await this.adapter.find({ query, sort: [sort], ...window });
				// A page short of its size, not past the end, ends the list: its total is known without a count.
				const total = docs.length < pageSize && (docs.length > 0 || page === 1) ? window.offset + docs.length : await this.adapter.count({ query });
				return toPage(
					docs.map(d => this.toPublic(d)),
					total,
					page,
					pageSize,
				);
			},

			/** moleculer-db's clean, after a write: only the others are told; this service's answers changed version as the write began. */
			clearCache(): Promise<void> {
				void this.broker.broadcast(`cache.clean.${this.fullName}`);
				return Promise.resolve();
			},

			/** A service this one's answers depend on changed (or this one, on another node with a memory cache of its own). */
			async cleanAfterDependency(): Promise<void> {
				await (this.broker.cacher as Partial<VersionedCacher> | undefined)?.versions?.renew(this.fullName);
			},

			async openCollection<U extends Doc>(name: string, extraIndexes: IndexSpec[] = [], held = true): Promise<DbAdapter<U>> {
				const { adapter: store, model } = createAdapter<U>(this.settings.storage, name, extraIndexes);
				const adapter = held ? heldWrites(store) : store;
				// moleculer-db's adapters take a whole Service; they read its broker, logger and schema.model.
				adapter.init(this.broker, { ...this, schema: { ...this.schema, model } } as unknown as Service);
				await adapter.connect();
				this.extraAdapters.push(adapter);
				return adapter;
			},
		},

		created() {
			this.extraAdapters = [];
		},

		/** After moleculer-db's own started (the adapter is connected), before the service's: it runs on documents of its own format. */
		async started() {
			await bringToCurrentFormat({
				service: this.name,
				// The format record is read by no cached answer: a node starting before Redis answers still records it.
				formats: await this.openCollection(formatCollection(this.name), [], false),
				migrations,
				store: { collection: this.adapter, open: name => this.openCollection(name) },
				logger: this.logger,
			});
		},

		async stopped() {
			await Promise.all(this.extraAdapters.map(a => a.disconnect()));
		},
	});
}
