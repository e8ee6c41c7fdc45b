import crypto from "crypto";
import fs from "fs";
import path from "path";
import { replaceFile } from "./local-files";
import { readSecretFile } from "./secret-file";

/**
 * The admin a shop makes for itself when it is given none (no ADMIN_EMAIL /
 * ADMIN_PASSWORD): the embedded default (`npm start`) and `npm run cluster`.
 * There is no well-known password: a random one, written beside the data
 * where only this user can read it (0600), so that the operator, and the
 * seed that finds the file, sign in with it.
 */

export const GENERATED_ADMIN_FILE = "generated-admin.json";
export const GENERATED_ADMIN_EMAIL = "admin@shop.localhost";

export interface AdminCredentials {
	email: string;
	password: string;
}

/** 24 characters of base64url: 144 random bits, within a password's 8 to 72. */
export function generateAdmin(): AdminCredentials {
	return { email: GENERATED_ADMIN_EMAIL, password: crypto.randomBytes(18).toString("base64url") };
}

/** Written whole, readable by this user only. */
export function writeAdminFile(file: string, admin: AdminCredentials): void {
	fs.mkdirSync(path.dirname(file), { recursive: true });
	replaceFile(file, `${JSON.stringify(admin)}\n`, 0o600);
}

/** A generated admin's file is under a hundred bytes; a bigger one is not ours. */
const ADMIN_FILE_MAX_BYTES = 64 * 1024;

/** The credentials in the file, or undefined when there is none (or it is not one of ours: a FIFO, a device, a huge file). */
export function readAdminFile(file: string): AdminCredentials | undefined {
	try {
		const admin = JSON.parse(readSecretFile(file, ADMIN_FILE_MAX_BYTES).toString("utf8")) as Partial<AdminCredentials>;
		return typeof admin.email === "string" && typeof admin.password === "string" ? { email: admin.email, password: admin.password } : undefined;
	} catch {
		return undefined;
	}
}
