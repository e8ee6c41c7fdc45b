import { MemoryCacheVersions, WriteHolds } from "../../lib/infra/cache-versions";
import { waitFor } from "../helpers/broker";

/** Versions in memory that can be made unreachable, as Redis can. */
class CuttableVersions extends MemoryCacheVersions {
	cut = false;
	begins = 0;
	begin(service: string, holder: string, leaseMs: number): Promise<void> {
		if (this.cut) return Promise.reject(new Error("cut"));
		this.begins++;
		return super.begin(service, holder, leaseMs);
	}
	end(service: string, holder: string): Promise<void> {
		return this.cut ? Promise.reject(new Error("cut")) : super.end(service, holder);
	}
}

describe("write leases (lib/infra/cache-versions.ts)", () => {
	const setup = () => {
		const versions = new CuttableVersions();
		const failedEnds: string[] = [];
		return { versions, failedEnds, holds: new WriteHolds(versions, "node", service => failedEnds.push(service)) };
	};

	it("a write that cannot take its lease is refused before it commits", async () => {
		const { versions, holds } = setup();
		versions.cut = true;
		let committed = false;
		await expect(holds.write("products", async () => void (committed = true))).rejects.toThrow("cut");
		expect(committed).toBe(false);
	});

	it("a second write of an action is never refused once its first committed, with the cache gone between them", async () => {
		const { versions, holds } = setup();
		const commits: string[] = [];
		await holds.during("products", async () => {
			await holds.write("products", async () => void commits.push("stock"));
			versions.cut = true;
			await holds.write("products", async () => void commits.push("alert"));
		});
		expect(commits).toEqual(["stock", "alert"]);
	});

	it("readers store nothing while a write holds its lease, and the version changes before the write commits", async () => {
		const { versions, holds } = setup();
		const before = await versions.read("products");
		expect(before.writing).toBe(false);
		let during: unknown;
		await holds.write("products", async () => void (during = await versions.read("products")));
		expect(during).toEqual({ version: expect.any(String), writing: true });
		expect((during as { version: string }).version).not.toBe(before.version);
		await new Promise(resolve => setImmediate(resolve));
		expect((await versions.read("products")).writing).toBe(false);
	});

	it("concurrent writes share one lease", async () => {
		const { versions, holds } = setup();
		await Promise.all(Array.from({ length: 10 }, () => holds.write("products", () => new Promise(resolve => setImmediate(resolve)))));
		expect(versions.begins).toBe(1);
	});

	it("a lease that cannot be ended is left to run out, and says so", async () => {
		const { versions, holds, failedEnds } = setup();
		await holds.during("products", async () => {
			await holds.write("products", async () => undefined);
			versions.cut = true;
		});
		await waitFor(() => failedEnds.length > 0, 5000, "the end to be given up");
		expect(failedEnds).toEqual(["products"]);
		expect((await versions.read("products")).writing).toBe(true);
	});
});
