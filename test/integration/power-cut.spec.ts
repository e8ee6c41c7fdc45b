import fs from "fs";
import os from "os";
import path from "path";
import { startInProcessShop } from "../helpers/gateway";
import { HttpClient } from "../helpers/http";

type Fdatasync = (fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => void;

/**
 * A file layer that keeps only what was synced: each fdatasync that
 * completes records the length its file had when the sync began (every
 * byte written before it is on disk then). A power cut cuts each datafile
 * back to that length.
 */
function syncedLengths() {
	const synced = new Map<string, number>();
	const real = fs.fdatasync.bind(fs) as Fdatasync;
	const spy = jest.spyOn(fs, "fdatasync").mockImplementation((fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
		const file = fs.readlinkSync(`/proc/self/fd/${fd}`);
		const length = fs.fstatSync(fd).size;
		real(fd, err => {
			if (!err) synced.set(file, Math.max(synced.get(file) ?? 0, length));
			callback(err);
		});
	});
	return {
		powerCut(dataDir: string): Map<string, [number, number]> {
			const cut = new Map<string, [number, number]>();
			for (const name of fs.readdirSync(dataDir).filter(n => n.endsWith(".db"))) {
				const file = path.join(fs.realpathSync(dataDir), name);
				const kept = synced.get(file) ?? 0;
				cut.set(name, [fs.statSync(file).size, kept]);
				fs.truncateSync(file, kept);
			}
			return cut;
		},
		restore: () => spy.mockRestore(),
	};
}

describe("a power cut on the embedded store", () => {
	const admin = { email: "admin@power.test", password: "admin-password" };
	let dataDir: string;
	beforeAll(() => (dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "power-cut-"))));
	afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

	it("loses no acknowledged order, reservation or stock: the store restarts on the synced bytes alone", async () => {
		const files = syncedLengths();
		const shop = await startInProcessShop(["api", "customers", "products", "orders", "alerts", "analytics", "payments", "notifications"], { admin, storage: { dataDir, sync: true } });
		const http = new HttpClient(`${shop.url}/api`);
		const stockAfter = new Map<string, number>();
		const acknowledged: Array<{ id: string; status: string }> = [];
		let cut: Map<string, [number, number]>;
		try {
			const adminToken = (await http.post("/auth/login", admin)).body.token as string;
			const products: string[] = [];
			for (let i = 0; i < 4; i++) products.push((await http.post("/products", { sku: `CUT-${i}`, name: `Cut ${i}`, category: "c", priceCents: 100 + i, stock: 100 }, adminToken)).body.id);
			const buyers: string[] = [];
			for (let i = 0; i < 3; i++) buyers.push((await http.post("/auth/register", { name: `B${i}`, email: `b${i}@power.test`, password: "password-1" })).body.token);
			const placed = await Promise.all(
				Array.from({ length: 60 }, (_, i) =>
					http.post(
						"/orders",
						{
							items: [
								{ productId: products[i % 4], quantity: 1 + (i % 3) },
								{ productId: products[(i + 1) % 4], quantity: 1 },
							],
						},
						buyers[i % 3],
					),
				),
			);
			for (const res of placed) {
				expect(res.status).toBe(201);
				acknowledged.push({ id: res.body.id, status: res.body.status });
			}
			for (const order of acknowledged.slice(0, 10)) {
				const res = await http.post(`/orders/${order.id}/cancel`, {}, adminToken);
				expect(res.status).toBe(200);
				order.status = res.body.status;
			}
			for (const id of products) stockAfter.set(id, (await http.get(`/products/${id}`)).body.stock);
			// The power goes: only synced bytes stay (the stop below writes nothing that counts).
			cut = files.powerCut(dataDir);
		} finally {
			files.restore();
			await shop.stop();
		}
		expect(cut.has("orders.db")).toBe(true);

		const again = await startInProcessShop(["api", "customers", "products", "orders", "alerts", "analytics", "payments", "notifications"], { admin, storage: { dataDir, sync: true } });
		try {
			const http2 = new HttpClient(`${again.url}/api`);
			const adminToken = (await http2.post("/auth/login", admin)).body.token as string;
			for (const order of acknowledged) {
				const res = await http2.get(`/orders/${order.id}`, adminToken);
				expect([order.id, res.status, res.body?.status]).toEqual([order.id, 200, order.status]);
			}
			const orders = (await http2.get("/orders?pageSize=100", adminToken)).body.rows as Array<{ status: string; items: Array<{ productId: string; quantity: number }> }>;
			for (const [id, stock] of stockAfter) {
				const held = orders.filter(o => o.status !== "cancelled").reduce((n, o) => n + o.items.filter(it => it.productId === id).reduce((m, it) => m + it.quantity, 0), 0);
				const now = (await http2.get(`/products/${id}`)).body.stock as number;
				expect([id, now, now]).toEqual([id, stock, 100 - held]);
			}
		} finally {
			await again.stop();
		}
	});
});
