import crypto from "crypto";
import fs from "fs";
import path from "path";
import type { AppendingDatastore } from "./appending-persistence";
import { recordServesBackups } from "./data-dir-lock";

/**
 * A consistent copy of a data directory while its node runs (`npm run
 * backup`, bin/backup.ts).
 *
 * Why the node takes it, not the script: copying the files one after the
 * other while orders come in gives each file at a different moment (an
 * order's stock taken in products.db, its order not yet in orders.db), a
 * state no crash could leave, which the settlers are not built to mend.
 * The copy must be of one instant of every file. Only the node can give
 * that: each NeDB datastore runs its operations one at a time in its
 * executor, and every operation appends its lines before it ends
 * (AppendingPersistence), compaction included. So the node queues a task in
 * every datastore's executor and waits until all of them run at once: then
 * no operation is under way in any file, each file holds exactly the
 * datastore's state, and the files together hold one instant, as if the
 * node had been killed there. The files are copied, the tasks end, the
 * node goes on (a pause of the copy's length, milliseconds for a shop of
 * this size). A restore is then a restart after a crash at that instant:
 * what was half done (an order pending with its stock taken) is settled as
 * the settlers settle it after a kill -9 (every boundary between two writes
 * is a crash point with its test), so the stock invariant holds.
 *
 * The script asks through a request file in the directory and SIGUSR2 to
 * the pid in the directory's lock, once the lock says that process answers
 * backups (SIGUSR2 would end any other: a node still starting, another
 * script); the node answers by writing the copy's
 * manifest (`backup.json`) last, or `backup-error.txt`. With no node on the
 * directory, the script takes its lock and copies the files itself.
 */

export const MANIFEST = "backup.json";
export const ERROR_FILE = "backup-error.txt";
export const REQUEST_PREFIX = ".backup-request-";
/** Written before a restore moves anything, removed once every file is in place: a node refuses a directory that holds it. */
export const RESTORING = "restoring.json";

/** A directory where a restore began and did not finish holds files of two states: no node may start on it. */
export class UnfinishedRestoreError extends Error {
	name = "UnfinishedRestoreError";
	constructor(backup: string, dataDir: string) {
		super(`A restore of ${backup} into ${dataDir} did not finish: run npm run restore ${backup} again`);
	}
}

/** Throws UnfinishedRestoreError when a restore into `dataDir` began and did not finish. */
export function assertNoUnfinishedRestore(dataDir: string): void {
	let marker: string;
	try {
		marker = fs.readFileSync(path.join(dataDir, RESTORING), "utf8");
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
		throw err;
	}
	throw new UnfinishedRestoreError((JSON.parse(marker) as { backup: string }).backup, dataDir);
}

/** Marks `dataDir` as being restored from `backup`, on disk before anything moves. */
export function markRestoring(dataDir: string, backup: string): void {
	const file = path.join(dataDir, RESTORING);
	fs.writeFileSync(file, JSON.stringify({ backup, startedAt: new Date().toISOString() }), { mode: 0o600 });
	fsyncPath(file);
	fsyncPath(dataDir);
}

/** The restore is whole: the mark goes, on disk before the restore answers. */
export function unmarkRestoring(dataDir: string): void {
	fs.rmSync(path.join(dataDir, RESTORING), { force: true });
	fsyncPath(dataDir);
}

/** Besides the datafiles, what a restored node needs to sign in the same people: the kept JWT secret and the generated admin. */
const KEPT_FILES = ["jwt-secret", "generated-admin.json"];

export interface BackupManifest {
	kind: "moleculer-shop-data-dir";
	version: 1;
	takenAt: string;
	dataDir: string;
	files: Array<{ name: string; bytes: number; sha256: string }>;
}

/** The open datastores of each directory this process holds. */
const open = new Map<string, Set<AppendingDatastore>>();

export function registerDatastore(dataDir: string, db: AppendingDatastore): void {
	const dir = path.resolve(dataDir);
	if (!open.has(dir)) open.set(dir, new Set());
	open.get(dir)!.add(db);
	serveBackupRequests();
	recordServesBackups(dir);
}

