import crypto from "crypto";
import { crashPoint } from "../../lib/infra/crash-points";
import type { NotificationSettings } from "../../lib/infra/settings";
import type { AttemptLog, Attempt } from "./attempt-log";
import type { EndpointDoc, Endpoints } from "./endpoints";
import { eventMailData } from "./mail-content";
import type { MailTransport, Templates } from "./mailer";
import type { DeliveryDoc, Outbox } from "./outbox";
import { decrypt, signatureHeaders } from "./signing";
import type { WebhookSender } from "./webhook-sender";

/** Why something sealed under the shop's key (an endpoint's secret, a reset link) cannot be read, as an attempt records it. */
const KEY_CHANGED = "WEBHOOK_SECRET_KEY (or the JWT_SECRET it comes from) changed since it was sealed";
const UNREADABLE_SECRET = `the endpoint's secret cannot be read: ${KEY_CHANGED}; rotate the endpoint's secret`;
const UNREADABLE_LINK = `the mail's link cannot be read: ${KEY_CHANGED}`;

/**
 * Works the outbox off the answer path: right after an event is recorded
 * (a kick) and every `pollMs`, it takes due deliveries (a claim that no
 * other node repeats while the attempt may run), at most `concurrency` at
 * a time per endpoint (and for mail), and settles each: delivered, due
 * again after the schedule's delay, or dead-lettered.
 */

export interface Recipient {
	name: string;
	email: string;
}

export interface DispatcherDeps {
	outbox: Outbox;
	endpoints: Endpoints;
	sender: WebhookSender;
	attempts: AttemptLog;
	templates: Templates;
	transport: MailTransport;
	settings: NotificationSettings;
	/** The customer's name and address, or null when there is no such customer. */
	customer(id: string): Promise<Recipient | null>;
	/** An endpoint this failure disabled. */
	disabled(endpoint: EndpointDoc): Promise<void>;
	logger: { warn(...args: unknown[]): void };
}

const BATCH = 500;

const laneOf = (doc: DeliveryDoc) => (doc.channel === "webhook" ? `webhook:${doc.endpointId}` : "mail");
/** A claimed attempt's lease, beyond its timeout: another node takes the delivery only after it. */
const LEASE_MARGIN_MS = 5000;

export class Dispatcher {
	private readonly inflight = new Map<string, number>();
	/** Failed attempts per endpoint on this node: a success resets the endpoint's streak only when one may have grown it since it was read. */
	private readonly failures = new Map<string, number>();
	private readonly running = new Set<Promise<void>>();
	private kicked = false;
	private refresh = false;
	/** Due deliveries read from the store, not started yet (their lane was full). */
	private queue: DeliveryDoc[] = [];
	/** Deliveries under way on this node. */
	private readonly taken = new Set<string>();
	/**
	 * The full lanes of the last read, when it found nothing that could
	 * start: reading again while the same lanes are full finds nothing new
	 * but what a refresh announces (a webhook recorded here, the poll for
	 * other nodes' work), and it walks the full lanes' backlog each time.
	 */
	private fruitlessWithout: string | null = null;
	private stopped = false;
	private timer?: NodeJS.Timeout;

	constructor(private readonly deps: DispatcherDeps) {}

	start(): void {
		this.timer = setInterval(() => this.kick(true), this.deps.settings.pollMs);
		this.kick();
	}

	/** Stops taking work, and waits for the attempts under way. */
	async stop(): Promise<void> {
		this.stopped = true;
		clearInterval(this.timer);
		this.deps.sender.abortAll();
		await this.drain();
		this.deps.sender.close();
	}

	/** A round soon, once per turn however often it is asked; `refresh` reads the store again even if due work is queued. */
	kick(refresh = false): void {
		this.refresh ||= refresh;
		if (this.kicked || this.stopped) return;
		this.kicked = true;
		setImmediate(() => {
			this.kicked = false;
			this.round().catch((err: Error) => this.deps.logger.warn("A delivery round failed; the next one retries", err.message));
		});
	}

