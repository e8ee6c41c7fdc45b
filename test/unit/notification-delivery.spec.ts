import crypto from "crypto";
import { parseSettings, type NotificationSettings } from "../../lib/infra/settings";
import { AddressGuard } from "../../services/notifications/address-guard";
import { AttemptLog, type AttemptDoc } from "../../services/notifications/attempt-log";
import { Dispatcher } from "../../services/notifications/dispatcher";
import { Endpoints, type EndpointDoc } from "../../services/notifications/endpoints";
import { eventId, type NotificationEvent } from "../../services/notifications/events";
import { LocalOutbox, Templates, type LocalMailDoc } from "../../services/notifications/mailer";
import { Outbox, type DeliveryDoc, type EventDoc } from "../../services/notifications/outbox";
import { encrypt } from "../../services/notifications/signing";
import { WebhookSender } from "../../services/notifications/webhook-sender";
import { waitFor } from "../helpers/broker";
import { Gate, memoryStore, through } from "../helpers/stepped-store";
import { WebhookReceiver } from "../helpers/webhook-receiver";

/** The outbox and its dispatcher on in-memory stores, delivering to real HTTP receivers on 127.0.0.1. */

let seq = 0;
function productEvent(): NotificationEvent {
	const key = `product.stock_low:p${++seq}:1`;
	return { id: eventId(key), key, type: "product.stock_low", occurredAt: new Date().toISOString(), data: { product: { productId: `p${seq}`, sku: "S", name: "N", stock: 1, threshold: 2 } } };
}

async function setup(overrides: Partial<NotificationSettings> = {}) {
	const settings: NotificationSettings = {
		...parseSettings({ JWT_SECRET: "delivery-spec-secret-0123456789" }).notifications,
		retryScheduleMs: [20, 40],
		timeoutMs: 400,
		maxResponseBytes: 1024,
		concurrency: 2,
		disableAfter: 100,
		allow: ["127.0.0.1"],
		requireHttps: false,
		...overrides,
	};
	const guard = new AddressGuard(settings.allow);
	const endpointStore = await memoryStore<EndpointDoc>("endpoints");
	const endpoints = new Endpoints(endpointStore, guard, { requireHttps: settings.requireHttps, secretKey: settings.secretKey });
	const deliveries = await memoryStore<DeliveryDoc>("deliveries");
	const outbox = new Outbox(await memoryStore<EventDoc>("events"), deliveries);
	const attempts = new AttemptLog(await memoryStore<AttemptDoc>("attempts"), { retentionDays: 30, maxPerEndpoint: 1000 });
	const mails = new LocalOutbox(await memoryStore<LocalMailDoc>("mails"));
	const disabled: EndpointDoc[] = [];
	const dispatcher = new Dispatcher({
		outbox,
		endpoints,
		sender: new WebhookSender(guard, settings),
		attempts,
		templates: new Templates(),
		transport: mails,
		settings,
		customer: id => Promise.resolve(id === "cust-1" ? { name: "Ada", email: "ada@example.com" } : null),
		disabled: e => {
			disabled.push(e);
			return Promise.resolve();
		},
		logger: { warn: () => undefined },
	});
	/** Records the event for these endpoints (and its mail), then runs rounds until nothing is pending. */
	const deliver = async (event: NotificationEvent, endpointIds: string[]) => {
		await outbox.record(event, () => Promise.resolve(endpointIds.map(endpointId => ({ channel: "webhook" as const, endpointId }))));
		return settle();
	};
	const settle = () =>
		waitFor(
			async () => {
				await dispatcher.round();
				await dispatcher.drain();
				return (await outbox.counts()).pending === 0;
			},
			20_000,
			"the outbox to settle",
			10,
		);
	return { settings, endpoints, endpointStore, outbox, attempts, mails, dispatcher, disabled, deliver, settle, deliveries };
}

