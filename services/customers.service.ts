import fs from "fs";
import path from "path";
import bcrypt from "bcryptjs";
import type { Context } from "moleculer";
import DbMixin, { type DbMethods, type DbSettings } from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { Tokens, type AuthUser } from "../lib/auth";
import { isDuplicateKeyError, type Doc } from "../lib/db/adapter";
import { newId } from "../lib/db/ids";
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from "../lib/errors";
import { generateAdmin, readAdminFile, writeAdminFile } from "../lib/generated-admin";
import { ID, PAGE_PARAMS, PASSWORD, PASSWORD_GIVEN } from "../lib/params";
import { settings, type AdminSettings, type AuthSettings } from "../lib/settings";
import { type Ctx, type Customer, type SecureSettings, type ServiceBase, defineService } from "../lib/types";

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
	createdAt: string;
	updatedAt: string;
}

interface CustomersSettings extends DbSettings, SecureSettings {
	admin: AdminSettings;
	auth: AuthSettings;
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
	/** Hashed in bcryptjs's asynchronous chunks, so the start does not wait ~70 ms (10 rounds) for it; awaited by a login of an unknown email. */
	dummyHash: Promise<string>;
	authUser(customer: Customer): AuthUser;
	currentUserId(ctx: Ctx): string;
	findCustomer(id: string): Promise<Customer>;
	insertCustomer(fields: NewCustomer): Promise<Customer>;
	updateCustomer(ctx: Context, id: string, changes: Partial<CustomerDoc>): Promise<Customer>;
	ensureAdmin(): Promise<void>;
	ensureGeneratedAdmin(file: string): Promise<void>;
}

const CustomersService = defineService<CustomersSettings, CustomersThis>({
	name: "customers",
	mixins: [DbMixin<CustomerDoc, Customer>({ collection: "customers", indexes: [{ field: "email", unique: true }], publicFields: PUBLIC_FIELDS }), HealthMixin],

	settings: {
		$secureSettings: ["admin", "auth"],
		admin: settings.admin,
		auth: settings.auth,
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
				const customer = await this.insertCustomer({ name, email, password, phone, role: "customer" });
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = "/api/customers/me";
				return { token: this.tokens.sign(this.authUser(customer)), customer };
			},
		},

		login: {
			params: {
				email: { type: "email", normalize: true, max: 254 },
				password: PASSWORD_GIVEN,
			},
			async handler(this: CustomersThis, ctx: Ctx<{ email: string; password: string }>) {
				const doc = await this.adapter.findOne({ email: ctx.params.email });
				// Compare against a dummy hash when the email is unknown, so both failures take as long.
				const ok = await bcrypt.compare(ctx.params.password, doc?.passwordHash ?? (await this.dummyHash));
				if (!doc || !ok) throw new UnauthorizedError(LOGIN_FAILED, "INVALID_CREDENTIALS");
				if (doc.blocked) throw new ForbiddenError("This account is blocked", "ACCOUNT_BLOCKED");
				const customer = this.toPublic(doc);
				return { token: this.tokens.sign(this.authUser(customer)), customer };
			},
		},

		me: {
			handler(this: CustomersThis, ctx: Ctx): Promise<Customer> {
				return this.findCustomer(this.currentUserId(ctx));
			},
		},

		updateMe: {
			params: {
				name: { type: "string", trim: true, min: 1, max: 100, optional: true },
				password: { ...PASSWORD, optional: true },
				phone: { ...PHONE, optional: true },
			},
			async handler(this: CustomersThis, ctx: Ctx<{ name?: string; password?: string; phone?: string | null }>): Promise<Customer> {
				const id = this.currentUserId(ctx);
				const changes: Partial<CustomerDoc> = {};
				if (ctx.params.name !== undefined) changes.name = ctx.params.name;
				if (ctx.params.phone !== undefined) changes.phone = ctx.params.phone;
				if (ctx.params.password !== undefined) changes.passwordHash = await bcrypt.hash(ctx.params.password, this.settings.admin.bcryptRounds);
				return this.updateCustomer(ctx, id, changes);
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

		setBlocked: {
			params: {
				id: ID,
				blocked: { type: "boolean" },
			},
			async handler(this: CustomersThis, ctx: Ctx<{ id: string; blocked: boolean }>): Promise<Customer> {
				const customer = await this.updateCustomer(ctx, ctx.params.id, { blocked: ctx.params.blocked });
				// Open sockets of a blocked customer close (the gateway listens).
				if (customer.blocked) void ctx.emit("customer.blocked", { customerId: customer.id });
				return customer;
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

		/** Whether a customer may place orders now (exists and is not blocked). Internal. */
		canOrder: {
			visibility: "public",
			// `near`: the orders nodes and gateways that ask it on every order keep the answer too, checked against this service's tag (middlewares/near-cache.ts).
			cache: { keys: ["id"], near: true },
			retryPolicy: { enabled: true },
			params: { id: ID },
			async handler(this: CustomersThis, ctx: Ctx<{ id: string }>): Promise<{ allowed: boolean; reason?: string }> {
				const doc = await this.adapter.findById(ctx.params.id);
				if (!doc) return { allowed: false, reason: "CUSTOMER_NOT_FOUND" };
				if (doc.blocked) return { allowed: false, reason: "ACCOUNT_BLOCKED" };
				return { allowed: true };
			},
		},
	},

	methods: {
		authUser(customer: Customer): AuthUser {
			return { id: customer.id, email: customer.email, role: customer.role };
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

		async insertCustomer(this: CustomersThis, fields: NewCustomer): Promise<Customer> {
			const at = new Date().toISOString();
			const doc: CustomerDoc = {
				_id: newId(),
				name: fields.name,
				email: fields.email,
				phone: fields.phone ?? null,
				role: fields.role,
				blocked: false,
				passwordHash: await bcrypt.hash(fields.password, this.settings.admin.bcryptRounds),
				createdAt: at,
				updatedAt: at,
			};
			try {
				const customer = this.toPublic(await this.adapter.insert(doc));
				await this.entityChanged("created", customer, null);
				return customer;
			} catch (err) {
				if (isDuplicateKeyError(err)) throw new ConflictError("Email is already registered", "EMAIL_TAKEN");
				throw err;
			}
		},

		async updateCustomer(this: CustomersThis, ctx: Context, id: string, changes: Partial<CustomerDoc>): Promise<Customer> {
			const doc = await this.adapter.updateById(id, { $set: { ...changes, updatedAt: new Date().toISOString() } });
			if (!doc) throw new NotFoundError("Customer", id);
			const customer = this.toPublic(doc);
			await this.entityChanged("updated", customer, ctx);
			return customer;
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
		this.dummyHash = bcrypt.hash("not-a-password", this.settings.admin.bcryptRounds);
	},

	async started(this: CustomersThis) {
		await this.ensureAdmin();
	},
});

export default CustomersService;
