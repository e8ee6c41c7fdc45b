import crypto from "crypto";
import { LRUCache } from "lru-cache";
import type { DbAdapter, Doc } from "../../lib/db/adapter";
import { isDuplicateKeyError } from "../../lib/db/adapter";
import { crashPoint } from "../../lib/infra/crash-points";
import type { MailTemplate } from "../../lib/contracts/notifications";
import type { NotificationEvent } from "./events";

/**
 * The notifications store's durable outbox: each event once, and one
 * delivery per receiver (a webhook endpoint, a mailbox), pending until it
 * is delivered or dead-lettered. The embedded default's channel adapter
 * forgets a message once handled; this store does not, so a delivery that
 * a node was making when it died is made after the restart.
 */

export interface EventDoc extends Doc, Omit<NotificationEvent, "id"> {
	/** Set once its deliveries are stored: a message handled again fans out only an event that has not been. */
	fannedOut: boolean;
	createdAt: string;
}

export interface MailTarget {
	template: MailTemplate;
	/** An address; or the customer's, looked up when it is sent. */
	to?: string;
	customerId?: string;
	/** What the template reads besides the event (a reset's link is sealed under the secret key until sent). */
	data?: Record<string, unknown>;
	sealed?: string;
}

export type Target = { channel: "webhook"; endpointId: string } | { channel: "mail"; key: string; mail: MailTarget };

export type DeliveryState = "pending" | "delivered" | "dead";

export interface DeliveryDoc extends Doc {
	/** The event it delivers; a mail of its own (a password reset) has none. */
	eventId: string | null;
	type: string;
	channel: "webhook" | "mail";
	endpointId?: string;
	mail?: MailTarget;
	state: DeliveryState;
	attempts: number;
	/**
	 * Epoch ms when it is next tried; a node working on it pushed it past its
	 * attempt's deadline (a lease). Unset once settled: the index on it is
	 * sparse, so it holds the pending deliveries only (older stores' settled
	 * deliveries kept MAX_SAFE_INTEGER, past every due query).
	 */
	dueAt?: number;
	/** The batch of claims that took it last (see claim). */
	claim?: string;
	lastError: string | null;
	createdAt: string;
	updatedAt: string;
	deliveredAt?: string;
}

/** Events kept in memory once recorded or read, for the deliveries that follow (an event never changes but for `fannedOut`): at most this many, and this many bytes of their JSON. */
const RECENT_EVENTS = { max: 5000, maxSize: 16 * 1024 * 1024, sizeCalculation: (doc: EventDoc) => Buffer.byteLength(JSON.stringify(doc)) };

export const deliveryId = (eventId: string, target: Target) => `${eventId}>${target.channel === "webhook" ? `webhook:${target.endpointId}` : `mail:${target.key}`}`;

async function insertOnce<T extends Doc>(adapter: DbAdapter<T>, doc: T): Promise<boolean> {
	try {
		await adapter.insert(doc);
		return true;
	} catch (err) {
		if (isDuplicateKeyError(err)) return false;
		throw err;
	}
}

export class Outbox {
	/** The latest events, oldest first: each delivery of one reads it, and most are made within seconds of its recording. */
	private readonly recent = new LRUCache<string, EventDoc>(RECENT_EVENTS);
	/** The events being recorded on this node, each by one record at a time. */
	private readonly recording = new Map<string, Promise<boolean>>();
	/** The deliveries settled as delivered in this turn, written together at its end. */
	private settling: { ids: string[]; written: Promise<void> } | undefined;

	constructor(
		private readonly events: DbAdapter<EventDoc>,
		private readonly deliveries: DbAdapter<DeliveryDoc>,
		private readonly now: () => number = Date.now,
	) {}

