import { spawn } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import { lockDataDir, releaseDataDir } from "../../lib/db/data-dir-lock";
import { freePort } from "../helpers/cluster";
import { HttpClient } from "../helpers/http";
import { RESTORE_CRASH_POINTS } from "../helpers/store-crash-points";
import { startShopProcess, type ShopProcess } from "../helpers/shop-process";

/**
 * `npm run backup` copies the embedded default's DATA_DIR while its node
 * runs and takes orders; `npm run restore` brings that copy back. The copy
 * is of one instant of every datafile: what the node answered before the
 * backup began is in it, what it answered after the backup ended is not,
 * and the stock invariant holds on what comes back.
 */

const ROOT = path.resolve(__dirname, "../..");
const ADMIN = { email: "admin@backup.test", password: "admin-password" };
const ENV = { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, BCRYPT_ROUNDS: "4", JWT_SECRET: "backup-test-secret-0123456789" };
const HOLDING = ["pending", "confirmed", "shipped", "delivered"];

interface Order {
	id: string;
	status: string;
	items: Array<{ productId: string; quantity: number }>;
}

/** Runs one of the project's scripts (dist/bin/<name>.js) as npm would, on DATA_DIR. */
function runScript(name: string, args: string[], dataDir: string, env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
	const proc = spawn(process.execPath, [path.join(ROOT, `dist/bin/${name}.js`), ...args], {
		cwd: ROOT,
		env: { PATH: process.env.PATH, DATA_DIR: dataDir, ...env },
		stdio: ["ignore", "pipe", "pipe"],
	});
	let output = "";
	proc.stdout.on("data", (c: Buffer) => (output += c.toString()));
	proc.stderr.on("data", (c: Buffer) => (output += c.toString()));
	return new Promise(resolve => proc.once("exit", code => resolve({ code, output })));
}

async function allOrders(http: HttpClient, token: string): Promise<Order[]> {
	const out: Order[] = [];
	for (let page = 1; ; page++) {
		const body = (await http.get(`/orders?page=${page}&pageSize=100`, token)).body as { rows: Order[]; totalPages: number };
		out.push(...body.rows);
		if (page >= body.totalPages) return out;
	}
}

