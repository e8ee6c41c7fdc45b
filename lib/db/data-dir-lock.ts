import crypto from "crypto";
import fs from "fs";
import path from "path";
import { createFile, replaceFile } from "../infra/local-files";

/**
 * One process per data directory: NeDB keeps each file in memory and
 * appends to it, so two processes on one directory would overwrite each
 * other's writes. The first store a process opens in a directory takes
 * `.lock` (its pid); a live other process holding it is refused with a
 * message saying what to do; a lock left by a dead process is taken over.
 *
 * Atomically, so two nodes starting together never both hold it: the lock
 * is created whole or not at all (written aside, then linked to its name,
 * which fails when it exists). Taking over a dead process's lock is a
 * compare-and-replace done under a claim, `.lock.stale-<pid>`, created the
 * same way: of the processes that find pid's lock stale, the one holding
 * the claim replaces it if it still names pid; the others then find a live
 * holder. A claim left by a process that died while holding it is stale in
 * turn and taken over by the same rule.
 *
 * The holder may add its gateway's address (`recordApi`): then the seed
 * knows where the node holding its data directory answers.
 */

const LOCK = ".lock";
/** How long a process waits for another to finish taking over a stale lock (it takes microseconds unless that process hangs). */
const CLAIM_WAIT_MS = 5_000;

/** What the lock says: the holder's pid, and its gateway's address once it listens. Older locks hold the pid alone. */
export interface LockRecord {
	pid: number;
	/** Makes each taking of the lock unlike any other, even by a process that got a dead holder's pid. */
	token?: string;
	api?: string;
	/** The holder answers backup requests (lib/db/backup.ts): only then may SIGUSR2 be sent to it, whose default action ends a process. */
	backups?: boolean;
}

/** The directories this process holds, with what their lock says. */
const held = new Map<string, LockRecord>();

export class DataDirInUseError extends Error {
	name = "DataDirInUseError";
	constructor(
		readonly dataDir: string,
		readonly pid: number,
	) {
		super(`DATA_DIR ${dataDir} is in use by another node (pid ${pid}). Stop it, or give this node its own DATA_DIR (or run both in one cluster with TRANSPORTER).`);
	}
}

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === "EPERM";
	}
}

function parse(content: string): LockRecord | undefined {
	if (/^\d+$/.test(content.trim())) return { pid: Number(content) };
	try {
		const record = JSON.parse(content) as LockRecord;
		return Number.isInteger(record.pid) && record.pid > 0 ? record : undefined;
	} catch {
		return undefined;
	}
}

/** The file's content, or undefined when there is none. */
function read(file: string): string | undefined {
	try {
		return fs.readFileSync(file, "utf8");
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
		throw err;
	}
}

/** A live process other than this one, named by the content. A holder with this process's pid is an earlier process that had it (a restarted container). */
function liveHolder(content: string): LockRecord | undefined {
	const record = parse(content);
	return record && record.pid !== process.pid && alive(record.pid) ? record : undefined;
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Takes `file` for this process (content `mine`): true once held, or the
 * live other process holding it. Waits while another process takes over a
 * stale one.
 */
function acquire(file: string, mine: string): true | LockRecord {
	const deadline = Date.now() + CLAIM_WAIT_MS;
	for (;;) {
		if (createFile(file, mine)) return true;
		const current = read(file);
		if (current === undefined) continue; // released meanwhile
		const holder = liveHolder(current);
		if (holder) return holder;
		// Stale (or unreadable, from a process that died before writing it whole): replace it only while it is still this one.
		const claim = `${file}.stale-${parse(current)?.pid ?? "unreadable"}`;
		const claimed = acquire(claim, mine);
		if (claimed === true) {
			try {
				if (read(file) === current) {
					replaceFile(file, mine);
					return true;
				}
			} finally {
				fs.rmSync(claim, { force: true });
			}
		} else if (Date.now() > deadline) {
			return claimed;
		} else {
			pause(1);
		}
	}
}

/** The live other process holding the directory's lock, with its gateway's address when it has said it. */
export function lockRecord(dataDir: string): LockRecord | undefined {
	try {
		const content = read(path.join(dataDir, LOCK));
		return content === undefined ? undefined : liveHolder(content);
	} catch {
		return undefined;
	}
}

/** The pid holding the directory's lock, if it is another live process. */
export function lockHolder(dataDir: string): number | undefined {
	return lockRecord(dataDir)?.pid;
}

export function lockDataDir(dataDir: string): void {
	const dir = path.resolve(dataDir);
	if (held.has(dir)) return;
	fs.mkdirSync(dir, { recursive: true });
	const mine: LockRecord = { pid: process.pid, token: crypto.randomUUID() };
	const taken = acquire(path.join(dir, LOCK), JSON.stringify(mine));
	if (taken !== true) throw new DataDirInUseError(dataDir, taken.pid);
	held.set(dir, mine);
	process.once("exit", () => releaseDataDir(dir));
}

/** Lets go of a directory this process holds (at exit, or in a test). */
export function releaseDataDir(dataDir: string): void {
	const dir = path.resolve(dataDir);
	const mine = held.get(dir);
	if (!held.delete(dir)) return;
	const file = path.join(dir, LOCK);
	try {
		// Nobody takes over a live holder's lock, so it is still ours if it is the one we took.
		if (parse(read(file) ?? "")?.token === mine?.token) fs.unlinkSync(file);
	} catch {
		// gone already
	}
}

/** The holder adds where its gateway answers; nothing when this process does not hold the directory. */
export function recordApi(dataDir: string, api: string): void {
	record(dataDir, { api });
}

/** The holder says it answers backup requests; nothing when this process does not hold the directory. */
export function recordServesBackups(dataDir: string): void {
	record(dataDir, { backups: true });
}

function record(dataDir: string, fields: Partial<LockRecord>): void {
	const dir = path.resolve(dataDir);
	const mine = held.get(dir);
	if (!mine) return;
	Object.assign(mine, fields);
	replaceFile(path.join(dir, LOCK), JSON.stringify(mine));
}
