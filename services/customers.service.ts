import fs from "fs";
import path from "path";
import bcrypt from "bcryptjs";
import type { Context } from "moleculer";
import DbMixin, { type DbMethods, type DbSettings } from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { ROLES, type AuthUser } from "../lib/contracts/auth";
import { Tokens } from "../lib/infra/auth";
import { LoginThrottle, type LoginThrottleSettings } from "../lib/infra/login-throttle";
import { isDuplicateKeyError, type Doc } from "../lib/db/adapter";
import { newId } from "../lib/db/ids";
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from "../lib/contracts/errors";
import { generateAdmin, readAdminFile, writeAdminFile } from "../lib/infra/generated-admin";
import { ID, PAGE_PARAMS, PASSWORD, PASSWORD_GIVEN } from "../lib/contracts/params";
import { settings, type AdminSettings, type AuthSettings } from "../lib/infra/settings";
import { ORDER_REFUSAL, type CanOrderAnswer, type Ctx, type Customer, type SecureSettings, type ServiceBase, defineService } from "../lib/contracts/types";
import { validationError } from "../lib/infra/validation";

const PUBLIC_FIELDS = ["id", "name", "email", "phone", "role", "blocked", "createdAt", "updatedAt"] as const;
const LOGIN_FAILED = "Invalid email or password";
/** Nullable: `null` clears it. */
const PHONE = { type: "string", trim: true, min: 3, max: 30, nullable: true } as const;

interface CustomerDoc extends Doc {
	name: string;
	email: string;
	phone: string | null;
	role: Customer["role"];
	blocked: boolean;
	passwordHash: string;
	/** Raised by a block, a password or role change and a sign-out everywhere: tokens of an earlier version end. Absent in accounts made before versions (0). */
	tokenVersion?: number;
	createdAt: string;
	updatedAt: string;
}

/** What may be done to an account that ends its earlier tokens: one atomic write, raising its version. */
const REVOKE = { $inc: { tokenVersion: 1 } } as const;

/** Sign-in attempts per account: 10 per 15 minutes. */
const LOGIN_THROTTLE = { max: 10, windowMs: 15 * 60_000 };

interface CustomersSettings extends DbSettings, SecureSettings {
	admin: AdminSettings;
	auth: AuthSettings;
	loginThrottle: LoginThrottleSettings;
}

interface NewCustomer {
	name: string;
	email: string;
	password: string;
	phone?: string;
	role: Customer["role"];
}

/** What `this` is inside the customers service. */
interface CustomersThis extends ServiceBase<CustomersSettings>, DbMethods<CustomerDoc, Customer> {
	tokens: Tokens;
	loginThrottle: LoginThrottle;
	/** Hashed in bcryptjs's asynchronous chunks, so the start does not wait ~70 ms (10 rounds) for it; awaited by a login of an unknown email. */
	dummyHash: Promise<string>;
	session(doc: CustomerDoc): { token: string; customer: Customer };
	currentUserId(ctx: Ctx): string;
	findCustomer(id: string): Promise<Customer>;
	insertCustomer(fields: NewCustomer): Promise<CustomerDoc>;
	updateCustomer(ctx: Context, id: string, changes: Partial<CustomerDoc>, revoke?: boolean): Promise<CustomerDoc>;
	assertPassword(doc: CustomerDoc, password: string): Promise<void>;
	ensureAdmin(): Promise<void>;
	ensureGeneratedAdmin(file: string): Promise<void>;
}

