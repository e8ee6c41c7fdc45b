import fs from "fs";
import path from "path";

/**
 * One process per data directory: NeDB keeps each file in memory and
 * appends to it, so two processes on one directory would overwrite each
 * other's writes. The first store a process opens in a directory takes
 * `.lock` (its pid); a live other process holding it is refused with a
 * message saying what to do; a lock left by a dead process is taken over.
 */

const held = new Set<string>();

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

/** The pid holding the directory's lock, if it is another live process. */
export function lockHolder(dataDir: string): number | undefined {
	try {
		const pid = Number(fs.readFileSync(path.join(dataDir, ".lock"), "utf8"));
		return pid && pid !== process.pid && alive(pid) ? pid : undefined;
	} catch {
		return undefined;
	}
}

export function lockDataDir(dataDir: string): void {
	const dir = path.resolve(dataDir);
	if (held.has(dir)) return;
	const holder = lockHolder(dir);
	if (holder !== undefined) throw new DataDirInUseError(dataDir, holder);
	fs.mkdirSync(dir, { recursive: true });
	const file = path.join(dir, ".lock");
	fs.writeFileSync(file, String(process.pid));
	held.add(dir);
	process.once("exit", () => {
		try {
			if (fs.readFileSync(file, "utf8") === String(process.pid)) fs.unlinkSync(file);
		} catch {
			// gone already
		}
	});
}
