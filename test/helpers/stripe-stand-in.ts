import http from "http";
import type { AddressInfo } from "net";
import Stripe from "stripe";

export interface StandInCall {
	method: string;
	path: string;
	idempotencyKey: string | undefined;
	form: URLSearchParams;
}

interface Intent {
	id: string;
	object: "payment_intent";
	amount: number;
	currency: string;
	status: string;
	capture_method: string;
	amount_capturable: number;
	amount_received: number;
	client_secret: string;
	metadata: Record<string, string>;
}

/**
 * A local stand-in for the part of Stripe's API the shop calls
 * (PaymentIntents: create, capture, cancel; refunds), answering Stripe's
 * shapes and replaying the first answer for an idempotency key sent again
 * with the same parameters (refusing it with others), as Stripe does. It records every call. Webhook events are signed with
 * the SDK's own test header, so the shop's signature check is the real one.
 */
export class StripeStandIn {
	readonly calls: StandInCall[] = [];
	readonly intents = new Map<string, Intent>();
	private readonly replies = new Map<string, { request: string; json: string }>();
	private server?: http.Server;
	private seq = 0;
	url = "";

	constructor(readonly webhookSecret = "whsec_standin_0123456789") {}

	async start(): Promise<void> {
		this.server = http.createServer((req, res) => {
			let body = "";
			req.on("data", (c: Buffer) => (body += c.toString()));
			req.on("end", () => this.answer(req, body, res));
		});
		await new Promise<void>(resolve => this.server!.listen(0, "127.0.0.1", resolve));
		this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
	}

	stop(): Promise<void> {
		return new Promise(resolve => (this.server ? this.server.close(() => resolve()) : resolve()));
	}

	/** A signed webhook delivery: the raw body and its Stripe-Signature header. */
	event(type: string, intent: Partial<Intent> & { id: string }, id = `evt_${++this.seq}`): { body: string; signature: string } {
		const object = { ...this.intents.get(intent.id), ...intent };
		const body = JSON.stringify({ id, object: "event", type, api_version: "2025-01-01", created: Math.floor(Date.now() / 1000), data: { object } });
		return { body, signature: Stripe.webhooks.generateTestHeaderString({ payload: body, secret: this.webhookSecret }) };
	}

	private answer(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
		const key = req.headers["idempotency-key"] as string | undefined;
		const form = new URLSearchParams(body);
		this.calls.push({ method: req.method ?? "", path: req.url ?? "", idempotencyKey: key, form });
		// Stripe's keys are the account's, across endpoints: a key sent again replays its first answer, and with other parameters it is refused.
		const first = key ? this.replies.get(key) : undefined;
		const json = first
			? first.request === `${req.url}?${body}`
				? first.json
				: JSON.stringify({ error: { type: "idempotency_error", message: "Keys for idempotent requests can only be used with the same parameters they were first used with." } })
			: this.handle(req.method ?? "", req.url ?? "", form);
		if (key && !first) this.replies.set(key, { request: `${req.url}?${body}`, json });
		const error = (JSON.parse(json) as { error?: { type: string } }).error;
		const status = error ? (error.type === "idempotency_error" ? 400 : 404) : 200;
		res.writeHead(status, { "content-type": "application/json", "request-id": `req_${this.seq}` });
		res.end(json);
	}

	private handle(method: string, url: string, form: URLSearchParams): string {
		const path = url.split("?")[0];
		if (method === "POST" && path === "/v1/payment_intents") {
			const id = `pi_${++this.seq}`;
			const metadata = Object.fromEntries([...form.entries()].filter(([k]) => k.startsWith("metadata[")).map(([k, v]) => [k.slice(9, -1), v]));
			const intent: Intent = {
				id,
				object: "payment_intent",
				amount: Number(form.get("amount")),
				currency: form.get("currency") ?? "",
				status: "requires_payment_method",
				capture_method: form.get("capture_method") ?? "automatic",
				amount_capturable: 0,
				amount_received: 0,
				client_secret: `${id}_secret_standin`,
				metadata,
			};
			this.intents.set(id, intent);
			return JSON.stringify(intent);
		}
		const m = /^\/v1\/payment_intents\/([^/]+)\/(capture|cancel)$/.exec(path);
		if (method === "POST" && m && this.intents.has(m[1])) {
			const intent = this.intents.get(m[1])!;
			if (m[2] === "capture") Object.assign(intent, { status: "succeeded", amount_received: intent.amount, amount_capturable: 0 });
			else Object.assign(intent, { status: "canceled", amount_capturable: 0 });
			return JSON.stringify(intent);
		}
		if (method === "POST" && path === "/v1/refunds") {
			return JSON.stringify({ id: `re_${++this.seq}`, object: "refund", amount: Number(form.get("amount")), payment_intent: form.get("payment_intent"), status: "succeeded" });
		}
		return JSON.stringify({ error: { type: "invalid_request_error", message: `No such route: ${method} ${path}` } });
	}
}
