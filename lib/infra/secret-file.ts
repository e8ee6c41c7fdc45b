import fs from "fs";

/** Why a secret file was refused: what the start-up error says after the variable and the path. */
export class SecretFileError extends Error {}

/** Opening a FIFO for reading waits for a writer; without blocking it opens at once (a regular file is read as ever). */
const O_NONBLOCK = fs.constants.O_NONBLOCK ?? 0;

/**
 * A secret file's bytes: a regular file of at most `maxBytes`. Checked on
 * the descriptor it is read from (fstat), so the file read is the file
 * checked; a FIFO, a device or a directory is refused without a read, and
 * no more than `maxBytes + 1` bytes are read whatever the file grew to.
 */
export function readSecretFile(file: string, maxBytes: number): Buffer {
	let fd: number;
	try {
		fd = fs.openSync(file, fs.constants.O_RDONLY | O_NONBLOCK);
	} catch (err) {
		throw new SecretFileError(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
	}
	try {
		const stat = fs.fstatSync(fd);
		if (!stat.isFile()) throw new SecretFileError("not a regular file");
		if (stat.size > maxBytes) throw new SecretFileError(`larger than ${maxBytes} bytes`);
		const buffer = Buffer.alloc(maxBytes + 1);
		let length = 0;
		for (;;) {
			const n = fs.readSync(fd, buffer, length, buffer.length - length, null);
			if (n === 0) return buffer.subarray(0, length);
			length += n;
			if (length > maxBytes) throw new SecretFileError(`larger than ${maxBytes} bytes`);
		}
	} catch (err) {
		if (err instanceof SecretFileError) throw err;
		throw new SecretFileError(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
	} finally {
		fs.closeSync(fd);
	}
}
