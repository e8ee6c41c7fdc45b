import type { ServiceBroker } from "moleculer";
import { isDeepStrictEqual } from "util";

/** A collection of an in-process service: its moleculer-db adapter, or another adapter it keeps (products' reservations). */
export interface Store {
	name: string;
	adapter: {
		find(params: { query: object }): Promise<any[]>;
		insert(doc: object): Promise<unknown>;
		removeMany(query: object): Promise<unknown>;
	};
}

export type Snapshot = Record<string, any[]>;

function isAdapter(value: any): value is Store["adapter"] {
	return !!value && typeof value === "object" && ["find", "insert", "removeMany", "findById"].every(m => typeof value[m] === "function");
}

/**
 * Every store of every local service: each service's `adapter` and any
 * other adapter it holds as a property, so a collection added later is
 * covered without a change here.
 */
export function storesOf(broker: ServiceBroker): Store[] {
	const stores: Store[] = [];
	for (const service of broker.services as any[]) {
		for (const key of Object.keys(service)) {
			if (isAdapter(service[key])) stores.push({ name: key === "adapter" ? service.fullName : `${service.fullName}.${key}`, adapter: service[key] });
		}
		// Second collections a service opened through the db mixin (products' reservations).
		(service.extraAdapters ?? []).forEach((adapter: unknown, i: number) => {
			if (isAdapter(adapter)) stores.push({ name: `${service.fullName}.collection${i + 1}`, adapter: adapter });
		});
	}
	return stores.sort((a, b) => a.name.localeCompare(b.name));
}

const byId = (a: any, b: any) => String(a._id).localeCompare(String(b._id));

/** Every document of every store, as plain JSON, each collection in `_id` order. */
export async function snapshot(stores: Store[]): Promise<Snapshot> {
	const out: Snapshot = {};
	for (const s of stores) out[s.name] = JSON.parse(JSON.stringify((await s.adapter.find({ query: {} })).sort(byId)));
	return out;
}

export function sameSnapshot(a: Snapshot, b: Snapshot): boolean {
	return isDeepStrictEqual(a, b);
}

/** What changed between two snapshots, one line per document (short enough for a test failure). */
export function describeChange(before: Snapshot, after: Snapshot, maxLines = 12): string {
	const lines: string[] = [];
	for (const name of Object.keys({ ...before, ...after })) {
		const was = new Map((before[name] ?? []).map(d => [String(d._id), d]));
		const now = new Map((after[name] ?? []).map(d => [String(d._id), d]));
		for (const [id, doc] of now) {
			const old = was.get(id);
			if (!old) lines.push(`${name}: added ${id} ${JSON.stringify(doc).slice(0, 240)}`);
			else if (!isDeepStrictEqual(old, doc)) {
				const fields = [...new Set([...Object.keys(old), ...Object.keys(doc)])].filter(k => !isDeepStrictEqual(old[k], doc[k]));
				lines.push(`${name}: changed ${id}: ${fields.map(f => `${f} ${JSON.stringify(old[f])?.slice(0, 60)} -> ${JSON.stringify(doc[f])?.slice(0, 60)}`).join(", ")}`);
			}
		}
		for (const id of was.keys()) if (!now.has(id)) lines.push(`${name}: removed ${id}`);
	}
	return lines.length > maxLines ? [...lines.slice(0, maxLines), `... and ${lines.length - maxLines} more`].join("\n") : lines.join("\n");
}

/** Put every store back as the snapshot has it. */
export async function restore(stores: Store[], snap: Snapshot): Promise<void> {
	for (const s of stores) {
		await s.adapter.removeMany({});
		for (const doc of snap[s.name] ?? []) await s.adapter.insert(JSON.parse(JSON.stringify(doc)));
	}
}

/** Resolves with a snapshot once the stores have not changed for `stableMs` (timers, events and channels done). */
export async function waitQuiet(stores: Store[], stableMs = 400, timeoutMs = 15_000): Promise<Snapshot> {
	const deadline = Date.now() + timeoutMs;
	let last = await snapshot(stores);
	let since = Date.now();
	for (;;) {
		await new Promise(r => setTimeout(r, 50));
		const now = await snapshot(stores);
		if (!sameSnapshot(now, last)) {
			last = now;
			since = Date.now();
		} else if (Date.now() - since >= stableMs) return now;
		if (Date.now() > deadline) throw new Error(`The stores did not settle in ${timeoutMs} ms`);
	}
}
