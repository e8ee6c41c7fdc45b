import bcrypt from "bcryptjs";
import { isDuplicateKeyError, type DbAdapter, type Doc } from "../../lib/db/adapter";
import { newId } from "../../lib/db/ids";
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from "../../lib/contracts/errors";
import { ORDER_REFUSAL, type CanOrderAnswer, type Customer } from "../../lib/contracts/types";

export interface CustomerDoc extends Doc {
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

export interface NewCustomer {
	name: string;
	email: string;
	password: string;
	phone?: string;
	role: Customer["role"];
}

const LOGIN_FAILED = "Invalid email or password";

/** What may be done to an account that ends its earlier tokens: one atomic write, raising its version. */
const REVOKE = { $inc: { tokenVersion: 1 } } as const;

/**
 * The accounts: passwords stored as bcrypt hashes only, one write per
 * change, and a token version that a block, a new password or role, or a
 * sign-out everywhere raises in that same write.
 */
export class Accounts {
	/** Hashed in bcryptjs's asynchronous chunks, so a start does not wait ~70 ms (10 rounds) for it; awaited by a sign-in of an unknown email. */
	private readonly dummyHash: Promise<string>;

	constructor(
		private readonly store: DbAdapter<CustomerDoc>,
		private readonly bcryptRounds: number,
		/** After an account is stored: the service clears its caches and tells the others. */
		private readonly created: (doc: CustomerDoc) => Promise<void>,
	) {
		this.dummyHash = bcrypt.hash("not-a-password", bcryptRounds);
	}

	hashPassword(password: string): Promise<string> {
		return bcrypt.hash(password, this.bcryptRounds);
	}

	async get(id: string): Promise<CustomerDoc> {
		const doc = await this.store.findById(id);
		if (!doc) throw new NotFoundError("Customer", id);
		return doc;
	}

	findByEmail(email: string): Promise<CustomerDoc | null> {
		return this.store.findOne({ email });
	}

	/** The account these credentials open; an unknown email takes as long as a wrong password (both compare a hash). */
	async signIn(email: string, password: string): Promise<CustomerDoc> {
		const doc = await this.store.findOne({ email });
		const ok = await bcrypt.compare(password, doc?.passwordHash ?? (await this.dummyHash));
		if (!doc || !ok) throw new UnauthorizedError(LOGIN_FAILED, "INVALID_CREDENTIALS");
		if (doc.blocked) throw new ForbiddenError("This account is blocked", ORDER_REFUSAL.accountBlocked);
		return doc;
	}

	isPassword(doc: CustomerDoc, password: string): Promise<boolean> {
		return bcrypt.compare(password, doc.passwordHash);
	}

	/** A new account; 409 EMAIL_TAKEN when the email has one. */
	async create(fields: NewCustomer): Promise<CustomerDoc> {
		const at = new Date().toISOString();
		const doc: CustomerDoc = {
			_id: newId(),
			name: fields.name,
			email: fields.email,
			phone: fields.phone ?? null,
			role: fields.role,
			blocked: false,
			passwordHash: await this.hashPassword(fields.password),
			tokenVersion: 0,
			createdAt: at,
			updatedAt: at,
		};
		let inserted: CustomerDoc;
		try {
			inserted = await this.store.insert(doc);
		} catch (err) {
			if (isDuplicateKeyError(err)) throw new ConflictError("Email is already registered", "EMAIL_TAKEN");
			throw err;
		}
		await this.created(inserted);
		return inserted;
	}

	/** One write; with `revoke`, the same write raises the token version. */
	async update(id: string, changes: Partial<CustomerDoc>, revoke = false): Promise<CustomerDoc> {
		const doc = await this.store.updateById(id, { $set: { ...changes, updatedAt: new Date().toISOString() }, ...(revoke ? REVOKE : {}) });
		if (!doc) throw new NotFoundError("Customer", id);
		return doc;
	}

	/** The version an account's tokens must carry to be valid now; null for an unknown or blocked account. */
	async tokenVersion(id: string): Promise<number | null> {
		const doc = await this.store.findById(id);
		return doc && !doc.blocked ? (doc.tokenVersion ?? 0) : null;
	}

	/** Whether a customer may place orders now: exists and is not blocked. */
	async canOrder(id: string): Promise<CanOrderAnswer> {
		const doc = await this.store.findById(id);
		if (!doc) return { allowed: false, reason: ORDER_REFUSAL.customerNotFound };
		if (doc.blocked) return { allowed: false, reason: ORDER_REFUSAL.accountBlocked };
		return { allowed: true };
	}

	/** Every account, admins included. */
	count(): Promise<number> {
		return this.store.count({ query: {} });
	}

	/** Customers only: admins run the shop, they are not its customers. */
	countCustomers(): Promise<number> {
		return this.store.count({ query: { role: "customer" } });
	}

	hasAdmin(): Promise<boolean> {
		return this.store.findOne({ role: "admin" }).then(doc => doc !== null);
	}
}
