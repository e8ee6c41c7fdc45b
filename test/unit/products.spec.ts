import type { ServiceBroker } from "moleculer";
import type { DbAdapter, Query, Update } from "../../lib/db/adapter";
import ProductsService from "../../services/products.service";
import { Catalog } from "../../services/products/catalog";
import type { ProductDoc } from "../../services/products/documents";
import { createTestBroker, eventRecorder, waitFor } from "../helpers/broker";

describe("products service", () => {
	let broker: ServiceBroker;
	const events = eventRecorder("recorder", ["product.updated", "product.stock_low"]);
	let seq = 0;

	beforeAll(async () => {
		broker = createTestBroker();
		broker.createService(ProductsService);
		broker.createService(events.schema);
		await broker.start();
	});
	afterAll(() => broker.stop());

	const call = <T = any>(action: string, params: object = {}) => broker.call<T, object>(`products.${action}`, params);
	const product = (fields: Record<string, unknown> = {}) => call("create", { sku: `SKU-${++seq}`, name: `Widget ${seq}`, category: "widgets", priceCents: 1000, stock: 10, ...fields });
	const stockOf = async (id: string) => (await call("get", { id })).stock;

	describe("catalog", () => {
		it("creates a product with defaults, answering 201", async () => {
			const meta: any = {};
			const p = await broker.call<any, any>("products.create", { sku: "NEW-1", name: "New", category: "misc", priceCents: 0, stock: 0, id: "mine", holds: { x: 1 } }, { meta });
			expect(meta.$statusCode).toBe(201);
			expect(p).toEqual({
				id: expect.any(String),
				sku: "NEW-1",
				name: "New",
				description: "",
				category: "misc",
				priceCents: 0,
				stock: 0,
				lowStockThreshold: 5,
				images: [],
				createdAt: expect.any(String),
				updatedAt: expect.any(String),
			});
			expect(p.id).not.toBe("mine");
		});

		it("keeps a product's images in their order, with their alt text, and replaces them on update", async () => {
			const images = [
				{ url: "https://cdn.example.com/lamp/front.jpg", alt: "The lamp from the front" },
				{ url: "/images/lamp-side.png", alt: "The lamp from the side" },
			];
			const p = await product({ images });
			expect(p.images).toEqual(images);
			expect((await call("get", { id: p.id })).images).toEqual(images);
			const reordered = await call("update", { id: p.id, images: [images[1], images[0]] });
			expect(reordered.images).toEqual([images[1], images[0]]);
			expect((await call("update", { id: p.id, images: [] })).images).toEqual([]);
			// Unknown fields of an image are not stored.
			const extra = await call("update", { id: p.id, images: [{ ...images[0], onerror: "x" }] });
			expect(extra.images).toEqual([images[0]]);
		});

		it.each([
			["an http URL", [{ url: "http://cdn.example.com/a.jpg", alt: "a" }]],
			["a javascript: URL", [{ url: "javascript:alert(1)", alt: "a" }]],
			["a data: URL", [{ url: "data:image/png;base64,AAAA", alt: "a" }]],
			["a protocol-relative URL", [{ url: "//evil.example/a.jpg", alt: "a" }]],
			["a backslash path", [{ url: "/\\evil.example/a.jpg", alt: "a" }]],
			["a relative path without its slash", [{ url: "images/a.jpg", alt: "a" }]],
			["a URL with a space", [{ url: "https://cdn.example.com/a b.jpg", alt: "a" }]],
			["an https URL without a host", [{ url: "https:///a.jpg", alt: "a" }]],
			["a URL over 2048 characters", [{ url: `https://cdn.example.com/${"a".repeat(2048)}`, alt: "a" }]],
			["no alt text", [{ url: "/a.jpg" }]],
			["an empty alt text", [{ url: "/a.jpg", alt: " " }]],
			["an alt text over 300 characters", [{ url: "/a.jpg", alt: "a".repeat(301) }]],
			["a null image", [null]],
			["images that are not a list", { url: "/a.jpg", alt: "a" }],
			["11 images", Array.from({ length: 11 }, (_, i) => ({ url: `/a${i}.jpg`, alt: "a" }))],
		])("refuses %s with 422, storing nothing", async (_what, images) => {
			const sku = `IMG-BAD-${++seq}`;
			await expect(call("create", { sku, name: "Bad", category: "x", priceCents: 1, stock: 1, images })).rejects.toMatchObject({ code: 422 });
			expect((await call("list", { search: sku })).total).toBe(0);
			const p = await product({ images: [{ url: "/ok.jpg", alt: "ok" }] });
			await expect(call("update", { id: p.id, images })).rejects.toMatchObject({ code: 422 });
			expect((await call("get", { id: p.id })).images).toEqual([{ url: "/ok.jpg", alt: "ok" }]);
		});

		it.each([["images"], ["description"], ["lowStockThreshold"]])("refuses %s sent as null with 422 on create and update, storing nothing", async field => {
			const sku = `NULL-${++seq}`;
			const err = await call("create", { sku, name: "Null", category: "x", priceCents: 1, stock: 1, [field]: null }).catch((e: any) => e);
			expect(err).toMatchObject({ code: 422, type: "VALIDATION_ERROR", data: [{ type: "notNull", field }] });
			expect((await call("list", { search: sku })).total).toBe(0);
			const p = await product({ images: [{ url: "/ok.jpg", alt: "ok" }], description: "kept", lowStockThreshold: 7 });
			await expect(call("update", { id: p.id, [field]: null })).rejects.toMatchObject({ code: 422, data: [{ type: "notNull", field }] });
			expect(await call("get", { id: p.id })).toEqual(p);
		});

		it("shows a product stored before images with none, and a stored null as null, not as the default", async () => {
			const svc: any = broker.getLocalService("products");
			const before = await product();
			await svc.adapter.updateMany({ _id: before.id }, { $unset: { images: 1 } });
			const nulled = await product({ images: [{ url: "/ok.jpg", alt: "ok" }] });
			await svc.adapter.updateMany({ _id: nulled.id }, { $set: { images: null } });
			expect(svc.toPublic(await svc.adapter.findById(before.id)).images).toEqual([]);
			expect(svc.toPublic(await svc.adapter.findById(nulled.id)).images).toBeNull();
		});

		it("refuses a taken sku with 409", async () => {
			await product({ sku: "TAKEN" });
			await expect(product({ sku: "TAKEN" })).rejects.toMatchObject({ code: 409, type: "SKU_TAKEN" });
		});

		it.each([
			["a fractional price", { priceCents: 10.5 }, "priceCents"],
			["a negative price", { priceCents: -1 }, "priceCents"],
			["a price sent as a string", { priceCents: "12" }, "priceCents"],
			["negative stock", { stock: -1 }, "stock"],
			["a missing name", { name: undefined }, "name"],
			["an operator as category", { category: { $ne: null } }, "category"],
			["a negative threshold", { lowStockThreshold: -2 }, "lowStockThreshold"],
		])("refuses %s with 422 and stores nothing", async (_label, bad, field) => {
			const before = (await call("list", { pageSize: 100 })).total;
			const err = await product(bad).catch((e: any) => e);
			expect(err).toMatchObject({ code: 422 });
			expect(err.data.map((d: any) => d.field)).toContain(field);
			expect((await call("list", { pageSize: 100 })).total).toBe(before);
		});

		it("gets a product, and 404 for an unknown one", async () => {
			const p = await product();
			expect(await call("get", { id: p.id })).toEqual(p);
			await expect(call("get", { id: "unknown" })).rejects.toMatchObject({ code: 404 });
			await expect(call("get", { id: { $gt: "" } })).rejects.toMatchObject({ code: 422 });
		});

		it("lists with search, category, ids, sort and pages", async () => {
			const a = await product({ name: "Zebra lamp", category: "lamps", priceCents: 300 });
			const b = await product({ name: "Alpha lamp", category: "lamps", priceCents: 100, description: "bright" });
			const c = await product({ name: "Other", category: "lamps", priceCents: 200, sku: "LAMP-SPECIAL" });
			const byCategory = await call("list", { category: "lamps", sort: "priceCents" });
			expect(byCategory.rows.map((p: any) => p.id)).toEqual([b.id, c.id, a.id]);
			expect(byCategory).toMatchObject({ total: 3, page: 1, pageSize: 20, totalPages: 1 });
			expect((await call("list", { category: "lamps", sort: "-priceCents" })).rows.map((p: any) => p.id)).toEqual([a.id, c.id, b.id]);
			expect((await call("list", { category: "lamps", sort: "name" })).rows[0].id).toBe(b.id);
			expect((await call("list", { search: "ZEBRA" })).rows.map((p: any) => p.id)).toEqual([a.id]);
			expect((await call("list", { search: "special" })).rows.map((p: any) => p.id)).toEqual([c.id]);
			expect((await call("list", { search: "bright" })).rows.map((p: any) => p.id)).toEqual([b.id]);
			expect((await call("list", { search: ".*" })).total).toBe(0);
			expect((await call("list", { ids: `${a.id},${c.id}`, sort: "priceCents" })).rows.map((p: any) => p.id)).toEqual([c.id, a.id]);
			const page2 = await call("list", { category: "lamps", sort: "priceCents", page: 2, pageSize: 2 });
			expect(page2).toMatchObject({ page: 2, pageSize: 2, total: 3, totalPages: 2 });
			expect(page2.rows.map((p: any) => p.id)).toEqual([a.id]);
		});

		it("counts only when a page does not tell its total (a full page, or one past the end): a page short of its size ends the list", async () => {
			const adapter = (broker.getLocalService("products") as unknown as { adapter: { count: (...args: unknown[]) => Promise<number> } }).adapter;
			const count = jest.spyOn(adapter, "count");
			try {
				const [a, b, c] = [await product({ category: "pages" }), await product({ category: "pages" }), await product({ category: "pages" })];
				expect(await call("list", { ids: `${a.id},${b.id}` })).toMatchObject({ total: 2, totalPages: 1 });
				expect(await call("list", { category: "pages", page: 2, pageSize: 2 })).toMatchObject({ total: 3, totalPages: 2, rows: [expect.objectContaining({ id: expect.any(String) })] });
				expect(count).not.toHaveBeenCalled();
				expect(await call("list", { category: "pages", pageSize: 3 })).toMatchObject({ total: 3, totalPages: 1 });
				expect(await call("list", { category: "pages", page: 3, pageSize: 2 })).toMatchObject({ total: 3, totalPages: 2, rows: [] });
				expect(count).toHaveBeenCalledTimes(2);
				expect([a, b, c]).toHaveLength(3);
			} finally {
				count.mockRestore();
			}
		});

		it("refuses bad list parameters with 422", async () => {
			await expect(call("list", { pageSize: 101 })).rejects.toMatchObject({ code: 422 });
			await expect(call("list", { pageSize: 0 })).rejects.toMatchObject({ code: 422 });
			await expect(call("list", { page: "x" })).rejects.toMatchObject({ code: 422 });
			await expect(call("list", { sort: "passwordHash" })).rejects.toMatchObject({ code: 422 });
		});

		it("counts products per category", async () => {
			await product({ category: "cat-a" });
			await product({ category: "cat-a" });
			await product({ category: "cat-b" });
			const cats = await call<any[]>("categories");
			expect(cats).toEqual(
				expect.arrayContaining([
					{ name: "cat-a", productCount: 2 },
					{ name: "cat-b", productCount: 1 },
				]),
			);
		});

		it("updates fields but never stock, and a cached read is fresh right after", async () => {
			const p = await product({ priceCents: 500, stock: 7 });
			await call("get", { id: p.id });
			await call("list", { ids: p.id });
			const updated = await call("update", { id: p.id, priceCents: 650, name: "Renamed", stock: 999 });
			expect(updated).toMatchObject({ priceCents: 650, name: "Renamed", stock: 7 });
			expect(await call("get", { id: p.id })).toMatchObject({ priceCents: 650, stock: 7 });
			expect((await call("list", { ids: p.id })).rows[0]).toMatchObject({ priceCents: 650 });
			await expect(call("update", { id: "missing", name: "x" })).rejects.toMatchObject({ code: 404 });
			await expect(call("update", { id: p.id, priceCents: 1.5 })).rejects.toMatchObject({ code: 422 });
			expect(await stockOf(p.id)).toBe(7);
		});

		it("restocks atomically and refuses a quantity below 1", async () => {
			const p = await product({ stock: 2 });
			await Promise.all(Array.from({ length: 20 }, () => call("restock", { id: p.id, quantity: 3 })));
			expect(await stockOf(p.id)).toBe(62);
			await expect(call("restock", { id: p.id, quantity: 0 })).rejects.toMatchObject({ code: 422 });
			await expect(call("restock", { id: p.id, quantity: "5" })).rejects.toMatchObject({ code: 422 });
			await expect(call("restock", { id: "missing", quantity: 5 })).rejects.toMatchObject({ code: 404 });
			expect(await stockOf(p.id)).toBe(62);
		});

		it("removes a product from the catalog; its sku can be used again", async () => {
			const p = await product({ sku: "GONE-1", category: "gone" });
			await call("get", { id: p.id });
			await call("remove", { id: p.id });
			await expect(call("get", { id: p.id })).rejects.toMatchObject({ code: 404 });
			expect((await call("list", { category: "gone" })).total).toBe(0);
			await expect(call("remove", { id: p.id })).rejects.toMatchObject({ code: 404 });
			await expect(product({ sku: "GONE-1" })).resolves.toMatchObject({ sku: "GONE-1" });
		});

		it("emits product.updated on each change", async () => {
			const p = await product();
			await call("update", { id: p.id, priceCents: 1 });
			await waitFor(() => events.received.some(e => e.event === "product.updated" && e.payload.product.id === p.id && e.payload.product.priceCents === 1));
		});

		it("says in its last product.updated that a removed product left the catalog (deleted: true), so open pages drop it", async () => {
			const p = await product();
			await call("remove", { id: p.id });
			await waitFor(() => events.received.some(e => e.event === "product.updated" && e.payload.product.id === p.id && e.payload.product.deleted === true), 5000, "the removal's push");
			const pushes = events.received.filter(e => e.event === "product.updated" && e.payload.product.id === p.id);
			expect(pushes[pushes.length - 1].payload.product).toMatchObject({ id: p.id, sku: p.sku, deleted: true });
		});
	});

	describe("returns", () => {
		it("gives a return's quantities back once per return and product, and refuses a product listed twice (422, nothing moved)", async () => {
			const [a, b] = [await product(), await product()];
			const returned = { returnId: "ret-1", items: [a, b].map((p, i) => ({ productId: p.id, quantity: 2 - i })) };
			await call("restockReturn", returned);
			await call("restockReturn", returned);
			expect([await stockOf(a.id), await stockOf(b.id)]).toEqual([12, 11]);
			const twice = [1, 3].map(quantity => ({ productId: a.id, quantity }));
			await expect(call("restockReturn", { returnId: "ret-2", items: twice })).rejects.toMatchObject({ code: 422 });
			expect(await stockOf(a.id)).toBe(12);
		});

		it("keeps a return's once-only marker on the product for a week, not for ever: a restock forgets the product's markers older than that", async () => {
			const p = await product({ stock: 0 });
			const adapter = (broker.getLocalService("products") as unknown as { adapter: DbAdapter<ProductDoc> }).adapter;
			// A marker stored before markers carried their time (the quantity): kept, as its age is unknown.
			await adapter.updateMany({ _id: p.id }, { $set: { "returned.ret-legacy": 3 } });
			let now = Date.parse("2030-01-01T00:00:00.000Z");
			const catalog = new Catalog(adapter, () => now);
			await catalog.restockReturn("ret-old", [{ productId: p.id, quantity: 1 }]);
			now += 7 * 24 * 3600_000 + 1;
			await catalog.restockReturn("ret-new", [{ productId: p.id, quantity: 2 }]);
			expect(Object.keys((await adapter.findById(p.id))!.returned ?? {}).sort()).toEqual(["ret-legacy", "ret-new"]);
			expect(await stockOf(p.id)).toBe(3);
			// Still once per return while its marker is kept.
			await catalog.restockReturn("ret-new", [{ productId: p.id, quantity: 2 }]);
			expect(await stockOf(p.id)).toBe(3);
		});

		it("repeated more than a week late, a return's restock changes nothing, and its update never both sets and forgets the same marker (MongoDB refuses such an update)", async () => {
			const p = await product({ stock: 0 });
			const adapter = (broker.getLocalService("products") as unknown as { adapter: DbAdapter<ProductDoc> }).adapter;
			const updates: Update[] = [];
			const spied: DbAdapter<ProductDoc> = Object.create(adapter, { updateMany: { value: (q: Query, u: Update) => (updates.push(u), adapter.updateMany(q, u)) } });
			let now = Date.parse("2030-01-01T00:00:00.000Z");
			const catalog = new Catalog(spied, () => now);
			await catalog.restockReturn("ret-late", [{ productId: p.id, quantity: 1 }]);
			now += 8 * 24 * 3600_000;
			await catalog.restockReturn("ret-late", [{ productId: p.id, quantity: 1 }]);
			expect(await stockOf(p.id)).toBe(1);
			const last = updates[updates.length - 1];
			expect(Object.keys(last.$unset ?? {})).not.toContain("returned.ret-late");
		});

		it("announces the stock a return gave back when the call is repeated after a crash cut it between the stock write and the announcement", async () => {
			const p = await product({ stock: 0 });
			await waitFor(() => events.received.some(e => e.event === "product.updated" && e.payload.product.id === p.id && e.payload.product.stock === 0));
			// The first attempt's write, as a crash right after it leaves it: stock given back, nothing announced.
			const catalog = (broker.getLocalService("products") as unknown as { catalog: { restockReturn(id: string, items: object[]): Promise<string[]> } }).catalog;
			await catalog.restockReturn("ret-crashed", [{ productId: p.id, quantity: 4 }]);
			await call("restockReturn", { returnId: "ret-crashed", items: [{ productId: p.id, quantity: 4 }] });
			expect(await stockOf(p.id)).toBe(4);
			await waitFor(() => events.received.some(e => e.event === "product.updated" && e.payload.product.id === p.id && e.payload.product.stock === 4), 5000, "the returned stock's push");
		});
	});

	describe("reservations", () => {
		it("reserves every item and answers the price snapshot", async () => {
			const a = await product({ stock: 5, priceCents: 250 });
			const b = await product({ stock: 5, priceCents: 99 });
			const res = await call("reserve", {
				orderId: "ord-1",
				items: [
					{ productId: a.id, quantity: 2 },
					{ productId: b.id, quantity: 5 },
				],
			});
			expect(res).toEqual({
				orderId: "ord-1",
				state: "reserved",
				lines: [
					{ productId: a.id, sku: a.sku, name: a.name, unitPriceCents: 250, quantity: 2 },
					{ productId: b.id, sku: b.sku, name: b.name, unitPriceCents: 99, quantity: 5 },
				],
			});
			expect(await stockOf(a.id)).toBe(3);
			expect(await stockOf(b.id)).toBe(0);
		});

		it("is idempotent per orderId: a repeat changes stock once", async () => {
			const p = await product({ stock: 10 });
			const items = [{ productId: p.id, quantity: 4 }];
			const [r1, r2] = await Promise.all([call("reserve", { orderId: "ord-idem", items }), call("reserve", { orderId: "ord-idem", items })]);
			const r3 = await call("reserve", { orderId: "ord-idem", items });
			expect(r1.lines).toEqual(r2.lines);
			expect(r3.lines).toEqual(r1.lines);
			expect(await stockOf(p.id)).toBe(6);
		});

		it("takes nothing when one item is short, naming the short product", async () => {
			const a = await product({ stock: 5 });
			const b = await product({ stock: 1 });
			const err = await call("reserve", {
				orderId: "ord-short",
				items: [
					{ productId: a.id, quantity: 3 },
					{ productId: b.id, quantity: 2 },
				],
			}).catch((e: any) => e);
			expect(err).toMatchObject({ code: 409, type: "INSUFFICIENT_STOCK", data: { items: [{ productId: b.id, requested: 2, available: 1 }] } });
			expect(await stockOf(a.id)).toBe(5);
			expect(await stockOf(b.id)).toBe(1);
			// The same order id asked again fails the same way, taking nothing.
			await expect(
				call("reserve", {
					orderId: "ord-short",
					items: [
						{ productId: a.id, quantity: 3 },
						{ productId: b.id, quantity: 2 },
					],
				}),
			).rejects.toMatchObject({ type: "INSUFFICIENT_STOCK" });
			expect(await stockOf(a.id)).toBe(5);
		});

		it("answers 422 for an unknown or removed product, taking nothing", async () => {
			const a = await product({ stock: 5 });
			const gone = await product({ stock: 5 });
			await call("remove", { id: gone.id });
			await expect(
				call("reserve", {
					orderId: "ord-unknown",
					items: [
						{ productId: a.id, quantity: 1 },
						{ productId: "nope", quantity: 1 },
					],
				}),
			).rejects.toMatchObject({ code: 422, type: "UNKNOWN_PRODUCT" });
			await expect(call("reserve", { orderId: "ord-gone", items: [{ productId: gone.id, quantity: 1 }] })).rejects.toMatchObject({ code: 422 });
			expect(await stockOf(a.id)).toBe(5);
		});

		it.each([
			["no items", []],
			["quantity 0", [{ productId: "p", quantity: 0 }]],
			["a fractional quantity", [{ productId: "p", quantity: 1.5 }]],
			["a quantity over 1000", [{ productId: "p", quantity: 1001 }]],
			["an operator-shaped id", [{ productId: { $gt: "" }, quantity: 1 }]],
		])("refuses %s with 422", async (_label, items) => {
			await expect(call("reserve", { orderId: "ord-bad", items })).rejects.toMatchObject({ code: 422 });
		});

		it("refuses the same product twice with 422", async () => {
			const p = await product({ stock: 5 });
			await expect(
				call("reserve", {
					orderId: "ord-twice",
					items: [
						{ productId: p.id, quantity: 1 },
						{ productId: p.id, quantity: 1 },
					],
				}),
			).rejects.toMatchObject({ code: 422 });
			expect(await stockOf(p.id)).toBe(5);
		});

		it("releases a reservation exactly once", async () => {
			const p = await product({ stock: 10 });
			await call("reserve", { orderId: "ord-rel", items: [{ productId: p.id, quantity: 4 }] });
			const results = await Promise.all([call("release", { orderId: "ord-rel" }), call("release", { orderId: "ord-rel" })]);
			await call("release", { orderId: "ord-rel" });
			expect(results.filter(r => r.released)).toHaveLength(1);
			expect(await stockOf(p.id)).toBe(10);
			expect(await call("reservation", { orderId: "ord-rel" })).toMatchObject({ state: "released" });
		});

		it("a release before its reserve makes the late reserve take nothing", async () => {
			const p = await product({ stock: 10 });
			await call("release", { orderId: "ord-late" });
			await expect(call("reserve", { orderId: "ord-late", items: [{ productId: p.id, quantity: 1 }] })).rejects.toMatchObject({ code: 409 });
			expect(await stockOf(p.id)).toBe(10);
		});

		it("200 concurrent reservations of 1 unit on stock 50: exactly 50 succeed, stock ends at 0", async () => {
			const p = await product({ stock: 50 });
			const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => call("reserve", { orderId: `race-${i}`, items: [{ productId: p.id, quantity: 1 }] })));
			const ok = results.filter(r => r.status === "fulfilled");
			const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
			expect(ok).toHaveLength(50);
			expect(failed.every(r => r.reason.type === "INSUFFICIENT_STOCK")).toBe(true);
			expect(await stockOf(p.id)).toBe(0);
		});

		it("concurrent multi-item orders never oversell any product", async () => {
			const ps = await Promise.all([product({ stock: 20 }), product({ stock: 20 }), product({ stock: 20 })]);
			const orders = Array.from({ length: 60 }, (_, i) => ({
				orderId: `multi-${i}`,
				items: ps.filter((_, j) => (i + j) % 3 !== 0).map((p, j) => ({ productId: p.id, quantity: 1 + ((i + j) % 3) })),
			}));
			const results = await Promise.allSettled(orders.map(o => call("reserve", o)));
			for (const p of ps) {
				const taken = orders
					.filter((_, i) => results[i].status === "fulfilled")
					.flatMap(o => o.items)
					.filter(it => it.productId === p.id)
					.reduce((sum, it) => sum + it.quantity, 0);
				const stock = await stockOf(p.id);
				expect(stock).toBeGreaterThanOrEqual(0);
				expect(stock).toBe(20 - taken);
			}
		});

		it("the settler gives back what an attempt that died half-way took", async () => {
			const a = await product({ stock: 10 });
			const b = await product({ stock: 10 });
			const svc: any = broker.getLocalService("products");
			// What a products node leaves when it dies after taking the first item of two.
			await svc.ledger.takeStock("ord-crash", { productId: a.id, quantity: 3 });
			expect(await stockOf(a.id)).toBe(7);
			await svc.ledger.recover(Date.now());
			expect(await stockOf(a.id)).toBe(7); // not abandoned yet: it may still be running
			await svc.ledger.recover(Date.now() + svc.settings.settlement.pendingTimeoutMs);
			expect(await stockOf(a.id)).toBe(10);
			expect(await stockOf(b.id)).toBe(10);
			expect(await call("reservation", { orderId: "ord-crash" })).toMatchObject({ state: "failed" });
			await expect(call("reserve", { orderId: "ord-crash", items: [{ productId: a.id, quantity: 3 }] })).rejects.toMatchObject({ code: 409 });
			expect(await stockOf(a.id)).toBe(10);
		});

		it("an attempt that found a shortfall does not undo a retry of the same order that completed", async () => {
			const a = await product({ stock: 10 });
			const b = await product({ stock: 10 });
			const svc: any = broker.getLocalService("products");
			const items = [
				{ productId: a.id, quantity: 3 },
				{ productId: b.id, quantity: 2 },
			];
			// Attempt 1 took the first item, then (say) saw the second short; attempt 2, a retry, completed meanwhile.
			await svc.ledger.takeStock("ord-retry", items[0]);
			await call("reserve", { orderId: "ord-retry", items });
			const late = await svc.ledger.storeOutcome("ord-retry", items, { state: "failed", reason: "INSUFFICIENT_STOCK", short: [{ productId: b.id, requested: 2, available: 0 }] });
			expect(late.state).toBe("reserved");
			expect(await stockOf(a.id)).toBe(7);
			expect(await stockOf(b.id)).toBe(8);
			await call("release", { orderId: "ord-retry" });
			expect(await stockOf(a.id)).toBe(10);
			expect(await stockOf(b.id)).toBe(10);
		});

		it("a late attempt that finds a tombstone gives back what it took", async () => {
			const a = await product({ stock: 10 });
			const svc: any = broker.getLocalService("products");
			await svc.ledger.takeStock("ord-tomb", { productId: a.id, quantity: 4 });
			await call("release", { orderId: "ord-tomb" });
			await expect(svc.ledger.storeOutcome("ord-tomb", [{ productId: a.id, quantity: 4 }], { state: "reserved", lines: [] })).rejects.toMatchObject({ code: 409 });
			expect(await stockOf(a.id)).toBe(10);
		});

		it("the settler finishes a release that died half-way, giving each item back once", async () => {
			const a = await product({ stock: 10 });
			const b = await product({ stock: 10 });
			const svc: any = broker.getLocalService("products");
			await call("reserve", {
				orderId: "ord-halfrel",
				items: [
					{ productId: a.id, quantity: 3 },
					{ productId: b.id, quantity: 2 },
				],
			});
			await svc.ledger.moveReservation("ord-halfrel", "reserved", "releasing", { releasing: true });
			// Only the first item's give-back happened before the crash.
			await svc.adapter.updateMany({ _id: a.id }, { $inc: { stock: 3 }, $set: { "holds.g_ord-halfrel": { q: 3, at: Date.now() } } });
			await svc.ledger.recover(Date.now() + svc.settings.settlement.pendingTimeoutMs);
			expect(await stockOf(a.id)).toBe(10);
			expect(await stockOf(b.id)).toBe(10);
			expect(await call("reservation", { orderId: "ord-halfrel" })).toMatchObject({ state: "released" });
			await svc.ledger.recover(Date.now() + svc.settings.settlement.pendingTimeoutMs);
			expect(await stockOf(a.id)).toBe(10);
		});

		it("never gives a release back twice, whatever a crash between its writes left", async () => {
			const a = await product({ stock: 10 });
			const b = await product({ stock: 10 });
			const svc: any = broker.getLocalService("products");
			const later = (rounds: number) => Date.now() + rounds * 10 * svc.settings.settlement.pendingTimeoutMs;
			await call("reserve", {
				orderId: "ord-twowrites",
				items: [
					{ productId: a.id, quantity: 3 },
					{ productId: b.id, quantity: 2 },
				],
			});
			// What the two-write release left when killed between its writes: every item given back, the state released, the flag still set.
			await svc.ledger.moveReservation("ord-twowrites", "reserved", "releasing", { releasing: true });
			await svc.adapter.updateMany({ _id: a.id }, { $inc: { stock: 3 }, $set: { "holds.g_ord-twowrites": { q: 3, at: Date.now() } } });
			await svc.adapter.updateMany({ _id: b.id }, { $inc: { stock: 2 }, $set: { "holds.g_ord-twowrites": { q: 2, at: Date.now() } } });
			await svc.ledger.moveReservation("ord-twowrites", "releasing", "released");
			for (let round = 1; round <= 4; round++) await svc.ledger.recover(later(round));
			expect([await stockOf(a.id), await stockOf(b.id)]).toEqual([10, 10]);
			expect(await call("reservation", { orderId: "ord-twowrites" })).toMatchObject({ state: "released" });
		});

		it("makes a second finishRelease of one order a no-op, markers cleared or not", async () => {
			const p = await product({ stock: 10 });
			const svc: any = broker.getLocalService("products");
			await call("reserve", { orderId: "ord-again", items: [{ productId: p.id, quantity: 4 }] });
			await call("release", { orderId: "ord-again" });
			await svc.ledger.finishRelease("ord-again");
			expect(await stockOf(p.id)).toBe(10);
			await svc.ledger.recover(Date.now() + 100 * svc.settings.settlement.pendingTimeoutMs);
			expect((await svc.adapter.findById(p.id)).holds).toEqual({});
			await svc.ledger.finishRelease("ord-again");
			expect(await stockOf(p.id)).toBe(10);
		});

		it("keeps a release's markers while a late give-back could still come, and leaves none behind after", async () => {
			const p = await product({ stock: 10 });
			const svc: any = broker.getLocalService("products");
			await call("reserve", { orderId: "ord-clean", items: [{ productId: p.id, quantity: 1 }] });
			await call("release", { orderId: "ord-clean" });
			const timeout = svc.settings.settlement.pendingTimeoutMs;
			await svc.ledger.recover(Date.now() + timeout);
			expect(Object.keys((await svc.adapter.findById(p.id)).holds)).toEqual(["g_ord-clean"]);
			await svc.ledger.recover(Date.now() + 11 * timeout);
			expect((await svc.adapter.findById(p.id)).holds).toEqual({});
			expect(await stockOf(p.id)).toBe(10);
		});

		it("a refused order leaves nothing: refused at the read, it stores nothing; refused at a take, its outcome goes once no attempt can still run", async () => {
			const a = await product({ stock: 10 });
			const b = await product({ stock: 10 });
			const svc: any = broker.getLocalService("products");
			const reservations = () => svc.ledger.reservations.count({ query: {} });
			const before = await reservations();
			await expect(call("reserve", { orderId: "ord-unknown", items: [{ productId: "nope", quantity: 1 }] })).rejects.toMatchObject({ code: 422, type: "UNKNOWN_PRODUCT" });
			await expect(
				call("reserve", {
					orderId: "ord-short",
					items: [
						{ productId: a.id, quantity: 1 },
						{ productId: b.id, quantity: 11 },
					],
				}),
			).rejects.toMatchObject({ code: 409 });
			expect(await reservations()).toBe(before);
			expect([await stockOf(a.id), await stockOf(b.id)]).toEqual([10, 10]);

			// Another buyer takes B between this attempt's read and its takes.
			const read = svc.ledger.products.findByIds.bind(svc.ledger.products);
			jest.spyOn(svc.ledger.products, "findByIds").mockImplementationOnce(async (...args: unknown[]) => {
				const docs = await read(args[0]);
				await svc.ledger.takeStock("ord-other", { productId: b.id, quantity: 5 });
				return docs;
			});
			await expect(
				call("reserve", {
					orderId: "ord-raced",
					items: [
						{ productId: a.id, quantity: 1 },
						{ productId: b.id, quantity: 6 },
					],
				}),
			).rejects.toMatchObject({ code: 409 });
			expect(await call("reservation", { orderId: "ord-raced" })).toMatchObject({ state: "failed" });
			expect(await stockOf(a.id)).toBe(10);
			const timeout = svc.settings.settlement.pendingTimeoutMs;
			await svc.ledger.recover(Date.now() + timeout);
			expect(await call("reservation", { orderId: "ord-raced" })).toMatchObject({ state: "failed" });
			await svc.ledger.recover(Date.now() + 11 * timeout);
			expect(await svc.ledger.reservations.findById("ord-raced")).toBeNull();
		});
	});

	describe("low stock", () => {
		const lowFor = (id: string) => events.received.filter(e => e.event === "product.stock_low" && e.payload.productId === id);

		it("emits product.stock_low once per crossing, and again only after a restock lifted it above", async () => {
			const p = await product({ stock: 6, lowStockThreshold: 3 });
			await call("reserve", { orderId: "low-1", items: [{ productId: p.id, quantity: 3 }] });
			await waitFor(() => lowFor(p.id).length === 1, 5000, "first stock_low");
			expect(lowFor(p.id)[0].payload).toEqual({ productId: p.id, sku: p.sku, name: p.name, stock: 3, threshold: 3 });
			await call("reserve", { orderId: "low-2", items: [{ productId: p.id, quantity: 2 }] });
			await call("restock", { id: p.id, quantity: 9 });
			await waitFor(async () => (await stockOf(p.id)) === 10);
			await call("reserve", { orderId: "low-3", items: [{ productId: p.id, quantity: 8 }] });
			await waitFor(() => lowFor(p.id).length === 2, 5000, "second stock_low");
			expect(lowFor(p.id)[1].payload).toMatchObject({ stock: 2, threshold: 3 });
			// The 3 -> 1 move in between raised none.
			expect(lowFor(p.id).map(e => e.payload.stock)).toEqual([3, 2]);
		});

		it("raises stock_low for a product created at or below its threshold, and out_of_stock at 0", async () => {
			const low = await product({ stock: 2, lowStockThreshold: 5 });
			const none = await product({ stock: 0, lowStockThreshold: 5 });
			await waitFor(() => lowFor(low.id).length === 1 && lowFor(none.id).length === 1, 5000, "stock_low at creation");
			const listed = (await call<any[]>("lowStock")).map(l => l.productId);
			expect(listed).toEqual(expect.arrayContaining([low.id, none.id]));
		});

		it("raises stock_low when the threshold is raised to the stock or above, and arms again when it is lowered", async () => {
			const p = await product({ stock: 4, lowStockThreshold: 2 });
			expect((await call<any[]>("lowStock")).map(l => l.productId)).not.toContain(p.id);
			await call("update", { id: p.id, lowStockThreshold: 4 });
			await waitFor(() => lowFor(p.id).length === 1, 5000, "stock_low after the threshold rose");
			expect((await call<any[]>("lowStock")).map(l => l.productId)).toContain(p.id);
			await call("update", { id: p.id, lowStockThreshold: 1 });
			expect((await call<any[]>("lowStock")).map(l => l.productId)).not.toContain(p.id);
			await call("reserve", { orderId: "low-rearmed", items: [{ productId: p.id, quantity: 3 }] });
			await waitFor(() => lowFor(p.id).length === 2, 5000, "stock_low again after it was armed");
		});
	});
});
