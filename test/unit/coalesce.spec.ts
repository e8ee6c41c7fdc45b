import { keptFor } from "../../lib/infra/coalesce";

/** A task whose runs end when the test says; each run answers its own index and records when it started. */
function controlledTask() {
	const runs: Array<{ startedAt: number; ended: boolean; alongside: number; end(err?: Error): void }> = [];
	let clock = 0;
	const task = () =>
		new Promise<number>((resolve, reject) => {
			const index = runs.length;
			const run = {
				startedAt: clock,
				ended: false,
				// How many earlier runs were still going when this one started.
				alongside: runs.filter(r => !r.ended).length,
				end: (err?: Error) => {
					run.ended = true;
					if (err) reject(err);
					else resolve(index);
				},
			};
			runs.push(run);
		});
	return { runs, task, tick: () => ++clock, now: () => clock };
}

describe("a result kept for a while (the gateway's health report)", () => {
	it("shares one run among the callers that come while it goes, answers from its result until it is ttl old, then runs again", async () => {
		const { runs, task } = controlledTask();
		let clock = 0;
		const report = keptFor(1000, task, () => clock);
		const during = [report(), report(), report()];
		expect(runs).toHaveLength(1);
		clock = 50;
		runs[0].end();
		expect(await Promise.all(during)).toEqual([0, 0, 0]);
		clock = 1049;
		expect(await report()).toBe(0);
		expect(runs).toHaveLength(1);
		clock = 1050;
		const next = report();
		expect(runs).toHaveLength(2);
		runs[1].end();
		expect(await next).toBe(1);
	});

	it("keeps no failure: the next caller runs the task again", async () => {
		const { runs, task } = controlledTask();
		const report = keptFor(1000, task, () => 0);
		const failing = report();
		runs[0].end(new Error("down"));
		await expect(failing).rejects.toThrow("down");
		const next = report();
		expect(runs).toHaveLength(2);
		runs[1].end();
		expect(await next).toBe(1);
	});
});
