import crypto from "crypto";
import { Errors } from "moleculer";
import type { DbAdapter, Doc } from "../../lib/db/adapter";
import { crashPoint } from "../../lib/infra/crash-points";
import { sha256 } from "./signing";

/**
 * Password reset tokens: 32 random bytes, mailed once; only their SHA-256
 * is stored, with the customer, an expiry and whether it was used. A token
 * is used up in one conditional write, so two uses race to one winner; a
 * new request ends the customer's earlier tokens. A request is answered
 * before its token is made (an unknown email's answer is as fast), so a
 * crash before its mail is queued leaves no usable token: the customer
 * asks again, as for a mail that never came.
 */

export interface ResetDoc extends Doc {
	customerId: string;
	expiresAt: number;
	usedAt: string | null;
	createdAt: string;
}

export class Resets {
	constructor(
		private readonly store: DbAdapter<ResetDoc>,
		private readonly ttlMs: number,
		private readonly now: () => number = Date.now,
	) {}

	/** A new token for the customer; earlier unused ones end. */
	async issue(customerId: string): Promise<string> {
		const token = crypto.randomBytes(32).toString("base64url");
		await this.store.removeMany({ customerId, usedAt: null });
		crashPoint("reset.after-end-earlier");
		await this.store.insert({ _id: sha256(token), customerId, expiresAt: this.now() + this.ttlMs, usedAt: null, createdAt: new Date(this.now()).toISOString() });
		return token;
	}

	/** The customer the token is for, using it up; null when it is unknown, used or expired. */
	async consume(token: string): Promise<string | null> {
		const doc = await this.store.updateOne({ _id: sha256(token), usedAt: null, expiresAt: { $gt: this.now() } }, { $set: { usedAt: new Date(this.now()).toISOString() } });
		return doc?.customerId ?? null;
	}

	/** A token used up by a reset that surely changed nothing (surelyNotApplied): usable again. */
	async restore(token: string): Promise<void> {
		await this.store.updateMany({ _id: sha256(token) }, { $set: { usedAt: null } });
	}

	/** Drops expired tokens. */
	prune(): Promise<number> {
		return this.store.removeMany({ expiresAt: { $lte: this.now() } });
	}
}

/**
 * A password change that failed having surely changed nothing: it never
 * reached customers (no node offered it), or customers refused it (a 4xx).
 * A timeout or a server error may follow a change that was made.
 */
export function surelyNotApplied(err: unknown): boolean {
	if (err instanceof Errors.ServiceNotFoundError || err instanceof Errors.ServiceNotAvailableError) return true;
	return err instanceof Errors.MoleculerClientError && !(err instanceof Errors.RequestTimeoutError);
}
