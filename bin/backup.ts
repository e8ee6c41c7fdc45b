/**
 * `npm run backup [dest]`: a consistent copy of DATA_DIR (the embedded
 * default's NeDB files), taken while its node runs (lib/db/backup.ts), in
 * `dest` (default backups/data-<time>). `npm run restore <dest>` brings it back.
 */
import path from "path";
import { loadDotEnv } from "./lib/processes";
import { backupDataDir } from "./lib/data-dir-backup";
import { DEFAULT_DATA_DIR } from "../lib/infra/env-defaults";

loadDotEnv();
const dataDir = process.env.DATA_DIR || DEFAULT_DATA_DIR;
const dest = process.argv[2] ?? path.join("backups", `data-${new Date().toISOString().replace(/[:.]/g, "-")}`);

backupDataDir(dataDir, dest).then(
	manifest => console.log(`backup of ${dataDir} in ${path.resolve(dest)}: ${manifest.files.length} files, ${manifest.files.reduce((n, f) => n + f.bytes, 0)} bytes, taken ${manifest.takenAt}`),
	(err: Error) => {
		console.error(`backup failed: ${err.message}`);
		process.exit(1);
	},
);