export function unregisterDatastore(dataDir: string, db: AppendingDatastore): void {
	open.get(path.resolve(dataDir))?.delete(db);
}

/** What a copy of the directory holds: its datafiles and the kept files, by name. */
export function filesToCopy(dataDir: string): string[] {
	return fs
		.readdirSync(dataDir, { withFileTypes: true })
		.filter(e => e.isFile() && (e.name.endsWith(".db") || KEPT_FILES.includes(e.name)))
		.map(e => e.name)
		.sort();
}

function fsyncPath(p: string): void {
	const fd = fs.openSync(p, "r");
	try {
		fs.fsyncSync(fd);
	} finally {
		fs.closeSync(fd);
	}
}

const sha256 = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");

/** Copies the files; the caller makes sure none changes meanwhile. */
export function copyFiles(dataDir: string, dest: string, names: string[]): void {
	for (const name of names) fs.copyFileSync(path.join(dataDir, name), path.join(dest, name));
}

/** Syncs the copies and writes the manifest (each file's size and SHA-256), last: a copy without one is unfinished. */
export function finishCopy(dataDir: string, dest: string, names: string[]): BackupManifest {
	const files = names.map(name => {
		const file = path.join(dest, name);
		fsyncPath(file);
		return { name, bytes: fs.statSync(file).size, sha256: sha256(file) };
	});
	const manifest: BackupManifest = { kind: "moleculer-shop-data-dir", version: 1, takenAt: new Date().toISOString(), dataDir: path.resolve(dataDir), files };
	fs.writeFileSync(path.join(dest, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
	fsyncPath(path.join(dest, MANIFEST));
	fsyncPath(dest);
	return manifest;
}

interface Executor {
	pushAsync<R>(task: () => Promise<R>): Promise<R>;
}

/** Holds every datastore between two of its operations, all at once; resolves with the function that lets them go. */
async function pauseAll(stores: AppendingDatastore[]): Promise<() => void> {
	let release!: () => void;
	const released = new Promise<void>(resolve => (release = resolve));
	// @seald-io/nedb's typings leave the datastore's executor out.
	const entered = stores.map(db => new Promise<void>(inside => void (db as unknown as { executor: Executor }).executor.pushAsync(() => (inside(), released))));
	await Promise.all(entered);
	return release;
}

/** The node's side: a copy of one instant of every file of `dataDir` into `dest` (an empty directory). */
export async function snapshotDataDir(dataDir: string, dest: string): Promise<BackupManifest> {
	const stores = [...(open.get(path.resolve(dataDir)) ?? [])];
	const release = await pauseAll(stores);
	let names: string[];
	try {
		names = filesToCopy(dataDir);
		copyFiles(dataDir, dest, names);
	} finally {
		release();
	}
	return finishCopy(dataDir, dest, names);
}

let serving = false;
let handling: Promise<void> = Promise.resolve();

/** Answers each request file in the directories this process holds. */
async function answerRequests(): Promise<void> {
	for (const dir of open.keys()) {
		let requests: string[];
		try {
			requests = fs.readdirSync(dir).filter(n => n.startsWith(REQUEST_PREFIX));
		} catch {
			continue;
		}
		for (const name of requests) {
			const file = path.join(dir, name);
			let dest: string | undefined;
			try {
				dest = (JSON.parse(fs.readFileSync(file, "utf8")) as { dest: string }).dest;
				fs.rmSync(file, { force: true });
				await snapshotDataDir(dir, dest);
			} catch (err) {
				fs.rmSync(file, { force: true });
				if (dest) fs.writeFileSync(path.join(dest, ERROR_FILE), `${(err as Error).message}\n`);
			}
		}
	}
}

/** Once per process: SIGUSR2 means "a backup is asked for in a directory you hold". */
function serveBackupRequests(): void {
	if (serving) return;
	serving = true;
	process.on("SIGUSR2", () => {
		handling = handling.then(answerRequests, answerRequests);
	});
}
