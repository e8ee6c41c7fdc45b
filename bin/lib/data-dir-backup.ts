/**
 * `npm run backup` and `npm run restore` for the embedded default's DATA_DIR
 * (the copy itself: lib/db/backup.ts, which says why the running node
 * takes it).
 */
import crypto from "crypto";
import fs from "fs";
import path from "path";
import { ERROR_FILE, MANIFEST, REQUEST_PREFIX, copyFiles, filesToCopy, finishCopy, markRestoring, unmarkRestoring, type BackupManifest } from "../../lib/db/backup";
import { crashPoint } from "../../lib/infra/crash-points";
import { lockDataDir, lockRecord, releaseDataDir } from "../../lib/db/data-dir-lock";
import { sleep } from "./processes";

/** How long the script waits for the running node's copy. */
const NODE_COPY_TIMEOUT_MS = 120_000;

export class BackupError extends Error {
	name = "BackupError";
}

/** `dest` as a new, empty directory (mode 0700: the copy holds the password hashes and the JWT secret). */
function prepareDest(dest: string): void {
	if (fs.existsSync(dest) && fs.readdirSync(dest).length > 0) throw new BackupError(`${dest} is not empty: give a new directory`);
	fs.mkdirSync(dest, { recursive: true, mode: 0o700 });
}

/** A copy of one instant of DATA_DIR in `dest`: by the node that holds it, or, with none, by this process under the directory's lock. */
export async function backupDataDir(dataDir: string, dest: string): Promise<BackupManifest> {
	if (dataDir === ":memory:") throw new BackupError("DATA_DIR is :memory:: there is nothing on disk to back up");
	if (!fs.existsSync(dataDir)) throw new BackupError(`DATA_DIR ${dataDir} does not exist`);
	dest = path.resolve(dest);
	prepareDest(dest);
	const holder = lockRecord(dataDir);
	if (!holder) {
		lockDataDir(dataDir);
		try {
			const names = filesToCopy(dataDir);
			copyFiles(dataDir, dest, names);
			return finishCopy(dataDir, dest, names);
		} finally {
			releaseDataDir(dataDir);
		}
	}
	if (!holder.backups) throw new BackupError(`the process holding ${dataDir} (pid ${holder.pid}) does not take backups now (a node still starting, or another script): try again once the node runs`);
	const request = path.join(dataDir, `${REQUEST_PREFIX}${crypto.randomUUID()}.json`);
	fs.writeFileSync(request, JSON.stringify({ dest }), { mode: 0o600 });
	process.kill(holder.pid, "SIGUSR2");
	const deadline = Date.now() + NODE_COPY_TIMEOUT_MS;
	for (;;) {
		if (fs.existsSync(path.join(dest, MANIFEST))) return JSON.parse(fs.readFileSync(path.join(dest, MANIFEST), "utf8")) as BackupManifest;
		if (fs.existsSync(path.join(dest, ERROR_FILE))) throw new BackupError(`the node (pid ${holder.pid}) could not copy ${dataDir}: ${fs.readFileSync(path.join(dest, ERROR_FILE), "utf8").trim()}`);
		if (Date.now() > deadline || !lockRecord(dataDir)) {
			fs.rmSync(request, { force: true });
			throw new BackupError(`the node (pid ${holder.pid}) holding ${dataDir} did not answer: is it a moleculer-shop node of this version?`);
		}
		await sleep(50);
	}
}

/** The backup's manifest, each file checked against it. */
function checkedManifest(backup: string): BackupManifest {
	let manifest: BackupManifest;
	try {
		manifest = JSON.parse(fs.readFileSync(path.join(backup, MANIFEST), "utf8")) as BackupManifest;
	} catch {
		throw new BackupError(`${backup} has no readable ${MANIFEST}: not a finished backup`);
	}
	if (manifest.kind !== "moleculer-shop-data-dir" || manifest.version !== 1) throw new BackupError(`${backup} is not a backup this version can restore`);
	for (const f of manifest.files) {
		if (path.basename(f.name) !== f.name) throw new BackupError(`${backup}: ${f.name} is not a file name`);
		const file = path.join(backup, f.name);
		const ok = fs.existsSync(file) && crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex") === f.sha256;
		if (!ok) throw new BackupError(`${f.name} does not match the backup's manifest: the copy is damaged; nothing was restored`);
	}
	return manifest;
}

/**
 * DATA_DIR made what the backup holds, with no node on it (its lock is
 * taken for the time of the restore). What was there is moved aside into
 * `replaced-<time>/` in DATA_DIR, never deleted. Each file is written
 * aside, synced and renamed into place. A mark on disk says a restore is
 * under way until every file is in place: a restore cut part-way (a kill,
 * a full disk) leaves a directory no node starts on, and running it again
 * finishes it.
 */
export function restoreDataDir(backup: string, dataDir: string): { aside?: string } {
	if (dataDir === ":memory:") throw new BackupError("DATA_DIR is :memory:: there is nowhere to restore to");
	backup = path.resolve(backup);
	const manifest = checkedManifest(backup);
	lockDataDir(dataDir);
	try {
		markRestoring(dataDir, backup);
		const present = filesToCopy(dataDir);
		let aside: string | undefined;
		if (present.length) {
			aside = path.join(dataDir, `replaced-${new Date().toISOString().replace(/[:.]/g, "-")}`);
			fs.mkdirSync(aside, { mode: 0o700 });
			for (const name of present) fs.renameSync(path.join(dataDir, name), path.join(aside, name));
		}
		crashPoint("restore.after-aside");
		for (const [i, f] of manifest.files.entries()) {
			if (i === 1) crashPoint("restore.after-first-file");
			const tmp = path.join(dataDir, `${f.name}.restoring`);
			fs.copyFileSync(path.join(backup, f.name), tmp);
			const fd = fs.openSync(tmp, "r");
			fs.fsyncSync(fd);
			fs.closeSync(fd);
			fs.renameSync(tmp, path.join(dataDir, f.name));
		}
		unmarkRestoring(dataDir);
		return { aside };
	} finally {
		releaseDataDir(dataDir);
	}
}
