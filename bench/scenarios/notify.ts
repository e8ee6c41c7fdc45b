/**
 * The cost of notifications: P2's load (two-item orders, many customers
 * over a few products) on two embedded defaults, interleaved: one without
 * the notifications service, one with it, three local webhook endpoints
 * taking every event and mail on (an SMTP server in this process). In the
 * same runs, a probe places orders at a modest rate on the second and
 * times each from its answer to its `order.placed` webhook's arrival at
 * the first endpoint: the delivery lag.
 */
import http from "http";
import type { AddressInfo } from "net";
import { SMTPServer } from "smtp-server";
import { settings } from "../config";
import { interleave, percentile, sum, type Contender, type Run } from "../load";
import { below, rows } from "../report";
import { ALL_SERVICES, startEmbedded, type System } from "../systems";
import { comparedThroughputRows, orderContender, orderRunLine, seedOrderLoad } from "./orders";

const ENDPOINTS = 3;
const WITHOUT = ALL_SERVICES.filter(s => s !== "notifications");
const PROBE_PER_S = 20;
const LAG_GRACE_MS = 30_000;
/**
 * Attempts in flight per endpoint: an attempt waits for synced writes besides its request (its claim, its
 * attempt log line, its settlement), so throughput is concurrency over that time. At 32, counters showed the
 * lanes full during P2 on the loaded machine (an attempt took ~0.3 s), and the lag grew; 96 keeps up.
 */
const CONCURRENCY = "96";

/** A webhook receiver: arrival time of each order's `order.placed`. */
function receiver(arrivals: Map<string, number> | null): Promise<{ url: string; received: () => number; close: () => Promise<void> }> {
	let received = 0;
	const server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on("data", (c: Buffer) => chunks.push(c));
		req.on("end", () => {
			const at = performance.now();
			received++;
			if (arrivals) {
				try {
					const event = JSON.parse(Buffer.concat(chunks).toString()) as { type: string; data: { order?: { id: string } } };
					if (event.type === "order.placed" && event.data.order && !arrivals.has(event.data.order.id)) arrivals.set(event.data.order.id, at);
				} catch {
					// Not JSON: nothing to time.
				}
			}
			res.writeHead(200).end("ok");
		});
	});
	return new Promise(resolve =>
		server.listen(0, "127.0.0.1", () =>
			resolve({
				url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
				received: () => received,
				close: () => new Promise(r => (server.closeAllConnections(), server.close(() => r()))),
			}),
		),
	);
}

async function smtpSink(): Promise<{ url: string; count: () => number; close: () => Promise<void> }> {
	let count = 0;
	const server = new SMTPServer({
		authOptional: true,
		disabledCommands: ["STARTTLS", "AUTH"],
		logger: false,
		onData: (stream, _session, callback) => {
			stream.on("data", () => undefined);
			stream.on("end", () => (count++, callback()));
		},
	});
	await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
	return { url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`, count: () => count, close: () => new Promise(r => server.close(() => r())) };
}

async function post(url: string, body: unknown, token: string): Promise<{ status: number; body: any }> {
	const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
	return { status: res.status, body: await res.json().catch(() => null) };
}

/** Places orders at PROBE_PER_S while `running()`, noting when each was answered. */
async function probe(base: string, token: string, productId: string, answered: Map<string, number>, running: () => boolean): Promise<void> {
	while (running()) {
		const started = performance.now();
		const res = await post(`${base}/orders`, { items: [{ productId, quantity: 1 }] }, token).catch(() => null);
		if (res?.status === 201) answered.set(res.body.id as string, performance.now());
		await new Promise(r => setTimeout(r, Math.max(0, 1000 / PROBE_PER_S - (performance.now() - started))));
	}
}

export async function notifyScenario(): Promise<void> {
	const systems: System[] = [];
	const arrivals = new Map<string, number>();
	const answered = new Map<string, number>();
	const receivers = await Promise.all(Array.from({ length: ENDPOINTS }, (_, i) => receiver(i === 0 ? arrivals : null)));
	const smtp = await smtpSink();
	try {
		systems.push(
			await startEmbedded("without", { SERVICES: `api,${WITHOUT.join(",")}` }, WITHOUT),
			await startEmbedded("with", { NODE_ENV: "development", WEBHOOK_ALLOW: "127.0.0.1", WEBHOOK_CONCURRENCY: CONCURRENCY, SMTP_URL: smtp.url, ALERT_EMAILS: "ops@bench.test" }),
		);
		const contenders: Contender<Run>[] = [];
		for (const s of systems) {
			const { seeded, load } = await seedOrderLoad(s.base);
			const withNotifications = s.label === "with";
			if (withNotifications)
				for (const r of receivers) {
					const res = await post(`${s.base}/webhooks`, { url: r.url, eventTypes: ["order.placed", "order.cancelled", "product.stock_low", "product.out_of_stock"] }, seeded.admin);
					if (res.status !== 201) throw new Error(`registering a webhook endpoint answered ${res.status} ${JSON.stringify(res.body)}`);
				}
			const probing = (loading: () => boolean) => probe(s.base, seeded.customers[0].token, seeded.productIds[0], answered, loading);
			contenders.push(orderContender(s, load, withNotifications ? probing : undefined));
		}
		const results = await interleave(contenders, settings.rounds, (key, round, run) => console.log(`  notify round ${round}  ${key.padEnd(8)} ${orderRunLine(run)}`));
		// Deliveries still under way when the last run ended.
		const deadline = Date.now() + LAG_GRACE_MS;
		while ([...answered.keys()].some(id => !arrivals.has(id)) && Date.now() < deadline) await new Promise(r => setTimeout(r, 100));
		const lags = [...answered].map(([id, at]) => (arrivals.has(id) ? Math.max(0, arrivals.get(id)! - at) : Infinity));
		const lost = lags.filter(l => l === Infinity).length;
		const sides = systems.map(s => ({ label: s.label, system: s.label === "with" ? `embedded, ${ENDPOINTS} webhook endpoints and mail` : "embedded, no notifications" }));
		comparedThroughputRows("P2 notify", results, sides, { subject: "with", baseline: "without", baseName: "without", min: 0.8 });
		const arrived = lags.filter(Number.isFinite);
		const p99 = lost ? Infinity : percentile(lags, 99);
		rows.push({
			scenario: "P2 notify",
			figure: "delivery lag p99 ms",
			system: "answer → order.placed webhook",
			values: [percentile(arrived, 50), percentile(arrived, 99)],
			value: p99,
			target: below(p99, 1000, "< 1,000 ms, none lost"),
			notes: `${lags.length} probe orders at ${PROBE_PER_S}/s under P2 (values: p50, p99 of those that arrived), ${lost} not arrived ${LAG_GRACE_MS / 1000} s after the last run; WEBHOOK_CONCURRENCY=${CONCURRENCY}; ${sum(receivers.map(r => r.received()))} webhooks received by the ${ENDPOINTS} endpoints, ${smtp.count()} mails`,
		});
	} finally {
		for (const s of systems.reverse()) await s.stop();
		await Promise.all(receivers.map(r => r.close()));
		await smtp.close();
	}
}
