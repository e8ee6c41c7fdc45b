import crypto from "crypto";

/** Ids are strings in both stores, so a client's id never fails to cast. */
export function newId(): string {
	// randomUUID draws from a buffered pool; randomBytes per id cost ~3% of order placement.
	return crypto.randomUUID().replace(/-/g, "");
}
