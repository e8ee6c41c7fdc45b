import type { CrashPoint } from "../../lib/infra/crash-points";

/** The crash points of `npm run restore`: test/integration/backup.spec.ts has a test for each. */
export const RESTORE_CRASH_POINTS = ["restore.after-aside", "restore.after-first-file"] as const satisfies readonly CrashPoint[];

/** The crash point of a store's migrations: test/unit/store-formats.spec.ts has its test. */
export const FORMAT_CRASH_POINTS = ["format.after-migration"] as const satisfies readonly CrashPoint[];

export type StoreCrashPoint = (typeof RESTORE_CRASH_POINTS)[number] | (typeof FORMAT_CRASH_POINTS)[number];