describe("webhook delivery", () => {
	const receiver = new WebhookReceiver();
	beforeAll(() => receiver.start());
	afterAll(() => receiver.stop());
	beforeEach(() => {
		receiver.received.length = 0;
		receiver.mode = "ok";
	});

	it("delivers an event signed per Standard Webhooks, which the standardwebhooks package verifies", async () => {
		const s = await setup();
		const { endpoint, secret } = await s.endpoints.create({ url: receiver.url, eventTypes: ["product.stock_low"] });
		receiver.secret = secret;
		const event = productEvent();
		await s.deliver(event, [endpoint._id]);
		expect(receiver.received).toHaveLength(1);
		const [got] = receiver.received;
		expect(got).toMatchObject({ id: event.id, verified: true, payload: { type: "product.stock_low", timestamp: event.occurredAt, data: event.data } });
		expect(got.signature).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
		expect((await s.outbox.counts()).delivered).toBe(1);
		const log = await s.attempts.page(endpoint._id, 1, 10);
		expect(log.rows).toEqual([expect.objectContaining({ eventId: event.id, ok: true, status: 200, error: null, latencyMs: expect.any(Number) })]);
	});

	it("retries a failing endpoint on the schedule under the same webhook-id, then dead-letters it, logging each attempt", async () => {
		const s = await setup();
		const { endpoint, secret } = await s.endpoints.create({ url: receiver.url, eventTypes: ["product.stock_low"] });
		receiver.secret = secret;
		receiver.mode = "fail";
		const event = productEvent();
		await s.deliver(event, [endpoint._id]);
		expect(receiver.received.map(r => r.id)).toEqual([event.id, event.id, event.id]);
		expect(receiver.received.every(r => r.verified)).toBe(true);
		expect(await s.outbox.counts()).toEqual({ pending: 0, delivered: 0, dead: 1 });
		const log = await s.attempts.page(endpoint._id, 1, 10);
		expect(log.rows.map(a => [a.status, a.error])).toEqual([
			[500, "HTTP 500"],
			[500, "HTTP 500"],
			[500, "HTTP 500"],
		]);
		// A manual redelivery starts again from the first try, with the same id.
		receiver.mode = "ok";
		await s.outbox.redeliver(`${event.id}>webhook:${endpoint._id}`);
		await s.settle();
		expect(receiver.received.map(r => r.id)).toEqual([event.id, event.id, event.id, event.id]);
		expect(await s.outbox.counts()).toEqual({ pending: 0, delivered: 1, dead: 0 });
	});

	it("never follows a redirect, gives up on an endpoint that does not answer in time, and reads no more than the cap", async () => {
		const s = await setup({ retryScheduleMs: [] });
		const { endpoint } = await s.endpoints.create({ url: receiver.url, eventTypes: ["product.stock_low"] });
		receiver.mode = "redirect";
		await s.deliver(productEvent(), [endpoint._id]);
		receiver.mode = "hang";
		await s.deliver(productEvent(), [endpoint._id]);
		receiver.mode = "huge";
		await s.deliver(productEvent(), [endpoint._id]);
		receiver.mode = "slow";
		await s.deliver(productEvent(), [endpoint._id]);
		const log = (await s.attempts.page(endpoint._id, 1, 10)).rows.reverse();
		expect(log.map(a => ({ ok: a.ok, status: a.status, error: a.error }))).toEqual([
			{ ok: false, status: 302, error: "redirect (302) not followed" },
			{ ok: false, status: null, error: "timed out after 400 ms" },
			{ ok: true, status: 200, error: null },
			{ ok: true, status: 200, error: null },
		]);
		expect(receiver.received).toHaveLength(4);
	});

	it("keeps at most `concurrency` attempts in flight per endpoint", async () => {
		const s = await setup({ concurrency: 2, retryScheduleMs: [] });
		const { endpoint } = await s.endpoints.create({ url: receiver.url, eventTypes: ["product.stock_low"] });
		receiver.mode = "hang";
		for (let i = 0; i < 5; i++) await s.outbox.record(productEvent(), () => Promise.resolve([{ channel: "webhook", endpointId: endpoint._id }]));
		await s.dispatcher.round();
		await waitFor(() => receiver.received.length === 2, 5000, "two requests in flight");
		await s.dispatcher.round();
		expect(receiver.received).toHaveLength(2);
		await s.dispatcher.drain();
		await s.settle();
		expect(receiver.received).toHaveLength(5);
	});

	it("does not read the store round after round while a full lane's backlog is all there is; a refresh (a webhook recorded, the poll) reads the other lanes again, starts the new work and keeps the full lane's queue", async () => {
		const s = await setup({ concurrency: 2, retryScheduleMs: [] });
		const busy = (await s.endpoints.create({ url: receiver.url, eventTypes: ["product.stock_low"] })).endpoint;
		receiver.mode = "hang";
		for (let i = 0; i < 5; i++) await s.outbox.record(productEvent(), () => Promise.resolve([{ channel: "webhook", endpointId: busy._id }]));
		await s.dispatcher.round();
		await waitFor(() => receiver.received.length === 2, 5000, "the busy lane full");
		const reads = jest.spyOn(s.deliveries, "find");
		for (let i = 0; i < 5; i++) await s.dispatcher.round();
		// One read leaving the full lane out finds nothing to start; the rounds after it do not walk the backlog again.
		expect(reads.mock.calls.filter(([params]) => params.query?.dueAt !== undefined)).toHaveLength(1);
		const second = new WebhookReceiver();
		await second.start();
		try {
			const other = (await s.endpoints.create({ url: second.url, eventTypes: ["product.stock_low"] })).endpoint;
			await s.outbox.record(productEvent(), () => Promise.resolve([{ channel: "webhook", endpointId: other._id }]));
			s.dispatcher.kick(true);
			await waitFor(() => second.received.length === 1, 5000, "the other endpoint's delivery");
			// That read left the full lane out; its three queued deliveries wait on in the queue, not read again with its backlog later.
			const queued = (s.dispatcher as unknown as { queue: DeliveryDoc[] }).queue;
			expect(queued.map(d => d.endpointId)).toEqual([busy._id, busy._id, busy._id]);
			receiver.mode = "ok";
			await s.dispatcher.drain();
			await s.settle();
			expect([receiver.received.length, second.received.length]).toEqual([5, 1]);
		} finally {
			await second.stop();
		}
	});

	it("keeps at most 50 endpoints: the 51st is refused (409) and stores nothing, and room made by a removal can be used", async () => {
		const s = await setup();
		const create = () => s.endpoints.create({ url: receiver.url, eventTypes: ["product.stock_low"] });
		const first = await create();
		for (let i = 1; i < 50; i++) await create();
		await expect(create()).rejects.toMatchObject({ code: 409, type: "WEBHOOK_LIMIT" });
		expect(await s.endpoints.count()).toBe(50);
		await s.endpoints.remove(first.endpoint._id);
		await create();
		expect(await s.endpoints.count()).toBe(50);
	});

	it("keeps no state per endpoint once its attempts are done, however many endpoints came and went", async () => {
		const s = await setup({ retryScheduleMs: [] });
		const ids: string[] = [];
		for (let i = 0; i < 30; i++) ids.push((await s.endpoints.create({ url: receiver.url, eventTypes: ["product.stock_low"] })).endpoint._id);
		receiver.mode = "fail";
		await s.deliver(productEvent(), ids.slice(0, 15));
		receiver.mode = "ok";
		await s.deliver(productEvent(), ids.slice(15));
		expect(receiver.received).toHaveLength(30);
		const lanes = s.dispatcher as unknown as { inflight: Map<string, number>; failures: Map<string, number> };
		expect([lanes.inflight.size, lanes.failures.size]).toEqual([0, 0]);
	});

	it("disables an endpoint after N failures in a row, says so, and dead-letters what is left for it", async () => {
		const s = await setup({ disableAfter: 3, retryScheduleMs: [10, 10, 10, 10] });
		const { endpoint } = await s.endpoints.create({ url: receiver.url, eventTypes: ["product.stock_low"] });
		receiver.mode = "fail";
		await s.deliver(productEvent(), [endpoint._id]);
		expect(receiver.received).toHaveLength(3);
		expect(s.disabled.map(e => e._id)).toEqual([endpoint._id]);
		expect(await s.endpoints.get(endpoint._id)).toMatchObject({ enabled: false, failureStreak: 3, disabledReason: "3 failed deliveries in a row" });
		expect((await s.deliveries.find({})).map(d => d.lastError)).toEqual(["the endpoint is disabled"]);
		// Enabled again, a success ends the streak.
		await s.endpoints.update(endpoint._id, { enabled: true });
		receiver.mode = "ok";
		await s.deliver(productEvent(), [endpoint._id]);
		expect(await s.endpoints.get(endpoint._id)).toMatchObject({ enabled: true, failureStreak: 0 });
	});

	it("counts an endpoint whose secret cannot be read (WEBHOOK_SECRET_KEY changed) as failing: logged, then disabled as after any failures, sending nothing unsigned", async () => {
		const s = await setup({ disableAfter: 3, retryScheduleMs: [10, 10, 10, 10] });
		const { endpoint } = await s.endpoints.create({ url: receiver.url, eventTypes: ["product.stock_low"] });
		// Sealed under another key, as the store holds it once the shop's key is changed.
		await s.endpointStore.updateMany({ _id: endpoint._id }, { $set: { secretSealed: encrypt(crypto.randomBytes(32), "whsec_sealed_elsewhere") } });
		await s.deliver(productEvent(), [endpoint._id]);
		expect(receiver.received).toHaveLength(0);
		expect(s.disabled.map(e => e._id)).toEqual([endpoint._id]);
		expect(await s.endpoints.get(endpoint._id)).toMatchObject({ enabled: false, failureStreak: 3 });
		const log = await s.attempts.page(endpoint._id, 1, 10);
		expect(log.rows).toHaveLength(3);
		expect(log.rows[0]).toMatchObject({ ok: false, status: null, error: expect.stringContaining("secret cannot be read") });
		expect((await s.dispatcher.ping((await s.endpoints.get(endpoint._id))!)).error).toContain("secret cannot be read");
	});

	it("sends a test ping, signed, and logs it", async () => {
		const s = await setup();
		const { endpoint, secret } = await s.endpoints.create({ url: receiver.url, eventTypes: ["order.placed"] });
		receiver.secret = secret;
		const attempt = await s.dispatcher.ping(endpoint);
		expect(attempt).toMatchObject({ ok: true, status: 200, type: "ping", eventId: expect.stringMatching(/^ping_/) });
		expect(receiver.received[0]).toMatchObject({ id: attempt.eventId, verified: true, payload: { type: "ping" } });
	});

	it("keeps the attempt log bounded: past the retention, and past the cap per endpoint", async () => {
		let now = Date.parse("2026-12-01T00:00:00Z");
		const log = new AttemptLog(await memoryStore<AttemptDoc>("attempts-bounded"), { retentionDays: 2, maxPerEndpoint: 10 }, () => now);
		const result = { ok: true, status: 200, latencyMs: 1, error: null };
		for (let i = 0; i < 15; i++) {
			now += 1000;
			await log.record("e1", `evt_${i}`, "order.placed", result);
		}
		await log.record("e2", "evt_old", "order.placed", result);
		now += 3 * 86_400_000;
		await log.record("e2", "evt_new", "order.placed", result);
		await log.prune(["e1", "e2"]);
		expect((await log.page("e1", 1, 100)).total).toBe(0);
		expect((await log.page("e2", 1, 100)).rows.map(a => a.eventId)).toEqual(["evt_new"]);
		now += 1000;
		for (let i = 0; i < 15; i++) {
			now += 1000;
			await log.record("e1", `evt_again_${i}`, "order.placed", result);
		}
		await log.prune(["e1"]);
		const kept = await log.page("e1", 1, 100);
		expect(kept.total).toBe(10);
		expect(kept.rows[0].eventId).toBe("evt_again_14");
	});

	it("gives up a reset mail whose link cannot be read (the key changed since it was sealed), sending nothing", async () => {
		const s = await setup();
		const mail = {
			template: "password.reset" as const,
			to: "ada@example.com",
			data: { name: "Ada", minutes: 30 },
			sealed: encrypt(crypto.randomBytes(32), "https://shop.example.com/reset-password?token=x"),
		};
		await s.outbox.enqueue("reset_sealed_elsewhere", "password.reset", { channel: "mail", key: "customer", mail });
		await s.settle();
		expect(await s.mails.count()).toBe(0);
		expect((await s.deliveries.find({})).map(d => [d.state, d.lastError])).toEqual([["dead", expect.stringContaining("link cannot be read")]]);
	});

	it("mails the customer of an order event through the outbox, once however often it is recorded", async () => {
		const s = await setup();
		const key = "order.placed:ord-9:1";
		const event: NotificationEvent = {
			id: eventId(key),
			key,
			type: "order.placed",
			occurredAt: new Date().toISOString(),
			customerId: "cust-1",
			data: { order: { id: "ord-9", totalCents: 1250, items: [] } },
		};
		const target = () => Promise.resolve([{ channel: "mail" as const, key: "customer", mail: { template: "order.placed" as const, customerId: "cust-1" } }]);
		await s.outbox.record(event, target);
		await s.outbox.record(event, target);
		await s.settle();
		const [mail] = await s.mails.latest(10);
		expect(await s.mails.count()).toBe(1);
		expect(mail).toMatchObject({ to: "ada@example.com", template: "order.placed", subject: "Your order ord-9 is placed" });
		expect(mail.text).toContain("Hello Ada");
		expect(mail.text).toContain("12.50");
		expect(mail.text).toContain(`${s.settings.publicUrl}/orders/ord-9`);
	});
});

