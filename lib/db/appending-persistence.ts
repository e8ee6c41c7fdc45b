import fs from "fs";
import Datastore from "@seald-io/nedb";
import { GroupCommit } from "./group-commit";

/* eslint-disable @typescript-eslint/no-require-imports -- NeDB's persistence layer has no typings and no export of its own */
const Persistence = require("@seald-io/nedb/lib/persistence") as PersistenceClass;
const model = require("@seald-io/nedb/lib/model") as { serialize(doc: object): string };
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
export class AppendingDatastore extends Datastore {
	constructor(readonly file: string) {
		super({ filename: file });
		this.own.persistence = new AppendingPersistence({ db: this });
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
		return this.own.persistence;
	}

	private get own(): { persistence: AppendingPersistence } {
		// @seald-io/nedb's typings keep the datastore's persistence private.
		return this as unknown as { persistence: AppendingPersistence };
	}
}
