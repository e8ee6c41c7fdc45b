import fs from "fs";
import path from "path";
import type { LoggerInstance } from "moleculer";
import { ConflictError } from "../../lib/contracts/errors";
import { generateAdmin, readAdminFile, writeAdminFile } from "../../lib/infra/generated-admin";
import type { AdminSettings } from "../../lib/infra/settings";
import type { Accounts } from "./accounts";

/**
 * The first admin, from ADMIN_EMAIL / ADMIN_PASSWORD: created when no
 * account has that email; an existing admin is left as it is; a customer
 * who holds that email is never promoted (the node refuses to start).
 * Given neither, and a file for it, a generated one (ensureGeneratedAdmin).
 */
export async function ensureAdmin(accounts: Accounts, admin: Pick<AdminSettings, "email" | "password" | "generatedFile">, logger: LoggerInstance): Promise<void> {
	const { email, password, generatedFile } = admin;
	if (generatedFile) return ensureGeneratedAdmin(accounts, generatedFile, logger);
	if (!email || !password) return;
	const existing = await accounts.findByEmail(email);
	if (existing?.role === "customer") {
		throw new Error(`ADMIN_EMAIL ${email} is a customer's account: it is never made an admin. Choose another ADMIN_EMAIL, or promote nobody by leaving it unset.`);
	}
	if (existing) {
		if (await accounts.isPassword(existing, password)) logger.info(`Admin ${email} exists.`);
		else logger.warn(`Admin ${email} exists; ADMIN_PASSWORD differs from its password and is not applied (only a new admin gets it). Change the password through PATCH /api/customers/me.`);
		return;
	}
	try {
		await accounts.create({ name: "Administrator", email, password, role: "admin" });
		logger.info(`Admin ${email} created.`);
	} catch (err) {
		// Another customers node created it first.
		if (!(err instanceof ConflictError)) throw err;
	}
}

/**
 * The embedded default given no ADMIN_*: when no admin exists, one with
 * a generated password, written to the data directory (0600) before the
 * admin is stored, so a crash between the two leaves no admin whose
 * password nobody has (the next start makes another). Says where it is.
 */
async function ensureGeneratedAdmin(accounts: Accounts, file: string, logger: LoggerInstance): Promise<void> {
	const where = path.resolve(file);
	if (await accounts.hasAdmin()) {
		if (readAdminFile(file)) logger.info(`The admin generated for this shop signs in with the email and password in ${where}.`);
		return;
	}
	const admin = generateAdmin();
	writeAdminFile(file, admin);
	try {
		await accounts.create({ name: "Administrator", ...admin, role: "admin" });
	} catch (err) {
		if (!(err instanceof ConflictError)) throw err;
		fs.rmSync(file, { force: true });
		logger.warn(`No admin was created: a customer holds ${admin.email}. Set ADMIN_EMAIL and ADMIN_PASSWORD for the first admin.`);
		return;
	}
	logger.warn(`No ADMIN_EMAIL / ADMIN_PASSWORD: created the admin ${admin.email} with a generated password, in ${where} (readable by this user only). Sign in with it; npm run seed finds it there.`);
}
