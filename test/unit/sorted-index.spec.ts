import fc from "fast-check";
import { SortedIndexTree } from "../../lib/db/sorted-index";

/* eslint-disable @typescript-eslint/no-require-imports -- NeDB's AVL tree and comparison, the reference the sorted array must answer like */
const { AVLTree } = require("@seald-io/binary-search-tree") as { AVLTree: new (opts: object) => Tree };
const model = require("@seald-io/nedb/lib/model") as { compareThings(a: unknown, b: unknown): number };
/* eslint-enable @typescript-eslint/no-require-imports */

interface Tree {
	insert(key: unknown, value: object): void;
	delete(key: unknown, value: object): void;
	search(key: unknown): object[];
	betweenBounds(query: object): object[];
	executeOnEveryNode(fn: (node: { key: unknown; data: object[] }) => void): void;
}

function all(tree: Tree | SortedIndexTree<object>): object[] {
	const out: object[] = [];
	tree.executeOnEveryNode(node => out.push(...node.data));
	return out;
}

/** As NeDB's index sees documents: by key, ties in any order (a set per key). */
function byKey(docs: object[]): string[] {
	return docs.map(d => (d as { k: string }).k);
}

describe("SortedIndexTree (a NeDB index's tree as a sorted array)", () => {
	it("holds, finds and bounds the same documents as NeDB's AVL tree, through any inserts and deletes (property; seed printed on failure)", () => {
		const op = fc.oneof(fc.record({ insert: fc.constant(true), key: fc.integer({ min: 0, max: 30 }) }), fc.record({ insert: fc.constant(false), pick: fc.nat() }));
		fc.assert(
			fc.property(fc.array(op, { maxLength: 200 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }), (ops, a, b) => {
				const avl = new AVLTree({ unique: false, compareKeys: model.compareThings, checkValueEquality: (x: unknown, y: unknown) => x === y });
				const sorted = new SortedIndexTree<object>((a, b) => model.compareThings(a, b));
				const live: Array<{ k: string }> = [];
				for (const o of ops) {
					if (o.insert) {
						const doc = { k: `key-${String(o.key).padStart(2, "0")}` };
						live.push(doc);
						avl.insert(doc.k, doc);
						sorted.insert(doc.k, doc);
					} else if (live.length) {
						const [doc] = live.splice(o.pick % live.length, 1);
						avl.delete(doc.k, doc);
						sorted.delete(doc.k, doc);
					}
				}
				const key = (n: number) => `key-${String(n).padStart(2, "0")}`;
				expect(byKey(all(sorted))).toEqual(byKey(all(avl)));
				expect(new Set(all(sorted))).toEqual(new Set(live));
				expect(new Set(sorted.search(key(a)))).toEqual(new Set(avl.search(key(a))));
				for (const q of [{ $gte: key(a), $lt: key(b) }, { $gt: key(a), $lte: key(b) }, { $gt: key(a) }, { $lte: key(b) }]) {
					expect(byKey(sorted.betweenBounds(q))).toEqual(byKey(avl.betweenBounds(q)));
				}
			}),
			{ seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31), verbose: true },
		);
	});

	it("keeps ties in insertion order, and an equal key inserted later goes after them", () => {
		const tree = new SortedIndexTree<string>((a, b) => model.compareThings(a, b));
		for (const [k, v] of [
			["b", "b1"],
			["a", "a1"],
			["b", "b2"],
			["c", "c1"],
			["a", "a2"],
		])
			tree.insert(k, v);
		expect(tree.values).toEqual(["a1", "a2", "b1", "b2", "c1"]);
		tree.delete("b", "b1");
		tree.insert("b", "b1");
		expect(tree.values).toEqual(["a1", "a2", "b2", "b1", "c1"]);
	});
});
