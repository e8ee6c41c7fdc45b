/**
 * One of several processes racing for a data directory's lock
 * (test/unit/data-dir-lock.spec.ts): `node --import tsx lock-racer.ts <dir>`.
 * It answers each line of stdin with one line:
 * - `try <time>`: waits for that instant (so the racers wake together), tries the lock: `won` or `refused`;
 * - `release`: lets go of it: `released`;
 * - `die`: lets go of it as a process that died holding it would (the lock
 *   stays, naming a pid no process has): `died`.
 */
import fs from "fs";
import path from "path";
import readline from "readline";
import { lockDataDir, releaseDataDir } from "../../lib/db/data-dir-lock";

const dir = process.argv[2];
/** Above any pid_max: no process has it. */
const DEAD_PID = "999999999";

const clock = () => performance.timeOrigin + performance.now();

function attempt(at: number): string {
	while (clock() < at);
	try {
		lockDataDir(dir);
		return "won";
	} catch (err) {
		if ((err as Error).name !== "DataDirInUseError") throw err;
		return "refused";
	}
}

readline.createInterface({ input: process.stdin }).on("line", line => {
	const [command, at] = line.split(" ");
	if (command === "try") return console.log(attempt(Number(at)));
	releaseDataDir(dir);
	if (command === "die") fs.writeFileSync(path.join(dir, ".lock"), DEAD_PID);
	console.log(command === "die" ? "died" : "released");
});
console.log("ready");
