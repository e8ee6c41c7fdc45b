import fc from "fast-check";
import { coalesced, keptFor } from "../../lib/coalesce";

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

const settle = () => new Promise(resolve => setImmediate(resolve));

describe("coalesced runs (the cache clean of every write)", () => {
	it("answers each caller with a run that started after its call, and runs at most one more while one goes", async () => {
		const { runs, task } = controlledTask();
		const clean = coalesced(task);
		const first = clean();
		const waiting = [clean(), clean(), clean()];
		expect(runs).toHaveLength(1);
		runs[0].end();
		await expect(first).resolves.toBe(0);
		await settle();
		expect(runs).toHaveLength(2);
		runs[1].end();
		// All three wait for the run that started after them, and share it.
		expect(await Promise.all(waiting)).toEqual([1, 1, 1]);
		expect(runs).toHaveLength(2);
	});

	it("lets a caller that arrives between a run's end and the queued run's start join the queued run, not start one beside it", async () => {
		const { runs, task } = controlledTask();
		const clean = coalesced(task);
		const first = clean();
		const queued = clean();
		runs[0].end();
		await first; // the first run is over; the queued one has not started yet
		const late = clean();
		await settle();
		expect(runs).toHaveLength(2);
		runs[1].end();
		expect(await Promise.all([queued, late])).toEqual([1, 1]);
	});

	it("hands a failed run's error to its callers, and the next caller gets a run of its own", async () => {
		const { runs, task } = controlledTask();
		const clean = coalesced(task);
		const failing = clean();
		runs[0].end(new Error("Redis is away"));
		await expect(failing).rejects.toThrow("Redis is away");
		const next = clean();
		expect(runs).toHaveLength(2);
		runs[1].end();
		await expect(next).resolves.toBe(1);
	});

	it("whatever the interleaving of calls and run ends, each caller is answered by a run that started after its call, runs never overlap, and no more runs start than calls", async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(fc.constantFrom("call", "end", "fail"), { maxLength: 40 }), async steps => {
				const { runs, task, tick, now } = controlledTask();
				const clean = coalesced(task);
				const answers: Array<{ calledAt: number; run?: number; failed?: boolean }> = [];
				let ended = 0;
				// Every run is ended in the end: the steps, then enough ends for whatever is still going.
				for (const step of [...steps, ...Array<string>(2 * steps.length + 2).fill("end")]) {
					tick();
					if (step === "call") {
						const answer: { calledAt: number; run?: number; failed?: boolean } = { calledAt: now() };
						answers.push(answer);
						clean().then(
							run => (answer.run = run),
							() => (answer.failed = true),
						);
					} else if (ended < runs.length) runs[ended++].end(step === "fail" ? new Error("failed") : undefined);
					await settle();
				}
				expect(runs.length).toBeLessThanOrEqual(answers.length);
				expect(runs.filter(r => r.alongside > 0)).toEqual([]);
				for (const a of answers) {
					expect(a.run !== undefined || a.failed).toBe(true);
					if (a.run !== undefined) expect(runs[a.run].startedAt).toBeGreaterThanOrEqual(a.calledAt);
				}
			}),
		);
	});
});

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
