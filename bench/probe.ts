/**
 * P3's probe, a child process of its own so that the load generator's busy
 * event loop does not skew its clock: customers, each with a connected
 * Socket.IO client, place orders at a modest rate; for each order it records
 * the time from the `POST /api/orders` answer to its owner's socket receiving
 * `order.updated` for that order (0 when the event came first).
 *
 * Driven over IPC by bench/scenarios/orders.ts:
 *   init { origin, customers, productIds, rate } -> ready | failed
 *   start                                        -> (places orders)
 *   stop { graceMs }                             -> samples
 *   close                                        -> exits
 */
import http from "http";
import { performance } from "perf_hooks";
import { io, type Socket } from "socket.io-client";

interface Init {
	origin: string;
	customers: Array<{ id: string; token: string }>;
	productIds: string[];
	/** Orders per second, all probe customers together. */
	rate: number;
}

export interface ProbeSamples {
	/** ms from the answer to the event, one per matched order. */
	latencies: number[];
	/** Orders whose event came before their answer (counted as 0 ms). */
	early: number;
	/** Orders answered 201 whose event never came within the grace period. */
	lost: number;
	/** Order requests that failed or were not answered 201. */
	failed: number;
	/** Why, by status code or error message. */
	failures: Record<string, number>;
	/** Ticks skipped because that customer's previous order was still unanswered. */
	skipped: number;
	/** Sockets that dropped during the run (they reconnect). */
	disconnects: number;
}

/** Fresh for each run: a connection left idle between runs may be closed by the server just as it is reused. */
let agent = new http.Agent({ keepAlive: true });
let init: Init;
const sockets: Socket[] = [];
/** Order id -> answer time, waiting for the event. */
const answered = new Map<string, number>();
/** Order id -> event time, for events that beat their answer. */
const eventFirst = new Map<string, number>();
let samples: ProbeSamples = fresh();
let timers: NodeJS.Timeout[] = [];
const inFlight = new Set<number>();
let outstanding = 0;

function fresh(): ProbeSamples {
	return { latencies: [], early: 0, lost: 0, failed: 0, failures: {}, skipped: 0, disconnects: 0 };
}

function send(msg: object) {
	process.send?.(msg);
}

function connect(token: string): Promise<Socket> {
	const socket = io(init.origin, { auth: { token }, transports: ["websocket"], reconnection: true, forceNew: true });
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error("socket did not connect in 15 s")), 15_000);
		socket.once("connect", () => (clearTimeout(timer), resolve(socket)));
		socket.once("connect_error", err => (clearTimeout(timer), socket.close(), reject(err)));
	});
}

function onOrderUpdated(payload: { order?: { id?: string } }) {
	const now = performance.now();
	const id = payload?.order?.id;
	if (!id) return;
	const at = answered.get(id);
	if (at !== undefined) {
		answered.delete(id);
		samples.latencies.push(now - at);
	} else if (!eventFirst.has(id)) {
		eventFirst.set(id, now);
	}
}

function placeOrder(customer: number) {
	if (inFlight.has(customer)) {
		samples.skipped++;
		return;
	}
	inFlight.add(customer);
	outstanding++;
	const body = Buffer.from(JSON.stringify({ items: [{ productId: init.productIds[Math.floor(Math.random() * init.productIds.length)], quantity: 1 }] }));
	const req = http.request(
		`${init.origin}/api/orders`,
		{ method: "POST", agent, headers: { "content-type": "application/json", "content-length": body.length, authorization: `Bearer ${init.customers[customer].token}` } },
		res => {
			const chunks: Buffer[] = [];
			res.on("data", (c: Buffer) => chunks.push(c));
			res.on("end", () => {
				const now = performance.now();
				done(customer);
				if (res.statusCode !== 201) return fail(`${res.statusCode} ${Buffer.concat(chunks).toString("utf8").slice(0, 120)}`);
				const id = JSON.parse(Buffer.concat(chunks).toString("utf8")).id as string;
				if (eventFirst.has(id)) {
					eventFirst.delete(id);
					samples.early++;
					samples.latencies.push(0);
				} else {
					answered.set(id, now);
				}
			});
		},
	);
	req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
	req.on("error", err => {
		done(customer);
		fail(err.message);
	});
	req.end(body);
}

function fail(why: string) {
	samples.failed++;
	samples.failures[why] = (samples.failures[why] ?? 0) + 1;
}

function done(customer: number) {
	inFlight.delete(customer);
	outstanding--;
}

function start() {
	samples = fresh();
	agent.destroy();
	agent = new http.Agent({ keepAlive: true });
	if (init.rate <= 0) return;
	const n = init.customers.length;
	const intervalMs = (1000 * n) / init.rate;
	init.customers.forEach((_, i) => {
		// Spread the customers over the interval: a steady trickle, not bursts.
		const first = setTimeout(
			() => {
				placeOrder(i);
				timers.push(setInterval(() => placeOrder(i), intervalMs));
			},
			(i * intervalMs) / n,
		);
		timers.push(first);
	});
}

async function stop(graceMs: number): Promise<ProbeSamples> {
	for (const t of timers) clearTimeout(t);
	timers = [];
	const deadline = performance.now() + graceMs;
	while ((outstanding > 0 || answered.size > 0) && performance.now() < deadline) await new Promise(r => setTimeout(r, 20));
	const result = { ...samples, lost: answered.size };
	answered.clear();
	eventFirst.clear();
	return result;
}

async function onMessage(msg: any): Promise<void> {
	try {
		if (msg.type === "init") {
			init = msg;
			for (const c of init.customers) {
				const socket = await connect(c.token);
				socket.on("order.updated", onOrderUpdated);
				socket.on("disconnect", () => void samples.disconnects++);
				sockets.push(socket);
			}
			send({ type: "ready" });
		} else if (msg.type === "start") {
			start();
			send({ type: "started" });
		} else if (msg.type === "stop") {
			send({ type: "samples", samples: await stop(msg.graceMs) });
		} else if (msg.type === "close") {
			for (const s of sockets) s.close();
			agent.destroy();
			process.exit(0);
		}
	} catch (err) {
		send({ type: "failed", message: (err as Error).message });
	}
}

process.on("message", (msg: any) => void onMessage(msg));
process.on("disconnect", () => process.exit(0));