	/** Waits until no attempt is under way. */
	async drain(): Promise<void> {
		while (this.running.size) await Promise.allSettled([...this.running]);
	}

	/**
	 * Starts due deliveries, within each lane's limit. What is due is read
	 * from the store in batches (when nothing queued can start, and at each
	 * poll), not after every attempt: under a backlog a read costs the backlog.
	 */
	async round(): Promise<void> {
		const { concurrency, timeoutMs } = this.deps.settings;
		const room = (lane: string) => (this.inflight.get(lane) ?? 0) < concurrency;
		// Read again too when nothing queued can start: the queue may hold only a full lane's deliveries (mail, behind its
		// backlog) while other lanes idle. The read leaves full lanes out, so their backlog never hides the others' work.
		const full = [...this.inflight].filter(([, n]) => n >= concurrency).map(([lane]) => lane);
		const leftOut = full.length ? full.sort().join(" ") : null;
		const stale = !this.queue.some(d => room(laneOf(d))) && (leftOut === null || leftOut !== this.fruitlessWithout);
		if (this.refresh || stale) {
			this.refresh = false;
			const due = await this.deps.outbox.due(BATCH, { mail: full.includes("mail"), endpoints: full.filter(l => l !== "mail").map(l => l.slice("webhook:".length)) });
			const fresh = due.filter(d => !this.taken.has(d._id));
			// The read left the full lanes out: their queued deliveries stay (dropped, they would be read again, the backlog with them),
			// as many as the batch holds beside what was read: the queue stays one batch, however many lanes fill and empty.
			const kept = this.queue.filter(d => full.includes(laneOf(d))).slice(0, Math.max(0, BATCH - fresh.length));
			this.queue = [...kept, ...fresh];
			this.fruitlessWithout = fresh.some(d => room(laneOf(d))) ? null : leftOut;
		}
		const waiting: DeliveryDoc[] = [];
		const picked: DeliveryDoc[] = [];
		for (const doc of this.queue) {
			const lane = laneOf(doc);
			if (!room(lane) || this.stopped) {
				waiting.push(doc);
				continue;
			}
			this.inflight.set(lane, (this.inflight.get(lane) ?? 0) + 1);
			this.taken.add(doc._id);
			picked.push(doc);
		}
		this.queue = waiting;
		if (!picked.length) return;
		// One claim for the round's deliveries (a write and a read), not a write per delivery.
		const claiming = this.deps.outbox.claim(picked, timeoutMs + LEASE_MARGIN_MS);
		for (const doc of picked) {
			const lane = laneOf(doc);
			const work = claiming
				.then(claimed => {
					const fresh = claimed.get(doc._id);
					return fresh ? this.attempt(fresh) : undefined;
				})
				.catch((err: Error) => {
					if (!this.stopped) this.deps.logger.warn(`Delivery ${doc._id} failed unexpectedly; it is due again after its lease`, err.message);
				})
				.finally(() => {
					this.leave(lane, doc);
					this.taken.delete(doc._id);
					this.running.delete(work);
					this.kick();
				});
			this.running.add(work);
		}
	}

	/** An attempt is done: a lane with none left in flight is forgotten, with its endpoint's failure count (no attempt holds a count read before). */
	private leave(lane: string, doc: DeliveryDoc): void {
		const left = (this.inflight.get(lane) ?? 1) - 1;
		if (left > 0) return void this.inflight.set(lane, left);
		this.inflight.delete(lane);
		if (doc.endpointId) this.failures.delete(doc.endpointId);
	}

	private attempt(doc: DeliveryDoc): Promise<void> {
		crashPoint("deliver.after-claim");
		return doc.channel === "webhook" ? this.deliverWebhook(doc) : this.deliverMail(doc);
	}

