import crypto from "crypto";
import fs from "fs";

/**
 * Whole files written beside their target, never through what is already
 * there: the temporary file has an unpredictable name in the target's own
 * directory and is created exclusively (`wx`, O_EXCL), so a symlink or a
 * file someone placed at that name is refused, not written through. A
 * reader sees the old file or the new one, never half of one.
 */

const TRIES = 5;

/** A new file beside `file` holding `content`; its name. */
function writeAside(file: string, content: string, mode: number): string {
	for (let attempt = 1; ; attempt++) {
		const tmp = `${file}.${crypto.randomBytes(8).toString("hex")}.tmp`;
		let fd: number;
		try {
			fd = fs.openSync(tmp, "wx", mode);
		} catch (err) {
			if ((err as NodeJS.ErrnoException).code === "EEXIST" && attempt < TRIES) continue;
			throw err;
		}
		try {
			fs.writeFileSync(fd, content);
		} catch (err) {
			fs.rmSync(tmp, { force: true });
			throw err;
		} finally {
			fs.closeSync(fd);
		}
		return tmp;
	}
}

/** `file` replaced whole by `content` (mode 0644 unless told): written aside, then renamed over it. */
export function replaceFile(file: string, content: string, mode = 0o644): void {
	const tmp = writeAside(file, content, mode);
	try {
		fs.renameSync(tmp, file);
	} catch (err) {
		fs.rmSync(tmp, { force: true });
		throw err;
	}
}

/** `file` created holding `content` unless something is there already (then false): written aside, then linked to its name, which is atomic and never shows an empty file. */
export function createFile(file: string, content: string, mode = 0o644): boolean {
	const tmp = writeAside(file, content, mode);
	try {
		fs.linkSync(tmp, file);
		return true;
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
		throw err;
	} finally {
		fs.rmSync(tmp, { force: true });
	}
}
