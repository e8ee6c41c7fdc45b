import type { CrashPoint } from "../../lib/infra/crash-points";

/** The crash points of `npm run restore`: test/integration/backup.spec.ts has a test for each. */
export const RESTORE_CRASH_POINTS = ["restore.after-aside", "restore.after-first-file"] as const satisfies readonly CrashPoint[];

export type RestoreCrashPoint = (typeof RESTORE_CRASH_POINTS)[number];