	private async deliverWebhook(doc: DeliveryDoc): Promise<void> {
		const { outbox, endpoints, settings } = this.deps;
		const failuresBefore = this.failures.get(doc.endpointId!) ?? 0;
		const endpoint = await endpoints.get(doc.endpointId!);
		if (!endpoint || !endpoint.enabled) return outbox.bury(doc, endpoint ? "the endpoint is disabled" : "the endpoint was removed");
		const event = doc.eventId ? await outbox.event(doc.eventId) : null;
		if (!event) return outbox.bury(doc, "the event is missing");
		const body = JSON.stringify({ type: event.type, timestamp: event.occurredAt, data: event.data });
		const result = await this.send(endpoint, event._id, event.type, body);
		crashPoint("deliver.after-send");
		if (result.ok) {
			await outbox.delivered(doc);
			// No write when it changes nothing: the streak was 0 when read, and no failure here since (another node's is reset by its own next success).
			if (endpoint.failureStreak !== 0 || (this.failures.get(endpoint._id) ?? 0) !== failuresBefore) await endpoints.succeeded(endpoint._id);
			return;
		}
		this.failures.set(endpoint._id, (this.failures.get(endpoint._id) ?? 0) + 1);
		await outbox.failed(doc, result.error ?? "failed", settings.retryScheduleMs);
		const disabled = await endpoints.failed(endpoint._id, settings.disableAfter);
		if (disabled) await this.deps.disabled(disabled);
	}

	/** One signed POST, logged in the endpoint's attempts. An endpoint whose secret cannot be read is a failed attempt: nothing goes out unsigned, and the failures count toward disabling it. */
	async send(endpoint: EndpointDoc, id: string, type: string, body: string): Promise<Attempt> {
		let secret: string;
		try {
			secret = this.deps.endpoints.secretOf(endpoint);
		} catch {
			return this.deps.attempts.record(endpoint._id, id, type, { ok: false, status: null, latencyMs: 0, error: UNREADABLE_SECRET });
		}
		const headers = signatureHeaders(secret, id, Math.floor(Date.now() / 1000), body);
		const result = await this.deps.sender.send(endpoint.url, headers, body);
		// Cut short by a stop: nothing is recorded, and the delivery is due again once its lease ends.
		if (this.stopped) throw new Error(`Attempt at ${endpoint._id} ended by the node's stop`);
		return this.deps.attempts.record(endpoint._id, id, type, result);
	}

	/** A test ping: sent now, outside the outbox, logged like a delivery. */
	ping(endpoint: EndpointDoc): Promise<Attempt> {
		const id = `ping_${crypto.randomBytes(12).toString("hex")}`;
		return this.send(endpoint, id, "ping", JSON.stringify({ type: "ping", timestamp: new Date().toISOString(), data: { endpointId: endpoint._id } }));
	}

	private async deliverMail(doc: DeliveryDoc): Promise<void> {
		const { outbox, settings, templates, transport } = this.deps;
		const mail = doc.mail!;
		const recipient = mail.to ? { name: "", email: mail.to } : await this.deps.customer(mail.customerId!);
		if (!recipient) return outbox.bury(doc, "no such customer");
		const event = doc.eventId ? await outbox.event(doc.eventId) : null;
		let link: string | undefined;
		try {
			link = mail.sealed ? decrypt(settings.secretKey, mail.sealed) : undefined;
		} catch {
			// Sealed under another key: retried on the schedule (a node holding that key may send it), then given up; the customer asks for a new link.
			return void (await outbox.failed(doc, UNREADABLE_LINK, settings.retryScheduleMs));
		}
		const data = { ...(event ? eventMailData(event, recipient.name, settings.publicUrl) : {}), ...mail.data, ...(link === undefined ? {} : { link }) };
		try {
			await transport.send({ id: doc._id, to: recipient.email, template: mail.template, ...templates.render(mail.template, data) });
		} catch (err) {
			await outbox.failed(doc, (err as Error).message.slice(0, 300), settings.retryScheduleMs);
			return;
		}
		crashPoint("deliver.after-send");
		await outbox.delivered(doc);
	}
}