	/**
	 * Stores the event and a delivery for each of its receivers, each write
	 * idempotent; true when deliveries were stored. Handled again after a
	 * crash between two writes, it finishes what was left.
	 */
	async record(event: NotificationEvent, targetsOf: (event: NotificationEvent) => Promise<Target[]>): Promise<boolean> {
		// Two messages of one order carry the same events (a status and a payment sent together): on this node, one records an event at a time.
		const before = this.recording.get(event.id);
		const mine = (before ?? Promise.resolve(false)).catch(() => false).then(() => this.recordOnce(event, targetsOf));
		this.recording.set(event.id, mine);
		const forget = () => void (this.recording.get(event.id) === mine && this.recording.delete(event.id));
		mine.then(forget, forget);
		return mine;
	}

	private async recordOnce(event: NotificationEvent, targetsOf: (event: NotificationEvent) => Promise<Target[]>): Promise<boolean> {
		if (this.recent.get(event.id)?.fannedOut) return false;
		const existing = await this.events.findById(event.id);
		if (existing?.fannedOut) return false;
		if (!existing) {
			const { id, ...rest } = event;
			const doc: EventDoc = { _id: id, ...rest, fannedOut: false, createdAt: new Date(this.now()).toISOString() };
			await insertOnce(this.events, doc);
			this.remember(doc);
			crashPoint("notify.after-event");
		} else this.remember(existing);
		// Side by side: one sync of the file for all of them.
		await Promise.all((await targetsOf(event)).map(target => this.enqueue(event.id, event.type, target)));
		crashPoint("notify.after-deliveries");
		await this.events.updateById(event.id, { $set: { fannedOut: true } });
		const kept = this.recent.get(event.id);
		if (kept) this.recent.set(event.id, { ...kept, fannedOut: true });
		return true;
	}

	/** A pending delivery of an event (or of a mail of its own, `eventId` a key of it), once. */
	async enqueue(eventId: string, type: string, target: Target): Promise<void> {
		const at = new Date(this.now()).toISOString();
		await insertOnce(this.deliveries, {
			_id: deliveryId(eventId, target),
			eventId: target.channel === "mail" && target.mail.data ? null : eventId,
			type,
			channel: target.channel,
			...(target.channel === "webhook" ? { endpointId: target.endpointId } : { mail: target.mail }),
			state: "pending",
			attempts: 0,
			dueAt: this.now(),
			lastError: null,
			createdAt: at,
			updatedAt: at,
		});
	}

	/** The event (shared, not a copy: read it, never change it). */
	async event(id: string): Promise<EventDoc | null> {
		const kept = this.recent.get(id);
		if (kept) return kept;
		const doc = await this.events.findById(id);
		if (doc) this.remember(doc);
		return doc;
	}

	private remember(doc: EventDoc): void {
		if (!this.recent.has(doc._id)) this.recent.set(doc._id, doc);
	}

	delivery(id: string): Promise<DeliveryDoc | null> {
		return this.deliveries.findById(id);
	}

	/**
	 * Pending deliveries whose time has come, the oldest first, but for the
	 * lanes that are `full` on this node. The sparse, sorted index on `dueAt`
	 * holds pending deliveries only: the store walks its range up to now in
	 * order and stops at `limit`, so a backlog costs a read what a batch
	 * costs (NeDB's own find took every due delivery as a candidate first).
	 */
	async due(limit: number, full: { mail: boolean; endpoints: readonly string[] } = { mail: false, endpoints: [] }): Promise<DeliveryDoc[]> {
		const query: Record<string, unknown> = { state: "pending", dueAt: { $lte: this.now() } };
		// Lanes that cannot take more now are left out, so that their backlog does not fill the batch.
		if (full.mail) query.channel = "webhook";
		if (full.endpoints.length) query.endpointId = { $nin: full.endpoints };
		return this.deliveries.find({ query, limit, sort: ["dueAt"] });
	}

	/**
	 * Takes due deliveries for one attempt each, in two steps whatever their
	 * number: no other node takes them until `leaseMs` have passed (if this
	 * one dies, they are due again then). Answers the ones taken, as they
	 * are now (a copy read earlier may be behind a failure another node
	 * recorded since); one that another node holds, or settled, is left out.
	 */
	async claim(docs: readonly DeliveryDoc[], leaseMs: number): Promise<Map<string, DeliveryDoc>> {
		const ids = docs.map(d => d._id);
		const now = this.now();
		const claim = crypto.randomBytes(9).toString("base64url");
		await this.deliveries.updateMany({ _id: { $in: ids }, state: "pending", dueAt: { $lte: now } }, { $set: { dueAt: now + leaseMs, claim } });
		const taken = await this.deliveries.find({ query: { _id: { $in: ids }, claim } });
		return new Map(taken.map(d => [d._id, d]));
	}

