import _ from "lodash";
import { find as mingoFind, updateMany as mingoUpdateMany } from "mingo";
import type { Service, ServiceBroker } from "moleculer";
import * as adapters from "../../lib/db/adapter";
import type { DbAdapter, Doc, FindParams, Query, Update } from "../../lib/db/adapter";
import { startInProcessShop } from "../helpers/gateway";
import { HttpClient } from "../helpers/http";

/**
 * NeDB (the embedded store) against MongoDB's query and update language,
 * as mingo implements it. Every query and update document the services
 * issue while a shop is driven through its routes is recorded, with the
 * collection as it was just before; each is then run on NeDB and on mingo
 * from that same state: the same documents, in the same order, the same
 * counts, and the same collection afterwards.
 */

type Op =
	| { kind: "find"; params: FindParams }
	| { kind: "findOne"; query: Query }
	| { kind: "count"; query: Query }
	| { kind: "updateMany"; query: Query; update: Update }
	| { kind: "updateOne"; query: Query; update: Update }
	| { kind: "removeMany"; query: Query }
	| { kind: "readAll" };

interface Recorded {
	collection: string;
	op: Op;
	before: Doc[];
}

/** A deep copy; a RegExp (a search) is made again in this realm, where mingo's instanceof checks look for it. */
const copy = <T>(v: T): T => _.cloneDeepWith(v, (x: unknown) => (Object.prototype.toString.call(x) === "[object RegExp]" ? new RegExp((x as RegExp).source, (x as RegExp).flags) : undefined)) as T;
const byId = (docs: Doc[]) => [...docs].sort((a, b) => (String(a._id) < String(b._id) ? -1 : 1));

/** The shape of an op, its values blanked: how many different documents the services send. */
function shape(value: unknown): unknown {
	if (Array.isArray(value)) return value.length ? [shape(value[0])] : [];
	if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replace(/^(holds\.)[rg]_.*/, "$1<marker>"), shape(v)]));
	return typeof value;
}

function recordStores(recorded: Recorded[]): () => void {
	const real = adapters.createAdapter;
	const spy = jest.spyOn(adapters, "createAdapter").mockImplementation((storage, collection, indexes) => {
		const created = real(storage, collection, indexes);
		const adapter = created.adapter as DbAdapter & { db?: { getAllData(): Doc[] } };
		const record = (op: Op) => recorded.push({ collection, op: copy(op), before: copy(adapter.db?.getAllData() ?? []) });
		const wrap = <A extends unknown[]>(name: keyof DbAdapter, toOp: (...args: A) => Op) => {
			const original = (adapter[name] as (...args: A) => Promise<unknown>).bind(adapter);
			(adapter as unknown as Record<string, unknown>)[name] = (...args: A) => {
				record(toOp(...args));
				return original(...args);
			};
		};
		wrap("find", (params: FindParams) => ({ kind: "find", params: params ?? {} }));
		wrap("findOne", (query: Query) => ({ kind: "findOne", query }));
		wrap("count", (params?: { query?: Query }) => ({ kind: "count", query: params?.query ?? {} }));
		wrap("updateMany", (query: Query, update: Update) => ({ kind: "updateMany", query, update }));
		wrap("updateOne", (query: Query, update: Update) => ({ kind: "updateOne", query, update }));
		wrap("updateById", (id: string, update: Update) => ({ kind: "updateOne", query: { _id: id }, update }));
		wrap("removeMany", (query: Query) => ({ kind: "removeMany", query }));
		wrap("readAll", () => ({ kind: "readAll" }));
		return created;
	});
	return () => spy.mockRestore();
}