describe("backup and restore of the embedded default", () => {
	let base: string;
	let dataDir: string;
	let shop: ShopProcess | undefined;
	beforeAll(() => {
		base = fs.mkdtempSync(path.join(os.tmpdir(), "backup-it-"));
		dataDir = path.join(base, "data");
	});
	afterEach(async () => {
		await shop?.stop();
		shop = undefined;
	});
	afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

	it("copies DATA_DIR while the node takes orders, and a restore brings back exactly what the copy holds, the stock invariant holding", async () => {
		const port = await freePort();
		shop = await startShopProcess({ port, dataDir, env: ENV });
		const http = new HttpClient(`${shop.url}/api`);
		const admin = (await http.post("/auth/login", ADMIN)).body.token as string;
		const buyer = (await http.post("/auth/register", { name: "Buyer", email: "buyer@backup.test", password: "password-1" })).body.token as string;
		const products: Array<{ id: string; initial: number }> = [];
		for (let i = 0; i < 3; i++)
			products.push({ id: (await http.post("/products", { sku: `BK-${i}`, name: `Kept ${i}`, category: "c", priceCents: 100, stock: 500 }, admin)).body.id, initial: 500 });
		const order = (i: number) =>
			http.post(
				"/orders",
				{
					items: [
						{ productId: products[i % 3].id, quantity: 1 + (i % 2) },
						{ productId: products[(i + 1) % 3].id, quantity: 1 },
					],
				},
				buyer,
			);

		const before: Order[] = [];
		for (let i = 0; i < 20; i++) before.push((await order(i)).body);
		expect((await http.post(`/orders/${before[0].id}/cancel`, {}, buyer)).status).toBe(200);
		const stateBefore = await allOrders(http, admin);

		// Orders keep coming while the copy is taken.
		let copying = true;
		const during: Array<Promise<{ status: number; body: Order }>> = [];
		const load = (async () => {
			for (let i = 0; copying; i++) {
				during.push(order(i));
				await new Promise(r => setTimeout(r, 2));
			}
		})();
		const dest = path.join(base, "copy");
		const backup = await runScript("backup", [dest], dataDir);
		copying = false;
		await load;
		const placedDuring = await Promise.all(during);
		expect(backup.output).toContain(`backup of ${dataDir} in ${dest}`);
		expect(backup.code).toBe(0);
		expect(placedDuring.length).toBeGreaterThan(0);
		expect(JSON.parse(fs.readFileSync(path.join(dest, "backup.json"), "utf8"))).toMatchObject({ files: expect.arrayContaining([expect.objectContaining({ name: "orders.db" })]) });

		// After the copy: more orders, and a cancellation of one the copy holds as confirmed.
		const after: Order[] = [];
		for (let i = 0; i < 5; i++) after.push((await order(i)).body);
		expect((await http.post(`/orders/${before[1].id}/cancel`, {}, buyer)).status).toBe(200);

		// A node runs on DATA_DIR: restore refuses, changing nothing.
		const refused = await runScript("restore", [dest], dataDir);
		expect(refused.code).not.toBe(0);
		expect(refused.output).toMatch(/in use by another node \(pid \d+\)/);
		await shop.stop();

		const restore = await runScript("restore", [dest], dataDir);
		expect(restore.output).toContain(`restored ${dest} into ${dataDir}`);
		expect(restore.code).toBe(0);
		shop = await startShopProcess({ port, dataDir, env: ENV });
		const restored = await allOrders(http, admin);
		const ids = new Set(restored.map(o => o.id));

		// Everything answered before the copy, as it was; nothing answered after it.
		for (const o of stateBefore) expect(restored.find(r => r.id === o.id)).toEqual(o);
		for (const o of after) expect(ids.has(o.id)).toBe(false);
		// Of the orders placed while it was taken, exactly those it holds, no other order.
		const duringIds = new Set(placedDuring.map(r => r.body.id));
		expect(restored.filter(o => !stateBefore.some(b => b.id === o.id)).every(o => duringIds.has(o.id))).toBe(true);
		// No order half placed once the node has settled, and each product's stock is its initial stock less what the orders hold.
		const settled = async () => (await allOrders(http, admin)).every(o => o.status !== "pending");
		for (let i = 0; i < 100 && !(await settled()); i++) await new Promise(r => setTimeout(r, 200));
		const final = await allOrders(http, admin);
		expect(final.filter(o => o.status === "pending")).toEqual([]);
		for (const p of products) {
			const held = final.filter(o => HOLDING.includes(o.status)).reduce((sum, o) => sum + o.items.filter(l => l.productId === p.id).reduce((s, l) => s + l.quantity, 0), 0);
			expect({ product: p.id, stock: (await http.get(`/products/${p.id}`)).body.stock }).toEqual({ product: p.id, stock: p.initial - held });
		}
		// The admin, the buyer and their tokens came back too.
		expect((await http.post("/auth/login", { email: "buyer@backup.test", password: "password-1" })).status).toBe(200);
	});

	it("copies a DATA_DIR no node holds, and refuses a restore from a copy that was altered", async () => {
		const dest = path.join(base, "idle-copy");
		const res = await runScript("backup", [dest], dataDir);
		expect(res.code).toBe(0);
		const manifest = JSON.parse(fs.readFileSync(path.join(dest, "backup.json"), "utf8")) as { files: Array<{ name: string; sha256: string }> };
		for (const f of manifest.files) expect(fs.readFileSync(path.join(dest, f.name)).equals(fs.readFileSync(path.join(dataDir, f.name)))).toBe(true);

		fs.appendFileSync(path.join(dest, "orders.db"), '{"_id":"forged","status":"confirmed"}\n');
		const before = fs.readFileSync(path.join(dataDir, "orders.db"));
		const refused = await runScript("restore", [dest], dataDir);
		expect(refused.code).not.toBe(0);
		expect(refused.output).toContain("orders.db does not match the backup's manifest");
		expect(fs.readFileSync(path.join(dataDir, "orders.db")).equals(before)).toBe(true);
	});

	for (const point of RESTORE_CRASH_POINTS) {
		it(`a restore killed part-way (${point}) leaves a DATA_DIR no node starts on, saying why, and run again it finishes`, async () => {
			const dir = path.join(base, `restored-${point}`);
			const dest = path.join(base, `copy-for-${point}`);
			shop = await startShopProcess({ port: await freePort(), dataDir: dir, env: ENV });
			await shop.stop();
			expect((await runScript("backup", [dest], dir)).code).toBe(0);
			const manifest = JSON.parse(fs.readFileSync(path.join(dest, "backup.json"), "utf8")) as { files: Array<{ name: string }> };
			expect(manifest.files.length).toBeGreaterThan(1);

			const killed = await runScript("restore", [dest], dir, { CRASH_POINT: point });
			expect(killed.code).toBeNull();
			const attempt = startShopProcess({ port: await freePort(), dataDir: dir, env: ENV });
			await expect(attempt).rejects.toThrow(/exited \(1\) before starting/);
			await expect(attempt).rejects.toThrow(`A restore of ${dest} into ${dir} did not finish: run npm run restore ${dest} again`);

			const again = await runScript("restore", [dest], dir);
			expect(again.code).toBe(0);
			for (const f of manifest.files) expect(fs.readFileSync(path.join(dir, f.name)).equals(fs.readFileSync(path.join(dest, f.name)))).toBe(true);
			shop = await startShopProcess({ port: await freePort(), dataDir: dir, env: ENV });
			expect((await new HttpClient(`${shop.url}/api`).get("/health")).status).toBe(200);
		});
	}

	it("never signals a process that holds DATA_DIR but takes no backups (SIGUSR2 would end it), and says so", async () => {
		const dir = path.join(base, "held");
		lockDataDir(dir);
		try {
			const res = await runScript("backup", [path.join(base, "held-copy")], dir);
			expect(res.code).toBe(1);
			expect(res.output).toContain(`the process holding ${dir} (pid ${process.pid}) does not take backups now`);
		} finally {
			releaseDataDir(dir);
		}
	});

	it("has a node refuse a store whose data format is newer than its code knows, exiting non-zero with a message that says so", async () => {
		const dir = path.join(base, "future");
		fs.mkdirSync(dir);
		fs.writeFileSync(path.join(dir, "format-orders.db"), `${JSON.stringify({ _id: "orders", version: 99, updatedAt: new Date().toISOString() })}\n`);
		const attempt = startShopProcess({ port: await freePort(), dataDir: dir, env: ENV });
		await expect(attempt).rejects.toThrow(/exited \(1\) before starting/);
		await expect(attempt).rejects.toThrow(/The orders store holds format 99, newer than this code knows \(\d+\)/);
	});
});
