import type { Context } from "moleculer";
import DbMixin from "../mixins/db.mixin";
import HealthMixin from "../mixins/health.mixin";
import { ROLES, type AuthUser } from "../lib/contracts/auth";
import { Tokens } from "../lib/infra/auth";
import { LoginThrottle } from "../lib/infra/login-throttle";
import { ForbiddenError, UnauthorizedError } from "../lib/contracts/errors";
import { ID, PAGE_PARAMS, PASSWORD, PASSWORD_GIVEN } from "../lib/contracts/params";
import { settings } from "../lib/infra/settings";
import { type CanOrderAnswer, type Ctx, type Customer, defineService, state } from "../lib/contracts/types";
import { validationError } from "../lib/infra/validation";
import { Accounts, type CustomerDoc } from "./customers/accounts";
import { directoryQuery, type DirectoryParams } from "./customers/directory";
import { ensureAdmin } from "./customers/first-admin";

const PUBLIC_FIELDS = ["id", "name", "email", "phone", "role", "blocked", "createdAt", "updatedAt"] as const;
/** Nullable: `null` clears it. */
const PHONE = { type: "string", trim: true, min: 3, max: 30, nullable: true } as const;

/** A signed-in account: its token and what it is now. */
interface Session {
	token: string;
	customer: Customer;
}

/** Sign-in attempts per account: 10 per 15 minutes. */
const LOGIN_THROTTLE = { max: 10, windowMs: 15 * 60_000 };