/** A shop driven through its routes: the catalog, accounts, orders through their life, alerts and figures. */
async function driveShop(): Promise<void> {
	const admin = { email: "admin@parity.test", password: "admin-password" };
	const shop = await startInProcessShop(["api", "customers", "products", "orders", "alerts", "analytics", "payments", "notifications"], { admin });
	try {
		const http = new HttpClient(`${shop.url}/api`);
		const adminToken = (await http.post("/auth/login", admin)).body.token as string;
		const products: string[] = [];
		for (const [i, category] of ["lamps", "lamps", "chairs", "desks"].entries())
			products.push(
				(
					await http.post(
						"/products",
						{ sku: `P-${i}`, name: `Thing ${i}`, description: `a ${category} thing`, category, priceCents: 500 + i * 100, stock: 6, lowStockThreshold: 3 },
						adminToken,
					)
				).body.id,
			);
		await http.patch(`/products/${products[1]}`, { priceCents: 999, lowStockThreshold: 10 }, adminToken);
		await http.post(`/products/${products[2]}/restock`, { quantity: 5 }, adminToken);
		const buyers: Array<{ token: string; id: string }> = [];
		for (let i = 0; i < 3; i++) {
			const res = await http.post("/auth/register", { name: `Buyer ${i}`, email: `buyer${i}@parity.test`, password: "password-1" });
			buyers.push({ token: res.body.token, id: res.body.customer.id });
		}
		await http.patch("/customers/me", { name: "Buyer Zero" }, buyers[0].token);
		const orders: string[] = [];
		for (let i = 0; i < 6; i++) {
			const res = await http.post(
				"/orders",
				{
					items: [
						{ productId: products[i % 4], quantity: 1 + (i % 2) },
						{ productId: products[(i + 1) % 4], quantity: 1 },
					],
				},
				buyers[i % 3].token,
				{ "idempotency-key": `k-${i}` },
			);
			if (res.status === 201) orders.push(res.body.id);
		}
		await http.post("/orders", { items: [{ productId: products[0], quantity: 1 }] }, buyers[0].token, { "idempotency-key": "k-0" });
		await http.post("/orders", { items: [{ productId: products[3], quantity: 1000 }] }, buyers[1].token);
		await Promise.all([0, 1].map(i => http.post("/orders", { items: [{ productId: products[2], quantity: 3 }] }, buyers[i].token)));
		await http.post(`/orders/${orders[0]}/cancel`, {}, buyers[0].token);
		await http.patch(`/orders/${orders[1]}/status`, { status: "shipped" }, adminToken);
		await http.patch(`/orders/${orders[1]}/status`, { status: "delivered" }, adminToken);
		await http.post(`/orders/${orders[2]}/cancel`, {}, adminToken);
		await http.delete(`/products/${products[3]}`, adminToken);
		for (const path of ["/products?search=thing&sort=-priceCents", "/products?category=lamps&sort=name&pageSize=1&page=2", `/products?ids=${products.join(",")}`, "/categories"])
			await http.get(path);
		for (const path of [
			"/orders?status=confirmed",
			`/orders?customerId=${buyers[0].id}`,
			"/orders?pageSize=2&page=2",
			"/customers?pageSize=2",
			"/alerts?acknowledged=false",
			"/analytics/dashboard",
			"/analytics/sales?interval=month",
		])
			await http.get(path, adminToken);
		const alerts = (await http.get("/alerts", adminToken)).body.rows as Array<{ id: string }>;
		if (alerts.length) await http.post(`/alerts/${alerts[0].id}/ack`, {}, adminToken);
		await http.patch(`/customers/${buyers[2].id}`, { blocked: true }, adminToken);
		await http.get("/orders", buyers[1].token);
	} finally {
		await shop.stop();
	}
}

const fakeService = { logger: { warn: () => undefined }, settings: {}, schema: {} } as unknown as Service;

async function nedbFrom(docs: Doc[]): Promise<DbAdapter> {
	const adapter = adapters.createAdapter({ dataDir: ":memory:", sync: false }, "replay").adapter;
	adapter.init({} as ServiceBroker, fakeService);
	await adapter.connect();
	for (const doc of docs) await adapter.insert(copy(doc));
	return adapter;
}

function sortSpec(sort: string[] | undefined): Record<string, 1 | -1> | undefined {
	if (!sort?.length) return undefined;
	return Object.fromEntries(sort.map(s => (s.startsWith("-") ? [s.slice(1), -1] : [s, 1])));
}

