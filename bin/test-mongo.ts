/**
 * `npm run test:mongo`: the integration suites against the MongoDB of
 * MONGO_URI (a replica set: writes use w: majority with the journal), for
 * anyone who has one; this project's CI machine has none. Each node a suite
 * starts stores in a database of its own there (test/helpers/mongo.ts). The
 * suites about the embedded store's files (power cut, backup) and the
 * compose file are left out; the seed's suite too (it tests data
 * directories).
 */
import { spawnSync } from "child_process";
import path from "path";

const NEDB_ONLY = ["power-cut", "backup", "compose", "seed"];

const uri = process.env.MONGO_URI;
if (!uri || !/^mongodb(\+srv)?:\/\//.test(uri)) {
	console.error(
		"npm run test:mongo runs the integration suites against a MongoDB: set MONGO_URI, e.g. MONGO_URI='mongodb://user:password@127.0.0.1:27017/?replicaSet=rs0&authSource=admin' (a user who may create databases; each test node gets its own shoptest_* database)",
	);
	process.exit(2);
}
const root = path.resolve(__dirname, "../..");
const jest = require.resolve("jest/bin/jest", { paths: [root] });
const args = [jest, "--runInBand", "test/integration", "--testPathIgnorePatterns", ...NEDB_ONLY.map(name => `/test/integration/${name}\\.spec\\.ts$`), ...process.argv.slice(2)];
// The suites' own processes get a database each; MONGO_URI itself would put every in-process test broker in one.
const env = { ...process.env, TEST_MONGO_URI: uri, MONGO_URI: "" };
const res = spawnSync(process.execPath, args, { cwd: root, env, stdio: "inherit" });
process.exit(res.status ?? 1);