const CustomersService = defineService<CustomersSettings, CustomersThis>({
	name: "customers",
	mixins: [DbMixin<CustomerDoc, Customer>({ collection: "customers", indexes: [{ field: "email", unique: true }], publicFields: PUBLIC_FIELDS }), HealthMixin],

	settings: {
		$secureSettings: ["admin", "auth", "loginThrottle"],
		admin: settings.admin,
		auth: settings.auth,
		loginThrottle: { ...LOGIN_THROTTLE, redisUrl: settings.gateway.redisUrl },
	},

	actions: {
		register: {
			params: {
				name: { type: "string", trim: true, min: 1, max: 100 },
				email: { type: "email", normalize: true, max: 254 },
				password: PASSWORD,
				phone: { ...PHONE, optional: true },
			},
			async handler(this: CustomersThis, ctx: Ctx<{ name: string; email: string; password: string; phone?: string }>) {
				const { name, email, password, phone } = ctx.params;
				const doc = await this.insertCustomer({ name, email, password, phone, role: "customer" });
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = "/api/customers/me";
				return this.session(doc);
			},
		},

		login: {
			params: {
				email: { type: "email", normalize: true, max: 254 },
				password: PASSWORD_GIVEN,
			},
			async handler(this: CustomersThis, ctx: Ctx<{ email: string; password: string }>) {
				await this.loginThrottle.attempt(ctx.params.email);
				const doc = await this.adapter.findOne({ email: ctx.params.email });
				// Compare against a dummy hash when the email is unknown, so both failures take as long.
				const ok = await bcrypt.compare(ctx.params.password, doc?.passwordHash ?? (await this.dummyHash));
				if (!doc || !ok) throw new UnauthorizedError(LOGIN_FAILED, "INVALID_CREDENTIALS");
				if (doc.blocked) throw new ForbiddenError("This account is blocked", ORDER_REFUSAL.accountBlocked);
				return this.session(doc);
			},
		},

		me: {
			handler(this: CustomersThis, ctx: Ctx): Promise<Customer> {
				return this.findCustomer(this.currentUserId(ctx));
			},
		},

		/** A new password needs the current one, ends every earlier token and answers a fresh one. */
		updateMe: {
			params: {
				name: { type: "string", trim: true, min: 1, max: 100, optional: true },
				password: { ...PASSWORD, optional: true },
				currentPassword: { ...PASSWORD_GIVEN, optional: true },
				phone: { ...PHONE, optional: true },
			},
			async handler(
				this: CustomersThis,
				ctx: Ctx<{ name?: string; password?: string; currentPassword?: string; phone?: string | null }>,
			): Promise<Customer | { customer: Customer; token: string }> {
				const id = this.currentUserId(ctx);
				const { name, phone, password, currentPassword } = ctx.params;
				const changes: Partial<CustomerDoc> = {};
				if (name !== undefined) changes.name = name;
				if (phone !== undefined) changes.phone = phone;
				if (password === undefined) return this.toPublic(await this.updateCustomer(ctx, id, changes));
				if (currentPassword === undefined) {
					throw validationError([{ type: "required", field: "currentPassword", message: "The 'currentPassword' field is required to change the password." }]);
				}
				const doc = await this.adapter.findById(id);
				if (!doc) throw new NotFoundError("Customer", id);
				await this.assertPassword(doc, currentPassword);
				changes.passwordHash = await bcrypt.hash(password, this.settings.admin.bcryptRounds);
				return this.session(await this.updateCustomer(ctx, id, changes, true));
			},
		},

		/** Every earlier token of the signed-in account ends (204). */
		logoutAll: {
			params: {},
			async handler(this: CustomersThis, ctx: Ctx): Promise<null> {
				await this.updateCustomer(ctx, this.currentUserId(ctx), {}, true);
				ctx.meta.$statusCode = 204;
				return null;
			},
		},

		list: {
			params: { ...PAGE_PARAMS },
			handler(this: CustomersThis, ctx: Ctx<{ page: number; pageSize: number }>) {
				return this.findPage({}, "createdAt", ctx.params.page, ctx.params.pageSize);
			},
		},

		get: {
			cache: { keys: ["id"] },
			params: { id: ID },
			handler(this: CustomersThis, ctx: Ctx<{ id: string }>): Promise<Customer> {
				return this.findCustomer(ctx.params.id);
			},
		},

		/** An admin blocks or unblocks an account, and may change its role: a block or a new role ends its earlier tokens. */
		setAccess: {
			params: {
				id: ID,
				blocked: { type: "boolean" },
				role: { type: "enum", values: ROLES, optional: true },
			},
			async handler(this: CustomersThis, ctx: Ctx<{ id: string; blocked: boolean; role?: Customer["role"] }>): Promise<Customer> {
				const { id, blocked, role } = ctx.params;
				const current = await this.adapter.findById(id);
				if (!current) throw new NotFoundError("Customer", id);
				const newRole = role !== undefined && role !== current.role;
				const changes: Partial<CustomerDoc> = newRole ? { blocked, role } : { blocked };
				return this.toPublic(await this.updateCustomer(ctx, id, changes, blocked || newRole));
			},
		},

		/** How many customers there are. Internal (the dashboard). */
		count: {
			visibility: "public",
			cache: { keys: [] },
			async handler(this: CustomersThis): Promise<{ total: number }> {
				return { total: await this.adapter.count({ query: {} }) };
			},
		},

		/**
		 * The token version an account's tokens must carry to be valid now;
		 * none (null) for an unknown or blocked account. Internal: every
		 * door of the gateway asks it of each signed-in request.
		 */
		tokenVersion: {
			visibility: "public",
			// `near`: each gateway keeps the answer, checked against this service's tag, which every write renews before it answers (middlewares/near-cache.ts).
			cache: { keys: ["id"], near: true },
			retryPolicy: { enabled: true },
			params: { id: ID },
			async handler(this: CustomersThis, ctx: Ctx<{ id: string }>): Promise<{ version: number | null }> {
				const doc = await this.adapter.findById(ctx.params.id);
				return { version: doc && !doc.blocked ? (doc.tokenVersion ?? 0) : null };
			},
		},

		/** Who a password reset for this email goes to: an account that is not blocked, or null. Internal (notifications). */
		resetTarget: {
			visibility: "public",
			params: { email: { type: "email", normalize: true, max: 254 } },
			async handler(this: CustomersThis, ctx: Ctx<{ email: string }>): Promise<{ id: string; name: string; email: string } | null> {
				const doc = await this.adapter.findOne({ email: ctx.params.email });
				return doc && !doc.blocked ? { id: String(doc._id), name: doc.name, email: doc.email } : null;
			},
		},

		/** The new password of a reset that notifications verified (its token used up): every earlier token of the account ends. Internal. */
		setPasswordByReset: {
			visibility: "public",
			params: { id: ID, password: PASSWORD },
			async handler(this: CustomersThis, ctx: Ctx<{ id: string; password: string }>): Promise<null> {
				await this.updateCustomer(ctx, ctx.params.id, { passwordHash: await bcrypt.hash(ctx.params.password, this.settings.admin.bcryptRounds) }, true);
				return null;
			},
		},

		/** Whether a customer may place orders now (exists and is not blocked). Internal. */
		canOrder: {
			visibility: "public",
			// `near`: the orders nodes and gateways that ask it on every order keep the answer too, checked against this service's tag (middlewares/near-cache.ts).
			cache: { keys: ["id"], near: true },
			retryPolicy: { enabled: true },
			params: { id: ID },
			async handler(this: CustomersThis, ctx: Ctx<{ id: string }>): Promise<CanOrderAnswer> {
				const doc = await this.adapter.findById(ctx.params.id);
				if (!doc) return { allowed: false, reason: ORDER_REFUSAL.customerNotFound };
				if (doc.blocked) return { allowed: false, reason: ORDER_REFUSAL.accountBlocked };
				return { allowed: true };
			},
		},
	},

	methods: {
		/** A token of the account as it is now, and the account. */
		session(this: CustomersThis, doc: CustomerDoc): { token: string; customer: Customer } {
			const customer = this.toPublic(doc);
			const user: AuthUser = { id: customer.id, email: customer.email, role: customer.role, version: doc.tokenVersion ?? 0 };
			return { token: this.tokens.sign(user), customer };
		},

		/** The account's password, or 403; an attempt counts against the account's sign-in budget (a stolen token cannot guess it faster). */
		async assertPassword(this: CustomersThis, doc: CustomerDoc, password: string): Promise<void> {
			await this.loginThrottle.attempt(doc.email);
			if (!(await bcrypt.compare(password, doc.passwordHash))) throw new ForbiddenError("The current password is wrong", "WRONG_PASSWORD");
		},

		currentUserId(ctx: Ctx): string {
			if (!ctx.meta.user) throw new UnauthorizedError();
			return ctx.meta.user.id;
		},

		async findCustomer(this: CustomersThis, id: string): Promise<Customer> {
			const doc = await this.adapter.findById(id);
			if (!doc) throw new NotFoundError("Customer", id);
			return this.toPublic(doc);
		},

		async insertCustomer(this: CustomersThis, fields: NewCustomer): Promise<CustomerDoc> {
			const at = new Date().toISOString();
			const doc: CustomerDoc = {
				_id: newId(),
				name: fields.name,
				email: fields.email,
				phone: fields.phone ?? null,
				role: fields.role,
				blocked: false,
				passwordHash: await bcrypt.hash(fields.password, this.settings.admin.bcryptRounds),
				tokenVersion: 0,
				createdAt: at,
				updatedAt: at,
			};
			try {
				const inserted = await this.adapter.insert(doc);
				await this.entityChanged("created", this.toPublic(inserted), null);
				return inserted;
			} catch (err) {
				if (isDuplicateKeyError(err)) throw new ConflictError("Email is already registered", "EMAIL_TAKEN");
				throw err;
			}
		},

		/**
		 * One write; with `revoke`, the same write raises the token version.
		 * The caches are clean before it answers, so the next request with an
		 * earlier token is refused by any gateway; open sockets of earlier
		 * tokens close on the event (the gateways listen).
		 */
		async updateCustomer(this: CustomersThis, ctx: Context, id: string, changes: Partial<CustomerDoc>, revoke = false): Promise<CustomerDoc> {
			const doc = await this.adapter.updateById(id, { $set: { ...changes, updatedAt: new Date().toISOString() }, ...(revoke ? REVOKE : {}) });
			if (!doc) throw new NotFoundError("Customer", id);
			await this.entityChanged("updated", this.toPublic(doc), ctx);
			if (revoke) void ctx.emit("customer.tokensRevoked", { customerId: String(doc._id), version: doc.tokenVersion ?? 0 });
			return doc;
		},

		/**
		 * The first admin, from ADMIN_EMAIL / ADMIN_PASSWORD: created when no
		 * account has that email; an existing admin is left as it is; a customer
		 * who holds that email is never promoted (the node refuses to start).
		 */
		async ensureAdmin(this: CustomersThis): Promise<void> {
			const { email, password, generatedFile } = this.settings.admin;
			if (generatedFile) return this.ensureGeneratedAdmin(generatedFile);
			if (!email || !password) return;
			const existing = await this.adapter.findOne({ email });
			if (existing?.role === "customer") {
				throw new Error(`ADMIN_EMAIL ${email} is a customer's account: it is never made an admin. Choose another ADMIN_EMAIL, or promote nobody by leaving it unset.`);
			}
			if (existing) {
				const same = await bcrypt.compare(password, existing.passwordHash);
				if (same) this.logger.info(`Admin ${email} exists.`);
				else
					this.logger.warn(
						`Admin ${email} exists; ADMIN_PASSWORD differs from its password and is not applied (only a new admin gets it). Change the password through PATCH /api/customers/me.`,
					);
				return;
			}
			try {
				await this.insertCustomer({ name: "Administrator", email, password, role: "admin" });
				this.logger.info(`Admin ${email} created.`);
			} catch (err) {
				// Another customers node created it first.
				if (!(err instanceof ConflictError)) throw err;
			}
		},

		/**
		 * The embedded default given no ADMIN_*: when no admin exists, one with
		 * a generated password, written to the data directory (0600) before the
		 * admin is stored, so a crash between the two leaves no admin whose
		 * password nobody has (the next start makes another). Says where it is.
		 */
		async ensureGeneratedAdmin(this: CustomersThis, file: string): Promise<void> {
			const where = path.resolve(file);
			if (await this.adapter.findOne({ role: "admin" })) {
				if (readAdminFile(file)) this.logger.info(`The admin generated for this shop signs in with the email and password in ${where}.`);
				return;
			}
			const admin = generateAdmin();
			writeAdminFile(file, admin);
			try {
				await this.insertCustomer({ name: "Administrator", ...admin, role: "admin" });
			} catch (err) {
				if (!(err instanceof ConflictError)) throw err;
				fs.rmSync(file, { force: true });
				this.logger.warn(`No admin was created: a customer holds ${admin.email}. Set ADMIN_EMAIL and ADMIN_PASSWORD for the first admin.`);
				return;
			}
			this.logger.warn(
				`No ADMIN_EMAIL / ADMIN_PASSWORD: created the admin ${admin.email} with a generated password, in ${where} (readable by this user only). Sign in with it; npm run seed finds it there.`,
			);
		},
	},

	created(this: CustomersThis) {
		this.tokens = new Tokens(this.settings.auth);
		this.loginThrottle = new LoginThrottle(this.settings.loginThrottle, this.broker);
		this.dummyHash = bcrypt.hash("not-a-password", this.settings.admin.bcryptRounds);
	},

	async started(this: CustomersThis) {
		await this.ensureAdmin();
	},

	async stopped(this: CustomersThis) {
		await this.loginThrottle.close();
	},
});

export default CustomersService;
