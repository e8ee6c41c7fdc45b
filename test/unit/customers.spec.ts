import fs from "fs";
import os from "os";
import path from "path";
import type { ServiceBroker } from "moleculer";
import jwt from "jsonwebtoken";
import CustomersService from "../../services/customers.service";
import { createTestBroker, waitFor } from "../helpers/broker";
import { withSettings } from "../helpers/gateway";

describe("customers service", () => {
	let broker: ServiceBroker;
	const admin = { id: "admin-id", email: "boss@shop.test", role: "admin" };

	beforeAll(async () => {
		broker = createTestBroker();
		broker.createService(withSettings(CustomersService, { admin: { email: "boss@shop.test", password: "boss-password" } }));
		await broker.start();
	});
	afterAll(() => broker.stop());

	const register = (params: Record<string, unknown>) => broker.call<any, any>("customers.register", params);
	let n = 0;
	const fresh = (extra: Record<string, unknown> = {}) => register({ name: "Ann", email: `ann${++n}@example.com`, password: "password-1", ...extra });

	it("registers a customer and answers a token and the customer without any hash", async () => {
		const ctxMeta: any = {};
		const res = await broker.call<any, any>("customers.register", { name: "  Zoe ", email: " Zoe@Example.COM ", password: "password-1", phone: "+1 555 0100" }, { meta: ctxMeta });
		expect(ctxMeta.$statusCode).toBe(201);
		expect(res.customer).toEqual({
			id: expect.any(String),
			name: "Zoe",
			email: "zoe@example.com",
			phone: "+1 555 0100",
			role: "customer",
			blocked: false,
			createdAt: expect.any(String),
			updatedAt: expect.any(String),
		});
		expect(JSON.stringify(res)).not.toMatch(/password|\$2[aby]\$/i);
		const payload = jwt.verify(res.token, "unit-test-secret") as jwt.JwtPayload;
		expect(payload).toMatchObject({ sub: res.customer.id, role: "customer" });
		expect(payload.exp! - payload.iat!).toBe(24 * 3600);
	});

	it("ignores a role sent at registration", async () => {
		const res = await fresh({ role: "admin", blocked: true });
		expect(res.customer.role).toBe("customer");
		expect(res.customer.blocked).toBe(false);
	});

	it("refuses an email already taken, whatever its case (409)", async () => {
		await register({ name: "A", email: "dup@example.com", password: "password-1" });
		await expect(register({ name: "B", email: "DUP@example.com ", password: "password-2" })).rejects.toMatchObject({ code: 409, type: "EMAIL_TAKEN" });
	});

	it.each([
		["an empty name", { name: "" }, "name"],
		["a 101-character name", { name: "x".repeat(101) }, "name"],
		["a bad email", { email: "not-an-email" }, "email"],
		["a 7-character password", { password: "1234567" }, "password"],
		["a 129-character password", { password: "p".repeat(129) }, "password"],
		["an operator in the email", { email: { $gt: "" } }, "email"],
		["a number as name", { name: 12 }, "name"],
	])("rejects %s with 422 naming the field", async (_label, bad, field) => {
		const before = await broker.call<any, any>("customers.list", { pageSize: 100 });
		const err = await register({ name: "Ann", email: `x${++n}@example.com`, password: "password-1", ...bad }).catch((e: any) => e);
		expect(err).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
		expect(err.data.map((d: any) => d.field)).toContain(field);
		const after = await broker.call<any, any>("customers.list", { pageSize: 100 });
		expect(after.total).toBe(before.total);
	});

	it("logs in with the right password, and answers 401 with one message for a wrong password or unknown email", async () => {
		const { customer } = await fresh();
		const ok = await broker.call<any, any>("customers.login", { email: customer.email.toUpperCase(), password: "password-1" });
		expect(ok.customer.id).toBe(customer.id);
		expect(typeof ok.token).toBe("string");
		const wrong: any = await broker.call("customers.login", { email: customer.email, password: "password-2" }).catch((e: any) => e);
		const unknown = await broker.call("customers.login", { email: "nobody@example.com", password: "password-1" }).catch((e: any) => e);
		expect(wrong).toMatchObject({ code: 401, message: "Invalid email or password" });
		expect(unknown).toMatchObject({ code: 401, message: wrong.message });
	});

	it("creates the admin from ADMIN_EMAIL / ADMIN_PASSWORD at start", async () => {
		const res = await broker.call<any, any>("customers.login", { email: "boss@shop.test", password: "boss-password" });
		expect(res.customer.role).toBe("admin");
	});

	it("shows and updates the signed-in customer's own profile", async () => {
		const { customer } = await fresh();
		const user = { id: customer.id, email: customer.email, role: "customer" };
		expect(await broker.call("customers.me", {}, { meta: { user } })).toEqual(customer);
		const updated = await broker.call<any, any>(
			"customers.updateMe",
			{ name: "Annie", password: "new-password", currentPassword: "password-1", role: "admin", email: "x@y.z" },
			{ meta: { user } },
		);
		expect(updated.customer).toMatchObject({ id: customer.id, name: "Annie", role: "customer", email: customer.email });
		await expect(broker.call("customers.login", { email: customer.email, password: "new-password" })).resolves.toBeTruthy();
		await expect(broker.call("customers.login", { email: customer.email, password: "password-1" })).rejects.toMatchObject({ code: 401 });
	});

	it("refuses updateMe with a short password, changing nothing", async () => {
		const { customer } = await fresh();
		const user = { id: customer.id, email: customer.email, role: "customer" };
		await expect(broker.call("customers.updateMe", { name: "Bob", password: "short" }, { meta: { user } })).rejects.toMatchObject({ code: 422 });
		expect(await broker.call("customers.me", {}, { meta: { user } })).toEqual(customer);
	});

	it("lists customers in pages", async () => {
		const page = await broker.call<any, any>("customers.list", { page: 1, pageSize: 2 });
		expect(page.rows).toHaveLength(2);
		expect(page).toMatchObject({ page: 1, pageSize: 2, total: expect.any(Number), totalPages: Math.ceil(page.total / 2) });
		await expect(broker.call("customers.list", { pageSize: 101 })).rejects.toMatchObject({ code: 422 });
		await expect(broker.call("customers.list", { pageSize: 0 })).rejects.toMatchObject({ code: 422 });
	});

	it("counts customers for the dashboard, not admins", async () => {
		const before = await broker.call<any, any>("customers.count", {});
		const admins = (await broker.call<any, any>("customers.list", { pageSize: 100 })).rows.filter((c: { role: string }) => c.role === "admin");
		expect(admins.length).toBeGreaterThan(0);
		await fresh();
		const after = await broker.call<any, any>("customers.count", {});
		expect(after.total).toBe(before.total + 1);
		const all = await broker.call<any, any>("customers.list", { pageSize: 1 });
		expect(after.total).toBe(all.total - admins.length);
	});

	it("finds customers by a part of their name or email, whatever its case, and filters by role", async () => {
		const { customer: grace } = await register({ name: "Grace Hopper", email: "grace.hopper@navy.test", password: "password-1" });
		await register({ name: "Alan Turing", email: "alan@bletchley.test", password: "password-1" });
		const byName = await broker.call<any, any>("customers.list", { search: "hopp" });
		expect(byName.rows.map((c: { id: string }) => c.id)).toEqual([grace.id]);
		const byEmail = await broker.call<any, any>("customers.list", { search: "NAVY.test" });
		expect(byEmail.rows.map((c: { id: string }) => c.id)).toEqual([grace.id]);
		// Typed as text, never as a pattern.
		expect((await broker.call<any, any>("customers.list", { search: ".*" })).total).toBe(0);
		const admins = await broker.call<any, any>("customers.list", { role: "admin" });
		expect(admins.rows.length).toBeGreaterThan(0);
		expect(admins.rows.every((c: { role: string }) => c.role === "admin")).toBe(true);
		await expect(broker.call("customers.list", { role: "root" })).rejects.toMatchObject({ code: 422 });
		await expect(broker.call("customers.list", { search: "x".repeat(101) })).rejects.toMatchObject({ code: 422 });
	});

	it("creates another admin (201), who signs in as an admin; a taken email is 409 and bad input 422, storing nothing", async () => {
		const meta: any = {};
		const created = await broker.call<any, any>("customers.createAdmin", { name: "Second Admin", email: " Second.Admin@Shop.test ", password: "admin-password-2", role: "customer" }, { meta });
		expect(meta.$statusCode).toBe(201);
		expect(created).toMatchObject({ name: "Second Admin", email: "second.admin@shop.test", role: "admin", blocked: false });
		expect(JSON.stringify(created)).not.toMatch(/password|\$2[aby]\$/i);
		const session = await broker.call<any, any>("customers.login", { email: "second.admin@shop.test", password: "admin-password-2" });
		expect(session.customer.role).toBe("admin");
		await expect(broker.call("customers.createAdmin", { name: "Again", email: "second.admin@shop.test", password: "admin-password-3" })).rejects.toMatchObject({ code: 409, type: "EMAIL_TAKEN" });
		const before = (await broker.call<any, any>("customers.list", { role: "admin" })).total;
		for (const bad of [
			{ name: "", email: "a@b.test", password: "password-1" },
			{ name: "A", email: "nope", password: "password-1" },
			{ name: "A", email: "a2@b.test", password: "short" },
			{ name: "A", email: "a3@b.test" },
		]) {
			await expect(broker.call("customers.createAdmin", bad)).rejects.toMatchObject({ code: 422 });
		}
		expect((await broker.call<any, any>("customers.list", { role: "admin" })).total).toBe(before);
	});

	it("gets one customer, 404 for an unknown id", async () => {
		const { customer } = await fresh();
		expect(await broker.call("customers.get", { id: customer.id })).toEqual(customer);
		await expect(broker.call("customers.get", { id: "nope" })).rejects.toMatchObject({ code: 404 });
	});

	it("blocks a customer: login refused, canOrder false, and the cached read is fresh", async () => {
		const { customer } = await fresh();
		expect(await broker.call("customers.canOrder", { id: customer.id })).toEqual({ allowed: true });
		await broker.call("customers.get", { id: customer.id });
		const blocked = await broker.call<any, any>("customers.setAccess", { id: customer.id, blocked: true }, { meta: { user: admin } });
		expect(blocked.blocked).toBe(true);
		expect(await broker.call<any, any>("customers.get", { id: customer.id })).toMatchObject({ blocked: true });
		await expect(broker.call("customers.login", { email: customer.email, password: "password-1" })).rejects.toMatchObject({ code: 403, type: "ACCOUNT_BLOCKED" });
		expect(await broker.call("customers.canOrder", { id: customer.id })).toEqual({ allowed: false, reason: "ACCOUNT_BLOCKED" });
		await broker.call("customers.setAccess", { id: customer.id, blocked: false });
		await expect(broker.call("customers.login", { email: customer.email, password: "password-1" })).resolves.toBeTruthy();
	});

	it("answers 422 for a non-boolean blocked and 404 for an unknown customer", async () => {
		const { customer } = await fresh();
		await expect(broker.call("customers.setAccess", { id: customer.id, blocked: "true" })).rejects.toMatchObject({ code: 422 });
		await expect(broker.call("customers.setAccess", { id: customer.id, blocked: false, role: "root" })).rejects.toMatchObject({ code: 422 });
		await expect(broker.call("customers.setAccess", { id: "missing", blocked: true })).rejects.toMatchObject({ code: 404 });
		expect(await broker.call<any, any>("customers.get", { id: customer.id })).toMatchObject({ blocked: false });
	});

	describe("token versions: what ends every earlier token of an account", () => {
		const versionOf = (id: string) => broker.call<any, any>("customers.tokenVersion", { id });
		const claimedVersion = (token: string) => (jwt.decode(token) as jwt.JwtPayload).ver;
		const userOf = (customer: { id: string; email: string; role: string }) => ({ id: customer.id, email: customer.email, role: customer.role });

		it("signs each token with the account's current version, which a password change, a role change, a block and logoutAll each raise", async () => {
			const { customer, token } = await fresh();
			const start = (await versionOf(customer.id)).version;
			expect(claimedVersion(token)).toBe(start);
			const user = userOf(customer);

			const changed = await broker.call<any, any>("customers.updateMe", { password: "password-2", currentPassword: "password-1" }, { meta: { user } });
			expect((await versionOf(customer.id)).version).toBe(start + 1);
			expect(claimedVersion(changed.token)).toBe(start + 1);

			await broker.call("customers.updateMe", { name: "Renamed" }, { meta: { user } });
			expect((await versionOf(customer.id)).version).toBe(start + 1);

			await broker.call("customers.logoutAll", {}, { meta: { user } });
			expect((await versionOf(customer.id)).version).toBe(start + 2);

			await broker.call("customers.setAccess", { id: customer.id, blocked: false, role: "admin" }, { meta: { user: admin } });
			expect((await versionOf(customer.id)).version).toBe(start + 3);
			await broker.call("customers.setAccess", { id: customer.id, blocked: false, role: "admin" }, { meta: { user: admin } });
			expect((await versionOf(customer.id)).version).toBe(start + 3);

			await broker.call("customers.setAccess", { id: customer.id, blocked: true }, { meta: { user: admin } });
			expect(await versionOf(customer.id)).toEqual({ version: null });
			await broker.call("customers.setAccess", { id: customer.id, blocked: false }, { meta: { user: admin } });
			const relogged = await broker.call<any, any>("customers.login", { email: customer.email, password: "password-2" });
			expect(relogged.customer.role).toBe("admin");
			expect(claimedVersion(relogged.token)).toBe((await versionOf(customer.id)).version);
			expect((await versionOf(customer.id)).version).toBeGreaterThan(start + 3);
		});

		it("has no valid version for an unknown customer", async () => {
			expect(await versionOf("no-such-customer")).toEqual({ version: null });
		});

		it("changes a password only with the current one (422 without it, 403 when wrong), changing nothing otherwise, and answers a fresh token", async () => {
			const { customer } = await fresh();
			const user = userOf(customer);
			const without: any = await broker.call("customers.updateMe", { password: "password-2" }, { meta: { user } }).catch((e: any) => e);
			expect(without).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
			expect(without.data.map((d: any) => d.field)).toContain("currentPassword");
			await expect(broker.call("customers.updateMe", { name: "Mallory", password: "password-2", currentPassword: "password-9" }, { meta: { user } })).rejects.toMatchObject({
				code: 403,
				type: "WRONG_PASSWORD",
			});
			expect(await broker.call("customers.me", {}, { meta: { user } })).toEqual(customer);
			await expect(broker.call("customers.login", { email: customer.email, password: "password-1" })).resolves.toBeTruthy();

			const res = await broker.call<any, any>("customers.updateMe", { password: "password-2", currentPassword: "password-1" }, { meta: { user } });
			expect(res).toEqual({ customer: expect.objectContaining({ id: customer.id }), token: expect.any(String) });
			expect(jwt.verify(res.token, "unit-test-secret")).toMatchObject({ sub: customer.id });
			expect(JSON.stringify(res)).not.toMatch(/password|\$2[aby]\$/i);
		});

		it("emits customer.tokensRevoked with the new version, after each revocation", async () => {
			const { customer } = await fresh();
			const seen: unknown[] = [];
			const listener = broker.createService({ name: "revocation-listener", events: { "customer.tokensRevoked": (ctx: any) => void seen.push(ctx.params) } });
			await broker.waitForServices(["revocation-listener"]);
			try {
				await broker.call("customers.logoutAll", {}, { meta: { user: userOf(customer) } });
				const { version } = await versionOf(customer.id);
				await waitFor(() => seen.length > 0);
				expect(seen).toEqual([{ customerId: customer.id, version }]);
			} finally {
				await broker.destroyService(listener);
			}
		});
	});

	describe("login throttled per account", () => {
		let node: ServiceBroker;
		beforeAll(async () => {
			node = createTestBroker();
			node.createService(withSettings(CustomersService, { loginThrottle: { max: 3, windowMs: 60_000 } }));
			await node.start();
		});
		afterAll(() => node.stop());

		it("refuses (429) every attempt on an account past its limit, the right password too, while other accounts still sign in", async () => {
			const victim = await node.call<any, any>("customers.register", { name: "Vic", email: "vic@example.com", password: "password-1" });
			const bystander = await node.call<any, any>("customers.register", { name: "By", email: "by@example.com", password: "password-1" });
			for (let i = 0; i < 3; i++) await expect(node.call("customers.login", { email: "VIC@example.com ", password: `guess-${i}` })).rejects.toMatchObject({ code: 401 });
			await expect(node.call("customers.login", { email: "vic@example.com", password: "password-1" })).rejects.toMatchObject({ code: 429, type: "TOO_MANY_LOGIN_ATTEMPTS" });
			await expect(node.call("customers.login", { email: "by@example.com", password: "password-1" })).resolves.toMatchObject({ customer: { id: bystander.customer.id } });
			// Guessing the current password through a stolen token counts against the same budget.
			await expect(
				node.call("customers.updateMe", { password: "password-2", currentPassword: "password-1" }, { meta: { user: { id: victim.customer.id, email: "vic@example.com", role: "customer" } } }),
			).rejects.toMatchObject({ code: 429 });
		});
	});

	describe("the first admin from ADMIN_EMAIL", () => {
		let dataDir: string;
		const startWith = async (admin: { email: string; password: string }) => {
			const node = createTestBroker();
			node.createService(withSettings(CustomersService, { admin, storage: { dataDir } }));
			const logs: string[] = [];
			const started = node.start().then(
				() => null,
				(err: Error) => err,
			);
			return { node, logs, error: await started };
		};
		/** A customers node on `dataDir` with these admin settings, and what it logged. */
		const startWithLogs = async (admin: object) => {
			const logs: string[] = [];
			const node = createTestBroker();
			const service = node.createService(withSettings(CustomersService, { admin, storage: { dataDir } }));
			service.logger.info = service.logger.warn = (...args: unknown[]) => void logs.push(args.map(String).join(" "));
			const error = await node.start().then(
				() => null,
				(err: Error) => err,
			);
			return { node, logs, error };
		};
		beforeEach(() => {
			dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "admin-"));
		});
		afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

		it("never promotes a customer who registered that email first: the node refuses to start", async () => {
			const first = await startWith({ email: "someone@shop.test", password: "admin-password" });
			await first.node.call("customers.register", { name: "Squatter", email: "taken@shop.test", password: "squatter-pass" });
			await first.node.stop();
			const second = await startWith({ email: "taken@shop.test", password: "admin-password" });
			expect(second.error?.message).toMatch(/taken@shop\.test.*is a customer/);
			await second.node.stop();
			const third = await startWith({ email: "someone@shop.test", password: "admin-password" });
			const login = await third.node.call<any, object>("customers.login", { email: "taken@shop.test", password: "squatter-pass" });
			expect(login.customer.role).toBe("customer");
			await expect(third.node.call("customers.login", { email: "taken@shop.test", password: "admin-password" })).rejects.toMatchObject({ code: 401 });
			await third.node.stop();
		});

		it("on the embedded default with no ADMIN_*, creates an admin with a generated password written to DATA_DIR (0600), says where, and keeps both on the next start", async () => {
			const generatedFile = path.join(dataDir, "generated-admin.json");
			const first = await startWithLogs({ generatedFile });
			expect(first.error).toBeNull();
			expect(fs.statSync(generatedFile).mode & 0o777).toBe(0o600);
			const written = JSON.parse(fs.readFileSync(generatedFile, "utf8"));
			expect(written).toEqual({ email: "admin@shop.localhost", password: expect.stringMatching(/^[A-Za-z0-9_-]{24,}$/) });
			await expect(first.node.call("customers.login", written)).resolves.toMatchObject({ customer: { role: "admin", email: written.email } });
			expect(first.logs.join("\n")).toContain(generatedFile);
			await first.node.stop();

			const second = await startWithLogs({ generatedFile });
			expect(JSON.parse(fs.readFileSync(generatedFile, "utf8"))).toEqual(written);
			await expect(second.node.call("customers.login", written)).resolves.toMatchObject({ customer: { role: "admin" } });
			expect(second.logs.join("\n")).toContain(generatedFile);
			await second.node.stop();
		});

		it("generates no admin when one exists already", async () => {
			const first = await startWith({ email: "boss3@shop.test", password: "first-password" });
			await first.node.stop();
			const generatedFile = path.join(dataDir, "generated-admin.json");
			const second = await startWithLogs({ generatedFile });
			expect(second.error).toBeNull();
			expect(fs.existsSync(generatedFile)).toBe(false);
			expect((await second.node.call<any, any>("customers.list", {})).rows.map((c: any) => c.email)).toEqual(["boss3@shop.test"]);
			await second.node.stop();
		});

		it("leaves an existing admin as it is, its password too", async () => {
			const first = await startWith({ email: "boss2@shop.test", password: "first-password" });
			await first.node.stop();
			const second = await startWith({ email: "boss2@shop.test", password: "changed-password" });
			expect(second.error).toBeNull();
			await expect(second.node.call("customers.login", { email: "boss2@shop.test", password: "first-password" })).resolves.toMatchObject({ customer: { role: "admin" } });
			await second.node.stop();
		});
	});
});
