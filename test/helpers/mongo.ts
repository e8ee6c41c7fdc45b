import crypto from "crypto";

/**
 * `npm run test:mongo` (bin/test-mongo.ts): the integration suites' nodes
 * store in the MongoDB of TEST_MONGO_URI instead of NeDB files, each node
 * (each data directory) in a database of its own, so that suites and
 * restarts behave as on NeDB. Unset: NeDB, as always.
 */
export function testMongoUri(key: string, base = process.env.TEST_MONGO_URI): string | undefined {
	if (!base) return undefined;
	const url = new URL(base);
	// A database name: at most 63 bytes, none of /\. "$; one per key, the same for the same key (a restarted node finds its data).
	url.pathname = `/shoptest_${crypto.createHash("sha256").update(key).digest("hex").slice(0, 24)}`;
	return url.toString();
}

/** The environment a node started by a test gets for its store. */
export function testStoreEnv(key: string): Record<string, string> {
	const uri = testMongoUri(key);
	return uri ? { MONGO_URI: uri } : {};
}
