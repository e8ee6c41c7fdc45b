/**
 * The tree of a NeDB index kept as two parallel arrays sorted by key (ties
 * in insertion order), for an index that pages are sorted on. NeDB's own
 * AVL tree can only be walked whole (`getAll` builds an array of every
 * document: ~15 ms at 50,000 orders), so a page and a count cost the whole
 * collection; here the n-th document is `values[n]`, and the count is the
 * length. Writes are append-mostly (createdAt grows), so an insert is a
 * push; an update removes and re-inserts near the end.
 *
 * It answers the calls NeDB's Index makes on its tree (@seald-io/nedb 3.1,
 * lib/indexes.js): insert, delete, search, betweenBounds, executeOnEveryNode.
 * Not for a unique index (it does not refuse duplicates).
 */
/** A range on the index's field, as a query writes it. */
export type Bounds = { $gt?: unknown; $gte?: unknown; $lt?: unknown; $lte?: unknown };

const BOUND_OPERATORS = ["$gt", "$gte", "$lt", "$lte"];

/** A query's condition on a field that is a range and nothing else (`{ $lte: now }`): it holds only where the field is set. */
export function isRange(condition: unknown): condition is Bounds {
	if (typeof condition !== "object" || condition === null || Array.isArray(condition) || condition instanceof Date) return false;
	const ops = Object.keys(condition);
	return ops.length > 0 && ops.every(op => BOUND_OPERATORS.includes(op));
}

export class SortedIndexTree<V> {
	readonly keys: unknown[] = [];
	readonly values: V[] = [];

	constructor(private readonly compare: (a: unknown, b: unknown) => number) {}

	/** The first position whose key is not below `key` (above it, when `past`). */
	private bound(key: unknown, past: boolean): number {
		let lo = 0;
		let hi = this.keys.length;
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			const cmp = this.compare(this.keys[mid], key);
			if (cmp < 0 || (past && cmp === 0)) lo = mid + 1;
			else hi = mid;
		}
		return lo;
	}

	insert(key: unknown, value: V): void {
		const n = this.keys.length;
		if (n === 0 || this.compare(this.keys[n - 1], key) <= 0) {
			this.keys.push(key);
			this.values.push(value);
			return;
		}
		const at = this.bound(key, true);
		this.keys.splice(at, 0, key);
		this.values.splice(at, 0, value);
	}

	delete(key: unknown, value: V): void {
		for (let i = this.bound(key, false); i < this.keys.length && this.compare(this.keys[i], key) === 0; i++) {
			if (this.values[i] !== value) continue;
			this.keys.splice(i, 1);
			this.values.splice(i, 1);
			return;
		}
	}

	search(key: unknown): V[] {
		const out: V[] = [];
		for (let i = this.bound(key, false); i < this.keys.length && this.compare(this.keys[i], key) === 0; i++) out.push(this.values[i]);
		return out;
	}

	betweenBounds(query: Bounds): V[] {
		const [from, to] = this.positions(query);
		return from < to ? this.values.slice(from, to) : [];
	}

	/** The positions `[from, to)` of the keys within the bounds. */
	positions(query: Bounds): [number, number] {
		const has = (op: string) => Object.prototype.hasOwnProperty.call(query, op);
		const from = has("$gt") ? this.bound(query.$gt, true) : has("$gte") ? this.bound(query.$gte, false) : 0;
		const to = has("$lt") ? this.bound(query.$lt, false) : has("$lte") ? this.bound(query.$lte, true) : this.keys.length;
		return [from, Math.max(from, to)];
	}

	executeOnEveryNode(fn: (node: { key: unknown; data: V[] }) => void): void {
		for (let i = 0; i < this.keys.length; i++) fn({ key: this.keys[i], data: [this.values[i]] });
	}
}