/** The same op on MongoDB's semantics: what it answers, and the collection after it. */
function onMingo(op: Op, before: Doc[]): { answer: unknown; after: Doc[] } {
	type Row = Record<string, unknown> & { _id: string };
	const docs = copy(before) as Row[];
	switch (op.kind) {
		case "find": {
			let cursor = mingoFind(docs, op.params.query ?? {});
			const sort = sortSpec(op.params.sort);
			if (sort) cursor = cursor.sort(sort);
			if (op.params.offset) cursor = cursor.skip(op.params.offset);
			if (op.params.limit) cursor = cursor.limit(op.params.limit);
			return { answer: cursor.all(), after: docs };
		}
		case "findOne":
			return { answer: mingoFind(docs, op.query).limit(1).all()[0] ?? null, after: docs };
		case "count":
			return { answer: mingoFind(docs, op.query).all().length, after: docs };
		case "updateMany":
			return { answer: mingoUpdateMany(docs, op.query, op.update as never).matchedCount, after: docs };
		case "updateOne": {
			const target = mingoFind<Row>(docs, op.query).limit(1).all()[0];
			if (!target) return { answer: null, after: docs };
			mingoUpdateMany(docs, { _id: target._id }, op.update as never);
			return { answer: docs.find(d => d._id === target._id) ?? null, after: docs };
		}
		case "removeMany": {
			const gone = new Set(
				mingoFind<Row>(docs, op.query)
					.all()
					.map(d => d._id),
			);
			return { answer: gone.size, after: docs.filter(d => !gone.has(d._id)) };
		}
		case "readAll":
			return { answer: byId(docs), after: docs };
	}
}

async function onNedb(op: Op, before: Doc[]): Promise<{ answer: unknown; after: Doc[] }> {
	const adapter = await nedbFrom(before);
	try {
		const answer = await (async () => {
			switch (op.kind) {
				case "find":
					return adapter.find(copy(op.params));
				case "findOne":
					return adapter.findOne(copy(op.query));
				case "count":
					return adapter.count({ query: copy(op.query) });
				case "updateMany":
					return adapter.updateMany(copy(op.query), copy(op.update));
				case "updateOne":
					return adapter.updateOne(copy(op.query), copy(op.update));
				case "removeMany":
					return adapter.removeMany(copy(op.query));
				case "readAll":
					// In no promised order on either store.
					return byId([...(await adapter.readAll())]);
			}
		})();
		return { answer, after: await adapter.find({}) };
	} finally {
		await adapter.disconnect();
	}
}

describe("the embedded store speaks MongoDB's query and update language", () => {
	const recorded: Recorded[] = [];

	beforeAll(async () => {
		const restore = recordStores(recorded);
		try {
			await driveShop();
		} finally {
			restore();
		}
	}, 60_000);

	it("records the documents of every kind of call the services make", () => {
		const kinds = new Set(recorded.map(r => r.op.kind));
		for (const kind of ["find", "findOne", "count", "updateMany", "updateOne", "readAll"]) expect([kind, kinds.has(kind as Op["kind"])]).toEqual([kind, true]);
		const shapes = new Set(recorded.map(r => `${r.collection} ${r.op.kind} ${JSON.stringify(shape(r.op))}`));
		expect(shapes.size).toBeGreaterThanOrEqual(40);
		console.log(`store parity: ${recorded.length} calls of ${shapes.size} shapes over ${new Set(recorded.map(r => r.collection)).size} collections`);
	});

	it("answers every recorded call alike on NeDB and on MongoDB's semantics, and leaves the same collection", async () => {
		const mismatches: string[] = [];
		const seen = new Set<string>();
		for (const r of recorded) {
			const key = `${r.collection} ${JSON.stringify(r.op)} ${JSON.stringify(byId(r.before))}`;
			if (seen.has(key)) continue;
			seen.add(key);
			const nedb = await onNedb(r.op, r.before);
			const mongo = onMingo(r.op, r.before);
			const what = `${r.collection} ${r.op.kind} ${JSON.stringify(r.op).slice(0, 300)}`;
			if (JSON.stringify(nedb.answer) !== JSON.stringify(mongo.answer))
				mismatches.push(`${what}\n    NeDB  ${JSON.stringify(nedb.answer).slice(0, 400)}\n    Mongo ${JSON.stringify(mongo.answer).slice(0, 400)}`);
			else if (JSON.stringify(byId(nedb.after)) !== JSON.stringify(byId(mongo.after))) mismatches.push(`${what}: the collections differ afterwards`);
		}
		expect(mismatches).toEqual([]);
	}, 60_000);
});
