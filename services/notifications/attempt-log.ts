import type { DbAdapter, Doc } from "../../lib/db/adapter";
import { newId } from "../../lib/db/ids";
import { pageWindow, toPage, type Page } from "../../lib/contracts/pagination";
import type { AttemptResult } from "./webhook-sender";

/**
 * Every attempt at an endpoint (deliveries, redeliveries, test pings):
 * when, the status, the latency, the error. Bounded: older than the
 * retention is dropped, and past the cap an endpoint's oldest go.
 */

export interface Attempt {
	id: string;
	endpointId: string;
	/** The delivery's event, or `ping`. */
	eventId: string;
	type: string;
	at: string;
	ok: boolean;
	status: number | null;
	latencyMs: number;
	error: string | null;
}

export interface AttemptDoc extends Doc, Omit<Attempt, "id"> {
	atMs: number;
}

export const ATTEMPT_FIELDS = ["id", "endpointId", "eventId", "type", "at", "ok", "status", "latencyMs", "error"] as const;

const toPublic = (doc: AttemptDoc): Attempt => ({
	id: doc._id,
	endpointId: doc.endpointId,
	eventId: doc.eventId,
	type: doc.type,
	at: doc.at,
	ok: doc.ok,
	status: doc.status,
	latencyMs: doc.latencyMs,
	error: doc.error,
});

export class AttemptLog {
	constructor(
		private readonly store: DbAdapter<AttemptDoc>,
		private readonly limits: { retentionDays: number; maxPerEndpoint: number },
		private readonly now: () => number = Date.now,
	) {}

	async record(endpointId: string, eventId: string, type: string, result: AttemptResult): Promise<Attempt> {
		const atMs = this.now();
		const doc = await this.store.insert({ _id: newId(), endpointId, eventId, type, at: new Date(atMs).toISOString(), atMs, ...result });
		return toPublic(doc);
	}

	async page(endpointId: string, page: number, pageSize: number): Promise<Page<Attempt>> {
		const query = { endpointId };
		const [docs, total] = await Promise.all([this.store.find({ query, sort: ["-atMs"], ...pageWindow(page, pageSize) }), this.store.count({ query })]);
		return toPage(docs.map(toPublic), total, page, pageSize);
	}

	/** Drops what is past the retention, then each endpoint's oldest past the cap; how many went. */
	async prune(endpointIds: readonly string[]): Promise<number> {
		let removed = await this.store.removeMany({ atMs: { $lt: this.now() - this.limits.retentionDays * 86_400_000 } });
		for (const endpointId of endpointIds) {
			const [oldestKept] = await this.store.find({ query: { endpointId }, sort: ["-atMs"], offset: this.limits.maxPerEndpoint - 1, limit: 1 });
			if (oldestKept) removed += await this.store.removeMany({ endpointId, atMs: { $lt: oldestKept.atMs } });
		}
		return removed;
	}

	removeOf(endpointId: string): Promise<number> {
		return this.store.removeMany({ endpointId });
	}
}
