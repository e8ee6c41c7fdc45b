import { LRUCache } from "lru-cache";
import type { CacheVersions, VersionRead } from "./cache-versions";

/**
 * The versions a read request will check, read once when it arrives, in one
 * round trip: the gateway's token check (customers) and the action's cached
 * answer (its service) then cost one Redis call, not one each. Taken after
 * the request arrived, so a write answered before it is seen, as with a
 * read at each call. Only for requests that only read: a request that
 * writes must see its own writes, so its later reads read again.
 *
 * Kept under a symbol in the request's meta: Moleculer copies it into the
 * contexts of the request's calls on this node, and never sends it to
 * another (a symbol key is not serialised).
 */
const SNAPSHOT = Symbol("versionSnapshot");

type SnapshotMeta = { [SNAPSHOT]?: Promise<Map<string, VersionRead>> };

/** Reads these services' versions now, for the rest of this read request; answers the read. */
export function takeSnapshot(meta: object, versions: CacheVersions, services: readonly string[]): Promise<Map<string, VersionRead>> {
	const read = versions.readMany(services.filter((s, i) => services.indexOf(s) === i));
	// Whoever uses the snapshot gets the failure; unused, it must not be an unhandled rejection.
	read.catch(() => undefined);
	(meta as SnapshotMeta)[SNAPSHOT] = read;
	return read;
}

/** A service's version: the request's snapshot holds it, or a read now. */
export async function versionOf(meta: object, versions: CacheVersions, service: string): Promise<VersionRead> {
	const snapshot = await (meta as SnapshotMeta)[SNAPSHOT];
	return snapshot?.get(service) ?? versions.read(service);
}

/**
 * Answers kept under the version of their service they were read at: an
 * entry is served only while that version is still current, and stored
 * only when no write held a lease then (lib/infra/cache-versions.ts).
 * Bounded in entries and in bytes.
 */
export class VersionedEntries<V> {
	private readonly entries: LRUCache<string, { tag: string; value: V; size: number }>;

	constructor(bounds: { maxEntries: number; maxBytes: number }) {
		this.entries = new LRUCache({ max: bounds.maxEntries, maxSize: bounds.maxBytes, sizeCalculation: (entry, key) => Math.max(1, key.length + entry.size) });
	}

	/** The value kept under this very version, if any. */
	get(key: string, read: VersionRead): V | undefined {
		const hit = this.entries.get(key);
		return hit && hit.tag === read.version ? hit.value : undefined;
	}

	/** Keeps a value read at `read` (the version read *before* asking), unless a write held a lease then. */
	set(key: string, read: VersionRead, value: V, size: number, ttlMs = 0): void {
		if (read.writing) return;
		this.entries.set(key, { tag: read.version, value, size }, ttlMs > 0 ? { ttl: ttlMs } : undefined);
	}
}
