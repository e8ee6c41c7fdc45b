import type { Customer } from "./types";

/** Who a request is: the roles there are, and what a verified token says. */
export const ROLES = ["customer", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** The customer a token was signed for: their id, email and role when it was signed. */
export interface AuthUser extends Pick<Customer, "id" | "email" | "role"> {
	/**
	 * The account's token version the token was signed with (claim `ver`; 0
	 * in tokens made before there were versions). A token is valid only while
	 * it is the account's current one: a block, a password or role change and
	 * a sign-out everywhere raise it (customers.tokenVersion).
	 */
	version: number;
	/** Milliseconds since the epoch when the token stops being valid. */
	expiresAt?: number;
}
