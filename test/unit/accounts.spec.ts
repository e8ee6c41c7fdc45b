import fs from "fs";
import os from "os";
import path from "path";
import type { LoggerInstance } from "moleculer";
import type { DbAdapter } from "../../lib/db/adapter";
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from "../../lib/contracts/errors";
import { readAdminFile } from "../../lib/infra/generated-admin";
import { Accounts, type CustomerDoc } from "../../services/customers/accounts";
import { ensureAdmin } from "../../services/customers/first-admin";
import { memoryStore } from "../helpers/stepped-store";

/**
 * Customers' domain driven directly on an in-memory store: accounts
 * (passwords, token versions, who may order) and the first admin.
 */

const ROUNDS = 4;
let store: DbAdapter<CustomerDoc>;
let created: CustomerDoc[];
let accounts: Accounts;
const logged: string[] = [];
const logger = { info: (m: string) => logged.push(m), warn: (m: string) => logged.push(m) } as unknown as LoggerInstance;

beforeEach(async () => {
	store = await memoryStore<CustomerDoc>("customers", [{ field: "email", unique: true }]);
	created = [];
	accounts = new Accounts(store, ROUNDS, async doc => void created.push(doc));
	logged.length = 0;
});
afterEach(() => store.disconnect());

const ada = { name: "Ada", email: "ada@example.com", password: "correct horse", role: "customer" } as const;

describe("accounts", () => {
	it("stores a bcrypt hash, never the password, and announces the new account", async () => {
		const doc = await accounts.create(ada);
		const stored = await store.findById(doc._id);
		expect(JSON.stringify(stored)).not.toContain(ada.password);
		expect(stored).toMatchObject({ email: ada.email, role: "customer", blocked: false, tokenVersion: 0, phone: null });
		expect(stored!.passwordHash).toMatch(/^\$2[aby]\$04\$/);
		expect(created.map(d => d._id)).toEqual([doc._id]);
	});

	it("refuses a second account with the same email (409 EMAIL_TAKEN) and stores nothing", async () => {
		await accounts.create(ada);
		const err = await accounts.create({ ...ada, name: "Other" }).catch((e: unknown) => e);
		expect(err).toBeInstanceOf(ConflictError);
		expect((err as ConflictError).type).toBe("EMAIL_TAKEN");
		expect(await accounts.count()).toBe(1);
		expect(created).toHaveLength(1);
	});

	it("signs in with the right password only; an unknown email fails the same way; a blocked account is refused", async () => {
		const doc = await accounts.create(ada);
		expect((await accounts.signIn(ada.email, ada.password))._id).toBe(doc._id);
		for (const [email, password] of [
			[ada.email, "wrong password"],
			["nobody@example.com", ada.password],
		]) {
			const err = await accounts.signIn(email, password).catch((e: unknown) => e);
			expect([err instanceof UnauthorizedError, (err as UnauthorizedError).type]).toEqual([true, "INVALID_CREDENTIALS"]);
		}
		await accounts.update(doc._id, { blocked: true }, true);
		await expect(accounts.signIn(ada.email, ada.password)).rejects.toBeInstanceOf(ForbiddenError);
	});

	it("raises the token version in the write that revokes, and answers none for a blocked or unknown account", async () => {
		const doc = await accounts.create(ada);
		expect(await accounts.tokenVersion(doc._id)).toBe(0);
		await accounts.update(doc._id, { name: "Ada L." });
		expect(await accounts.tokenVersion(doc._id)).toBe(0);
		const after = await accounts.update(doc._id, { passwordHash: await accounts.hashPassword("new password") }, true);
		expect(after.tokenVersion).toBe(1);
		expect(await accounts.tokenVersion(doc._id)).toBe(1);
		expect(await accounts.isPassword(after, "new password")).toBe(true);
		await accounts.update(doc._id, { blocked: true }, true);
		expect(await accounts.tokenVersion(doc._id)).toBeNull();
		expect(await accounts.tokenVersion("unknown")).toBeNull();
		await expect(accounts.update("unknown", { name: "X" })).rejects.toBeInstanceOf(NotFoundError);
	});

	it("lets an existing, unblocked customer order, and says why not otherwise", async () => {
		const doc = await accounts.create(ada);
		expect(await accounts.canOrder(doc._id)).toEqual({ allowed: true });
		expect(await accounts.canOrder("unknown")).toEqual({ allowed: false, reason: "CUSTOMER_NOT_FOUND" });
		await accounts.update(doc._id, { blocked: true }, true);
		expect(await accounts.canOrder(doc._id)).toEqual({ allowed: false, reason: "ACCOUNT_BLOCKED" });
	});
});

describe("the first admin", () => {
	const admin = { email: "root@example.com", password: "admin password" };

	it("is created once from the settings, and an existing admin keeps its password", async () => {
		await ensureAdmin(accounts, admin, logger);
		await ensureAdmin(accounts, { ...admin, password: "another password" }, logger);
		const stored = await accounts.findByEmail(admin.email);
		expect(stored?.role).toBe("admin");
		expect(await accounts.isPassword(stored!, admin.password)).toBe(true);
		expect(await accounts.count()).toBe(1);
		expect(logged.at(-1)).toMatch(/ADMIN_PASSWORD differs/);
	});

	it("never promotes a customer who holds the admin's email: the start fails", async () => {
		await accounts.create({ ...ada, email: admin.email });
		await expect(ensureAdmin(accounts, admin, logger)).rejects.toThrow(/never made an admin/);
		expect((await accounts.findByEmail(admin.email))?.role).toBe("customer");
	});

	it("given no ADMIN_*, is generated with its password in a file, once", async () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), "first-admin-"));
		try {
			const file = path.join(dir, "generated-admin.json");
			await ensureAdmin(accounts, { generatedFile: file }, logger);
			const written = readAdminFile(file)!;
			const stored = await accounts.findByEmail(written.email);
			expect(stored?.role).toBe("admin");
			expect(await accounts.isPassword(stored!, written.password)).toBe(true);
			await ensureAdmin(accounts, { generatedFile: file }, logger);
			expect(await accounts.count()).toBe(1);
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});
});
