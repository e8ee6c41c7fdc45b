import { GroupCommit } from "../../lib/db/group-commit";

/** A sync that the test finishes by hand, counting how many began. */
function manualSync() {
	const running: Array<{ finish(err?: Error): void }> = [];
	let began = 0;
	const sync = () =>
		new Promise<void>((resolve, reject) => {
			began++;
			running.push({ finish: err => (err ? reject(err) : resolve()) });
		});
	const turn = () => new Promise(resolve => setImmediate(resolve));
	return { sync, running, began: () => began, turn };
}

describe("group commit", () => {
	it("acknowledges every write of one turn with one sync that began after them", async () => {
		const s = manualSync();
		const commits = new GroupCommit(s.sync);
		const acked: number[] = [];
		const writes = [1, 2, 3].map(n => commits.afterWrite().then(() => acked.push(n)));
		expect(s.began()).toBe(0);
		await s.turn();
		expect(s.began()).toBe(1);
		expect(acked).toEqual([]);
		s.running[0].finish();
		await Promise.all(writes);
		expect(acked).toEqual([1, 2, 3]);
	});

	it("makes a write that arrives while a sync runs wait for the next sync, never the one that began before it", async () => {
		const s = manualSync();
		const commits = new GroupCommit(s.sync);
		let firstDone = false;
		let secondDone = false;
		const first = commits.afterWrite().then(() => (firstDone = true));
		await s.turn();
		const second = commits.afterWrite().then(() => (secondDone = true));
		const third = commits.afterWrite();
		await s.turn();
		expect(s.began()).toBe(1);
		s.running[0].finish();
		await first;
		expect([firstDone, secondDone]).toEqual([true, false]);
		await s.turn();
		expect(s.began()).toBe(2);
		s.running[1].finish();
		await Promise.all([second, third]);
		expect(secondDone).toBe(true);
	});

	it("rejects the writes of a failed sync with its error", async () => {
		const s = manualSync();
		const commits = new GroupCommit(s.sync);
		const writes = [commits.afterWrite(), commits.afterWrite()];
		await s.turn();
		s.running[0].finish(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
		for (const w of writes) await expect(w).rejects.toMatchObject({ code: "EIO" });
	});
});
