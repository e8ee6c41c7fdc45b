import { crashPoint } from "../infra/crash-points";
import { isDuplicateKeyError, type DbAdapter, type Doc } from "./adapter";

/**
 * Data formats have versions. Each service's store records the format of
 * its documents (one record, `_id` the service's name, in a collection of
 * its own: `format-<service>`, so a backup of the store carries it). At
 * start a node reads it, runs the service's migrations from there to the
 * format its code writes, recording each as it finishes, and refuses a
 * format newer than its code knows, since it would misread documents
 * written by a later version (fields it drops on write, states it does not
 * know).
 *
 * Format 1 is the shape documents had when formats got versions; a store
 * with no record was written then, or is new (then the migrations run on
 * empty collections, which costs nothing). A service lists its migrations
 * in its domain module and hands them to the db mixin: the first makes
 * format 2, each next one the format after.
 *
 * A migration must be safe to run twice: a node that stops after a
 * migration's writes and before its record runs it again at its next start
 * (update documents guarded by what they change, `{ field: { $exists: false } }`,
 * are). Replicas of one service starting together may each run it; the
 * record only moves forward.
 */

export interface MigrationStore {
	/** The service's own collection (the db mixin's). */
	collection: DbAdapter;
	/** Another collection of the same service. */
	open(collection: string): Promise<DbAdapter>;
}

export interface Migration {
	/** The format this migration makes; it runs on a store of format `to - 1`. */
	to: number;
	/** What changes, for the log. */
	description: string;
	up(store: MigrationStore): Promise<void>;
}

interface FormatRecord extends Doc {
	version: number;
	updatedAt: string;
}

export class StoreFormatTooNewError extends Error {
	name = "StoreFormatTooNewError";
	constructor(
		readonly service: string,
		readonly found: number,
		readonly known: number,
	) {
		super(`The ${service} store holds format ${found}, newer than this code knows (${known}): run the version of the shop that wrote it, or a newer one (or restore a backup this version took)`);
	}
}

/** The collection that holds a service's format record. */
export function formatCollection(service: string): string {
	return `format-${service}`;
}

/** The format a service's code writes: 1, plus one per migration. Throws on a list that skips or repeats a format. */
export function currentFormat(migrations: readonly Migration[]): number {
	migrations.forEach((m, i) => {
		if (m.to !== i + 2) throw new Error(`migration ${i + 1} must make format ${i + 2}, not ${m.to}`);
	});
	return migrations.length + 1;
}

/** Moves the record to `version`, never back (another replica may be ahead). */
async function record(formats: DbAdapter, service: string, version: number): Promise<void> {
	const $set = { version, updatedAt: new Date().toISOString() };
	if (await formats.updateOne({ _id: service, version: { $lt: version } }, { $set })) return;
	if (await formats.findById(service)) return;
	try {
		await formats.insert({ _id: service, ...$set });
	} catch (err) {
		if (!isDuplicateKeyError(err)) throw err;
		// Another replica recorded it first: moved forward as above.
		await formats.updateOne({ _id: service, version: { $lt: version } }, { $set });
	}
}

export interface FormatCheck {
	service: string;
	/** The connected collection of `formatCollection(service)`. */
	formats: DbAdapter;
	migrations: readonly Migration[];
	store: MigrationStore;
	logger: { info(...args: unknown[]): void };
}

/** Brings a service's store to the format of its code: what it found, what it is now, the migrations it ran. */
export async function bringToCurrentFormat({ service, formats, migrations, store, logger }: FormatCheck): Promise<{ from: number; to: number; ran: number[] }> {
	const current = currentFormat(migrations);
	const recorded = (await formats.findById(service)) as FormatRecord | null;
	// No record: a store written before formats had versions (format 1), or a new one, which has nothing to migrate.
	const found = recorded?.version ?? ((await store.collection.count({ query: {} })) === 0 ? current : 1);
	if (found > current) throw new StoreFormatTooNewError(service, found, current);
	const ran: number[] = [];
	for (const migration of migrations.filter(m => m.to > found)) {
		logger.info(`Store format of ${service}: ${migration.to - 1} -> ${migration.to} (${migration.description})`);
		await migration.up(store);
		crashPoint("format.after-migration");
		await record(formats, service, migration.to);
		ran.push(migration.to);
	}
	if (ran.length === 0) await record(formats, service, current);
	return { from: found, to: current, ran };
}