const CustomersService = defineService({
	name: "customers",
	mixins: [DbMixin<CustomerDoc, Customer>({ collection: "customers", indexes: [{ field: "email", unique: true }], publicFields: PUBLIC_FIELDS }), HealthMixin],

	settings: {
		$secureSettings: ["admin", "auth", "loginThrottle"],
		admin: settings.admin,
		auth: settings.auth,
		loginThrottle: { ...LOGIN_THROTTLE, redisUrl: settings.gateway.redisUrl },
	},

	state: state<{ accounts: Accounts; tokens: Tokens; loginThrottle: LoginThrottle }>(),

	actions: {
		register: {
			params: {
				name: { type: "string", trim: true, min: 1, max: 100 },
				email: { type: "email", normalize: true, max: 254 },
				password: PASSWORD,
				phone: { ...PHONE, optional: true },
			},
			async handler(ctx: Ctx<{ name: string; email: string; password: string; phone?: string }>): Promise<Session> {
				const { name, email, password, phone } = ctx.params;
				const doc = await this.accounts.create({ name, email, password, phone, role: "customer" });
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
			async handler(ctx: Ctx<{ email: string; password: string }>): Promise<Session> {
				await this.loginThrottle.attempt(ctx.params.email);
				return this.session(await this.accounts.signIn(ctx.params.email, ctx.params.password));
			},
		},

		me: {
			async handler(ctx: Ctx): Promise<Customer> {
				return this.toPublic(await this.accounts.get(this.currentUserId(ctx)));
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
			async handler(ctx: Ctx<{ name?: string; password?: string; currentPassword?: string; phone?: string | null }>): Promise<Customer | Session> {
				const id = this.currentUserId(ctx);
				const { name, phone, password, currentPassword } = ctx.params;
				const changes: Partial<CustomerDoc> = {};
				if (name !== undefined) changes.name = name;
				if (phone !== undefined) changes.phone = phone;
				if (password === undefined) return this.toPublic(await this.updateCustomer(ctx, id, changes));
				if (currentPassword === undefined) {
					throw validationError([{ type: "required", field: "currentPassword", message: "The 'currentPassword' field is required to change the password." }]);
				}
				await this.assertPassword(await this.accounts.get(id), currentPassword);
				changes.passwordHash = await this.accounts.hashPassword(password);
				return this.session(await this.updateCustomer(ctx, id, changes, true));
			},
		},

		/** Every earlier token of the signed-in account ends (204). */
		logoutAll: {
			params: {},
			async handler(ctx: Ctx): Promise<null> {
				await this.updateCustomer(ctx, this.currentUserId(ctx), {}, true);
				ctx.meta.$statusCode = 204;
				return null;
			},
		},

		list: {
			params: {
				...PAGE_PARAMS,
				search: { type: "string", trim: true, max: 100, optional: true },
				role: { type: "enum", values: ROLES, optional: true },
			},
			handler(ctx: Ctx<{ page: number; pageSize: number } & DirectoryParams>) {
				return this.findPage(directoryQuery(ctx.params), "createdAt", ctx.params.page, ctx.params.pageSize);
			},
		},

		/** An admin creates another admin (201); a role sent is not read. */
		createAdmin: {
			params: {
				name: { type: "string", trim: true, min: 1, max: 100 },
				email: { type: "email", normalize: true, max: 254 },
				password: PASSWORD,
			},
			async handler(ctx: Ctx<{ name: string; email: string; password: string }>): Promise<Customer> {
				const doc = await this.accounts.create({ ...ctx.params, role: "admin" });
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/customers/${doc._id}`;
				return this.toPublic(doc);
			},
		},

		get: {
			cache: { keys: ["id"] },
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>): Promise<Customer> {
				return this.toPublic(await this.accounts.get(ctx.params.id));
			},
		},

		/** An admin blocks or unblocks an account, and may change its role: a block or a new role ends its earlier tokens. */
		setAccess: {
			params: {
				id: ID,
				blocked: { type: "boolean" },
				role: { type: "enum", values: ROLES, optional: true },
			},
			async handler(ctx: Ctx<{ id: string; blocked: boolean; role?: Customer["role"] }>): Promise<Customer> {
				const { id, blocked, role } = ctx.params;
				const current = await this.accounts.get(id);
				const newRole = role !== undefined && role !== current.role;
				const changes: Partial<CustomerDoc> = newRole ? { blocked, role } : { blocked };
				return this.toPublic(await this.updateCustomer(ctx, id, changes, blocked || newRole));
			},
		},

		/** How many customers there are, admins not counted. Internal (the dashboard). */
		count: {
			visibility: "public",
			cache: { keys: [] },
			async handler(): Promise<{ total: number }> {
				return { total: await this.accounts.countCustomers() };
			},
		},

		/**
		 * The token version an account's tokens must carry to be valid now;
		 * none (null) for an unknown or blocked account. Internal: every
		 * door of the gateway asks it of each signed-in request.
		 */
		tokenVersion: {
			visibility: "public",
			// Each gateway keeps the answer itself, checked against this service's version, which every write renews before it answers (services/api/auth.ts).
			cache: { keys: ["id"] },
			retryPolicy: { enabled: true },
			params: { id: ID },
			async handler(ctx: Ctx<{ id: string }>): Promise<{ version: number | null }> {
				return { version: await this.accounts.tokenVersion(ctx.params.id) };
			},
		},

		/** Who a password reset for this email goes to: an account that is not blocked, or null. Internal (notifications). */
		resetTarget: {
			visibility: "public",
			params: { email: { type: "email", normalize: true, max: 254 } },
			async handler(ctx: Ctx<{ email: string }>): Promise<{ id: string; name: string; email: string } | null> {
				const doc = await this.accounts.findByEmail(ctx.params.email);
				return doc && !doc.blocked ? { id: String(doc._id), name: doc.name, email: doc.email } : null;
			},
		},

		/** The new password of a reset that notifications verified (its token used up): every earlier token of the account ends. Internal. */
		setPasswordByReset: {
			visibility: "public",
			params: { id: ID, password: PASSWORD },
			async handler(ctx: Ctx<{ id: string; password: string }>): Promise<null> {
				await this.updateCustomer(ctx, ctx.params.id, { passwordHash: await this.accounts.hashPassword(ctx.params.password) }, true);
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
			handler(ctx: Ctx<{ id: string }>): Promise<CanOrderAnswer> {
				return this.accounts.canOrder(ctx.params.id);
			},
		},
	},

	methods: {
		/** A token of the account as it is now, and the account. */
		session(doc: CustomerDoc): Session {
			const customer = this.toPublic(doc);
			const user: AuthUser = { id: customer.id, email: customer.email, role: customer.role, version: doc.tokenVersion ?? 0 };
			return { token: this.tokens.sign(user), customer };
		},

		/** The account's password, or 403; an attempt counts against the account's sign-in budget (a stolen token cannot guess it faster). */
		async assertPassword(doc: CustomerDoc, password: string): Promise<void> {
			await this.loginThrottle.attempt(doc.email);
			if (!(await this.accounts.isPassword(doc, password))) throw new ForbiddenError("The current password is wrong", "WRONG_PASSWORD");
		},

		currentUserId(ctx: Ctx): string {
			if (!ctx.meta.user) throw new UnauthorizedError();
			return ctx.meta.user.id;
		},

		/**
		 * One write; with `revoke`, the same write raises the token version.
		 * The caches are clean before it answers, so the next request with an
		 * earlier token is refused by any gateway; open sockets of earlier
		 * tokens close on the event (the gateways listen).
		 */
		async updateCustomer(ctx: Context, id: string, changes: Partial<CustomerDoc>, revoke = false): Promise<CustomerDoc> {
			const doc = await this.accounts.update(id, changes, revoke);
			await this.entityChanged("updated", this.toPublic(doc), ctx);
			if (revoke) void ctx.emit("customer.tokensRevoked", { customerId: String(doc._id), version: doc.tokenVersion ?? 0 });
			return doc;
		},
	},

	created() {
		this.accounts = new Accounts(this.adapter, this.settings.admin.bcryptRounds, doc => this.entityChanged("created", this.toPublic(doc), null));
		this.tokens = new Tokens(this.settings.auth);
		this.loginThrottle = new LoginThrottle("sign-in", this.settings.loginThrottle, this.broker);
	},

	async started() {
		await ensureAdmin(this.accounts, this.settings.admin, this.logger);
	},

	async stopped() {
		await this.loginThrottle.close();
	},
});

export default CustomersService;
