import { spawn, type ChildProcess } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import readline from "readline";
import { DataDirInUseError, lockDataDir, lockHolder, releaseDataDir } from "../../lib/db/data-dir-lock";

const RACER = path.resolve(__dirname, "../helpers/lock-racer.ts");

/** A process racing for the lock of `dir` (test/helpers/lock-racer.ts): each command answers one line. */
class Racer {
	private readonly child: ChildProcess;
	private readonly lines: string[] = [];
	private waiting?: () => void;
	private stderr = "";

	constructor(dir: string) {
		this.child = spawn(process.execPath, ["--import", "tsx", RACER, dir], { stdio: ["pipe", "pipe", "pipe"] });
		readline.createInterface({ input: this.child.stdout! }).on("line", line => {
			this.lines.push(line);
			this.waiting?.();
		});
		this.child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
		this.child.once("exit", () => this.waiting?.());
	}

	async next(): Promise<string> {
		while (!this.lines.length) {
			if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`A racer exited: ${this.stderr}`);
			await new Promise<void>(resolve => (this.waiting = resolve));
		}
		return this.lines.shift()!;
	}

	send(command: string): Promise<string> {
		this.child.stdin!.write(`${command}\n`);
		return this.next();
	}

	async stop(): Promise<void> {
		if (this.child.exitCode !== null || this.child.signalCode !== null) return;
		const exited = new Promise(resolve => this.child.once("exit", resolve));
		this.child.kill("SIGKILL");
		await exited;
	}
}

describe("the data directory's lock (one process per DATA_DIR)", () => {
	let dir: string;
	beforeEach(() => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), "data-dir-lock-"));
	});
	afterEach(() => {
		releaseDataDir(dir);
		fs.rmSync(dir, { recursive: true, force: true });
	});

	it("is taken by exactly one of two processes starting together, free or left by a dead process", async () => {
		const racers = [new Racer(dir), new Racer(dir)];
		try {
			expect(await Promise.all(racers.map(r => r.next()))).toEqual(["ready", "ready"]);
			const winners: number[] = [];
			for (let round = 0; round < 60; round++) {
				// Both wake at the same instant, a little ahead, and try.
				const at = performance.timeOrigin + performance.now() + 20;
				const answers = await Promise.all(racers.map(r => r.send(`try ${at}`)));
				winners.push(answers.filter(a => a === "won").length);
				// The winner lets go, on odd rounds as a crashed node: the next round races for a stale lock.
				const winner = racers[answers.indexOf("won")];
				if (winner) await winner.send(round % 2 ? "die" : "release");
			}
			expect(winners).toEqual(Array(60).fill(1));
		} finally {
			await Promise.all(racers.map(r => r.stop()));
		}
	});

	it("refuses a directory a live process holds, naming it, and takes over one a dead process left", () => {
		fs.writeFileSync(path.join(dir, ".lock"), String(process.ppid));
		expect(lockHolder(dir)).toBe(process.ppid);
		expect(() => lockDataDir(dir)).toThrow(DataDirInUseError);
		expect(() => lockDataDir(dir)).toThrow(`in use by another node (pid ${process.ppid})`);

		fs.writeFileSync(path.join(dir, ".lock"), "999999999");
		expect(lockHolder(dir)).toBeUndefined();
		lockDataDir(dir);
		// Held by this process: another process would be refused.
		expect(JSON.parse(fs.readFileSync(path.join(dir, ".lock"), "utf8"))).toMatchObject({ pid: process.pid });
		expect(fs.readdirSync(dir)).toEqual([".lock"]);
		releaseDataDir(dir);
		expect(fs.readdirSync(dir)).toEqual([]);
	});
});
