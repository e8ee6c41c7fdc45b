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
	/** Epoch ms when it is next tried; a node working on it pushed it past its attempt's deadline (a lease). */
	dueAt: number;
	lastError: string | null;
	createdAt: string;
	updatedAt: string;
	deliveredAt?: string;
}

/** A settled delivery's `dueAt`: past every due query, so the index on `dueAt` leads a round to pending deliveries only. */
const NEVER = Number.MAX_SAFE_INTEGER;

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
		const existing = await this.events.findById(event.id);
		if (existing?.fannedOut) return false;
		if (!existing) {
			const { id, ...rest } = event;
			await insertOnce(this.events, { _id: id, ...rest, fannedOut: false, createdAt: new Date(this.now()).toISOString() });
			crashPoint("notify.after-event");
		}
		for (const target of await targetsOf(event)) await this.enqueue(event.id, event.type, target);
		crashPoint("notify.after-deliveries");
		await this.events.updateById(event.id, { $set: { fannedOut: true } });
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

	event(id: string): Promise<EventDoc | null> {
		return this.events.findById(id);
	}

	delivery(id: string): Promise<DeliveryDoc | null> {
		return this.deliveries.findById(id);
	}

	/**
	 * Pending deliveries whose time has come, the oldest first. No sort in
	 * the query: the store then reads only the index's range of `dueAt` up to
	 * now (settled deliveries sit at NEVER), instead of walking every
	 * delivery in order.
	 */
	async due(limit: number): Promise<DeliveryDoc[]> {
		const docs = await this.deliveries.find({ query: { state: "pending", dueAt: { $lte: this.now() } }, limit });
		return docs.sort((a, b) => a.dueAt - b.dueAt);
	}

	/** Takes a due delivery for one attempt: no other node takes it until `leaseMs` have passed (if this one dies, it is due again then). */
	async claim(doc: DeliveryDoc, leaseMs: number): Promise<boolean> {
		return (await this.deliveries.updateOne({ _id: doc._id, state: "pending", dueAt: doc.dueAt }, { $set: { dueAt: this.now() + leaseMs } })) !== null;
	}

	async delivered(doc: DeliveryDoc): Promise<void> {
		const at = new Date(this.now()).toISOString();
		await this.deliveries.updateById(doc._id, {
			$set: { state: "delivered", dueAt: NEVER, deliveredAt: at, updatedAt: at, lastError: null },
			$inc: { attempts: 1 },
			$unset: { "mail.sealed": true },
		});
	}

	/** After a failed attempt: due again after the schedule's next delay, with jitter, or dead-lettered after its last. */
	async failed(doc: DeliveryDoc, error: string, scheduleMs: readonly number[], random: () => number = Math.random): Promise<DeliveryState> {
		const attempts = doc.attempts + 1;
		const delay = scheduleMs[attempts - 1];
		const state: DeliveryState = delay === undefined ? "dead" : "pending";
		// Equal jitter: half the delay, plus up to the other half at random.
		const dueAt = delay === undefined ? NEVER : this.now() + Math.round(delay / 2 + (random() * delay) / 2);
		await this.deliveries.updateById(doc._id, { $set: { state, attempts, dueAt, lastError: error, updatedAt: new Date(this.now()).toISOString() } });
		return state;
	}

	/** Never tried again (its endpoint is gone or disabled, its customer unknown). */
	async bury(doc: DeliveryDoc, error: string): Promise<void> {
		await this.deliveries.updateById(doc._id, { $set: { state: "dead", dueAt: NEVER, lastError: error, updatedAt: new Date(this.now()).toISOString() } });
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
		for (const e of stale) if ((await this.deliveries.count({ query: { eventId: e._id } })) === 0) events += await this.events.removeMany({ _id: e._id });
		return deliveries + events;
	}

	/** How many deliveries are in each state. */
	async counts(query: Record<string, unknown> = {}): Promise<Record<DeliveryState, number>> {
		const [pending, delivered, dead] = await Promise.all((["pending", "delivered", "dead"] as const).map(state => this.deliveries.count({ query: { ...query, state } })));
		return { pending, delivered, dead };
	}
}
