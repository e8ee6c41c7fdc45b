import bcrypt from "bcryptjs";
import type { ServiceSchema } from "moleculer";
import DbMixin from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { signToken, type AuthUser } from "../lib/auth";
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError, isDuplicateKeyError } from "../lib/errors";
import { pageParams } from "../lib/pagination";
import type { Ctx, Customer } from "../lib/types";

const PUBLIC_FIELDS = ["id", "name", "email", "phone", "role", "blocked", "createdAt", "updatedAt"] as const;
const LOGIN_FAILED = "Invalid email or password";

const CustomersService: ServiceSchema = {
	name: "customers",
	mixins: [DbMixin("customers", [{ field: "email", unique: true }]), HealthMixin],

	settings: {
		bcryptRounds: Number(process.env.BCRYPT_ROUNDS) || 10,
		adminEmail: process.env.ADMIN_EMAIL,
		adminPassword: process.env.ADMIN_PASSWORD,
	},

	actions: {
		register: {
			params: {
				name: { type: "string", trim: true, min: 1, max: 100 },
				email: { type: "email", normalize: true, max: 254 },
				password: { type: "string", min: 8, max: 128 },
				phone: { type: "string", trim: true, min: 3, max: 30, optional: true },
			},
			async handler(ctx: Ctx<{ name: string; email: string; password: string; phone?: string }>) {
				const { name, email, password, phone } = ctx.params;
				const customer = await this.insertCustomer({ name, email, password, phone, role: "customer" });
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = "/api/customers/me";
				return { token: signToken(this.authUser(customer)), customer };
			},
		},

		login: {
			params: {
				email: { type: "email", normalize: true, max: 254 },
				password: { type: "string", min: 1, max: 128 },
			},
			async handler(ctx: Ctx<{ email: string; password: string }>) {
				const doc = await this.adapter.findOne({ email: ctx.params.email });
				// Compare against a dummy hash when the email is unknown, so both failures take as long.
				const ok = await bcrypt.compare(ctx.params.password, doc?.passwordHash ?? this.dummyHash);
				if (!doc || !ok) throw new UnauthorizedError(LOGIN_FAILED, "INVALID_CREDENTIALS");
				if (doc.blocked) throw new ForbiddenError("This account is blocked", "ACCOUNT_BLOCKED");
				const customer = this.toPublic(doc);
				return { token: signToken(this.authUser(customer)), customer };
			},
		},

		me: {
			async handler(ctx: Ctx) {
				return this.findCustomer(this.currentUserId(ctx));
			},
		},

		updateMe: {
			params: {
				name: { type: "string", trim: true, min: 1, max: 100, optional: true },
				password: { type: "string", min: 8, max: 128, optional: true },
			},
			async handler(ctx: Ctx<{ name?: string; password?: string }>) {
				const id = this.currentUserId(ctx);
				const changes: Record<string, unknown> = {};
				if (ctx.params.name !== undefined) changes.name = ctx.params.name;
				if (ctx.params.password !== undefined) changes.passwordHash = await bcrypt.hash(ctx.params.password, this.settings.bcryptRounds);
				return this.updateCustomer(ctx, id, changes);
			},
		},

		list: {
			params: { ...pageParams },
			async handler(ctx: Ctx<{ page: number; pageSize: number }>) {
				const { page, pageSize } = ctx.params;
				return this.findPage({}, "createdAt", page, pageSize);
			},
		},

		get: {
			cache: { keys: ["id"] },
			params: { id: { type: "string", min: 1, max: 64 } },
			async handler(ctx: Ctx<{ id: string }>) {
				return this.findCustomer(ctx.params.id);
			},
		},

		setBlocked: {
			params: {
				id: { type: "string", min: 1, max: 64 },
				blocked: { type: "boolean" },
			},
			async handler(ctx: Ctx<{ id: string; blocked: boolean }>) {
				return this.updateCustomer(ctx, ctx.params.id, { blocked: ctx.params.blocked });
			},
		},

		/** How many customers there are. Internal (the dashboard). */
		count: {
			visibility: "public",
			cache: true,
			async handler() {
				return { total: await this.adapter.count({ query: {} }) };
			},
		},

		/** Whether a customer may place orders now (exists and is not blocked). Internal. */
		canOrder: {
			visibility: "public",
			cache: { keys: ["id"] },
			retryPolicy: { enabled: true },
			params: { id: { type: "string", min: 1, max: 64 } },
			async handler(ctx: Ctx<{ id: string }>) {
				const doc = await this.adapter.findById(ctx.params.id);
				if (!doc) return { allowed: false, reason: "CUSTOMER_NOT_FOUND" };
				if (doc.blocked) return { allowed: false, reason: "ACCOUNT_BLOCKED" };
				return { allowed: true };
			},
		},
	},

	methods: {
		toPublic(doc: any): Customer {
			const entity = this.toEntity(doc);
			const out: Record<string, unknown> = {};
			for (const f of PUBLIC_FIELDS) out[f] = entity[f] ?? null;
			return out as unknown as Customer;
		},

		authUser(customer: Customer): AuthUser {
			return { id: customer.id, email: customer.email, role: customer.role };
		},

		currentUserId(ctx: Ctx): string {
			if (!ctx.meta.user) throw new UnauthorizedError();
			return ctx.meta.user.id;
		},

		async findCustomer(id: string): Promise<Customer> {
			const doc = await this.adapter.findById(id);
			if (!doc) throw new NotFoundError("Customer", id);
			return this.toPublic(doc);
		},

		async insertCustomer(fields: { name: string; email: string; password: string; phone?: string; role: string }): Promise<Customer> {
			const now = new Date().toISOString();
			const doc = {
				name: fields.name,
				email: fields.email,
				phone: fields.phone ?? null,
				role: fields.role,
				blocked: false,
				passwordHash: await bcrypt.hash(fields.password, this.settings.bcryptRounds),
				createdAt: now,
				updatedAt: now,
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

		async updateCustomer(ctx: Ctx, id: string, changes: Record<string, unknown>): Promise<Customer> {
			const doc = await this.adapter.updateById(id, { $set: { ...changes, updatedAt: new Date().toISOString() } });
			if (!doc) throw new NotFoundError("Customer", id);
			const customer = this.toPublic(doc);
			await this.entityChanged("updated", customer, ctx);
			return customer;
		},

		async ensureAdmin() {
			const { adminEmail, adminPassword } = this.settings;
			if (!adminEmail || !adminPassword) return;
			const email = String(adminEmail).trim().toLowerCase();
			const existing = await this.adapter.findOne({ email });
			if (existing) {
				if (existing.role !== "admin") await this.adapter.updateById(existing._id, { $set: { role: "admin" } });
				return;
			}
			try {
				await this.insertCustomer({ name: "Administrator", email, password: adminPassword, role: "admin" });
				this.logger.info(`Admin ${email} created.`);
			} catch (err) {
				// Another customers node created it first.
				if (!(err instanceof ConflictError)) throw err;
			}
		},
	},

	created() {
		this.dummyHash = bcrypt.hashSync("not-a-password", this.settings.bcryptRounds);
	},

	async started() {
		await this.ensureAdmin();
	},
};

export default CustomersService;
