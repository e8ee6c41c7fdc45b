/**
 * `npm run restore <backup>`: DATA_DIR made what a backup of `npm run
 * backup` holds. The node on DATA_DIR must be stopped; what DATA_DIR held is
 * moved aside into DATA_DIR/replaced-<time>/.
 */
import path from "path";
import { loadDotEnv } from "./lib/processes";
import { restoreDataDir } from "./lib/data-dir-backup";
import { DEFAULT_DATA_DIR } from "../lib/infra/env-defaults";

loadDotEnv();
const dataDir = process.env.DATA_DIR || DEFAULT_DATA_DIR;
const backup = process.argv[2];
if (!backup) {
	console.error("usage: npm run restore <backup directory>");
	process.exit(2);
}
try {
	const { aside } = restoreDataDir(backup, dataDir);
	console.log(`restored ${path.resolve(backup)} into ${dataDir}${aside ? `; what was there is in ${aside}` : ""}`);
} catch (err) {
	console.error(`restore failed: ${(err as Error).message}`);
	process.exit(1);
}