describe("the outbox's bounds", () => {
	it("drops settled deliveries and their events past the retention, and keeps what is pending", async () => {
		let now = Date.parse("2026-12-01T00:00:00Z");
		const deliveries = await memoryStore<DeliveryDoc>("bounded-deliveries");
		const events = await memoryStore<EventDoc>("bounded-events");
		const outbox = new Outbox(events, deliveries, () => now);
		const target = (endpointId: string) => () => Promise.resolve([{ channel: "webhook" as const, endpointId }]);
		const [old, pending, recent] = [productEvent(), productEvent(), productEvent()];
		await outbox.record(old, target("e1"));
		await outbox.record(pending, target("e1"));
		await outbox.delivered((await outbox.delivery(`${old.id}>webhook:e1`))!);
		now += 40 * 86_400_000;
		await outbox.record(recent, target("e1"));
		await outbox.delivered((await outbox.delivery(`${recent.id}>webhook:e1`))!);
		await outbox.prune(new Date(now - 30 * 86_400_000));
		expect((await deliveries.find({})).map(d => d.eventId).sort()).toEqual([pending.id, recent.id].sort());
		expect((await events.find({})).map(e => e._id).sort()).toEqual([pending.id, recent.id].sort());
	});

	it("keeps the local mail outbox bounded: past the retention, and past its cap of the newest mails", async () => {
		const store = await memoryStore<LocalMailDoc>("mails-bounded");
		const kept = new LocalOutbox(store, { maxKept: 10 });
		const mail = (i: number) => ({ id: `m${i}`, to: "ada@example.com", template: "order.placed" as const, subject: `Mail ${i}`, text: "t", html: "h" });
		for (let i = 0; i < 25; i++) {
			await kept.send(mail(i));
			await new Promise(r => setTimeout(r, 2));
		}
		await kept.prune(new Date(Date.now() - 86_400_000));
		expect(await kept.count()).toBe(10);
		expect((await kept.latest(100)).map(m => m.subject)).toEqual(Array.from({ length: 10 }, (_, k) => `Mail ${24 - k}`));
		await kept.prune(new Date(Date.now() + 1000));
		expect(await kept.count()).toBe(0);
	});
});

describe("recording an event", () => {
	it("stores an event and its deliveries once when two messages carry it at once, and reads nothing again for an event it fanned out", async () => {
		const gate = new Gate();
		const events = await memoryStore<EventDoc>("once-events");
		const deliveries = await memoryStore<DeliveryDoc>("once-deliveries");
		let reads = 0;
		const counted = through(events, gate, "events");
		const findById = counted.findById;
		counted.findById = id => (reads++, findById(id));
		const outbox = new Outbox(counted, through(deliveries, gate, "deliveries"));
		const event = productEvent();
		const target = () => Promise.resolve([{ channel: "webhook" as const, endpointId: "e1" }]);
		expect(await Promise.all([outbox.record(event, target), outbox.record(event, target)])).toEqual([true, false]);
		expect(gate.passed.map(w => `${w.collection} ${w.op}`)).toEqual(["events insert", "deliveries insert", "events updateById"]);
		expect(await outbox.record(event, target)).toBe(false);
		expect(reads).toBe(1);
		expect((await deliveries.find({})).map(d => d._id)).toEqual([`${event.id}>webhook:e1`]);
	});
});