	/**
	 * Settled as delivered. The deliveries settled in one event-loop turn are
	 * written by one update (the same change for each), answered together
	 * once it is synced: under a backlog, one store call per turn instead of
	 * one per delivery.
	 */
	delivered(doc: DeliveryDoc): Promise<void> {
		if (!this.settling) {
			const batch = { ids: [] as string[], written: Promise.resolve() };
			batch.written = new Promise<void>(resolve => setImmediate(resolve)).then(() => {
				this.settling = undefined;
				return this.markDelivered(batch.ids);
			});
			this.settling = batch;
		}
		this.settling.ids.push(doc._id);
		return this.settling.written;
	}

	private async markDelivered(ids: string[]): Promise<void> {
		const at = new Date(this.now()).toISOString();
		await this.deliveries.updateMany(
			{ _id: { $in: ids } },
			{
				$set: { state: "delivered", deliveredAt: at, updatedAt: at, lastError: null },
				$inc: { attempts: 1 },
				$unset: { dueAt: true, "mail.sealed": true },
			},
		);
	}

	/** After a failed attempt: due again after the schedule's next delay, with jitter, or dead-lettered after its last. */
	async failed(doc: DeliveryDoc, error: string, scheduleMs: readonly number[], random: () => number = Math.random): Promise<DeliveryState> {
		const attempts = doc.attempts + 1;
		const delay = scheduleMs[attempts - 1];
		const state: DeliveryState = delay === undefined ? "dead" : "pending";
		// Equal jitter: half the delay, plus up to the other half at random.
		const set = { state, attempts, lastError: error, updatedAt: new Date(this.now()).toISOString() };
		if (delay === undefined) await this.deliveries.updateById(doc._id, { $set: set, $unset: { dueAt: true } });
		else await this.deliveries.updateById(doc._id, { $set: { ...set, dueAt: this.now() + Math.round(delay / 2 + (random() * delay) / 2) } });
		return state;
	}

	/** Never tried again (its endpoint is gone or disabled, its customer unknown). */
	async bury(doc: DeliveryDoc, error: string): Promise<void> {
		await this.deliveries.updateById(doc._id, { $set: { state: "dead", lastError: error, updatedAt: new Date(this.now()).toISOString() }, $unset: { dueAt: true } });
	}

	/** Pending again, from its first try: the same id, so the receiver can tell it is the same event. */
	async redeliver(id: string): Promise<DeliveryDoc | null> {
		return this.deliveries.updateOne({ _id: id }, { $set: { state: "pending", attempts: 0, dueAt: this.now(), lastError: null, updatedAt: new Date(this.now()).toISOString() } });
	}

	/** Drops settled deliveries (delivered or dead) last changed before `before`, and events older than it whose deliveries are all gone: the store stays bounded. */
	async prune(before: Date): Promise<number> {
		const at = before.toISOString();
		const deliveries = await this.deliveries.removeMany({ state: { $in: ["delivered", "dead"] }, updatedAt: { $lt: at } });
		const stale = await this.events.find({ query: { createdAt: { $lt: at } }, limit: 1000 });
		let events = 0;
		for (const e of stale) {
			if ((await this.deliveries.count({ query: { eventId: e._id } })) > 0) continue;
			events += await this.events.removeMany({ _id: e._id });
			this.recent.delete(e._id);
		}
		return deliveries + events;
	}

	/** How many deliveries are in each state. */
	async counts(query: Record<string, unknown> = {}): Promise<Record<DeliveryState, number>> {
		const [pending, delivered, dead] = await Promise.all((["pending", "delivered", "dead"] as const).map(state => this.deliveries.count({ query: { ...query, state } })));
		return { pending, delivered, dead };
	}
}
