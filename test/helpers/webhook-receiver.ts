import http from "http";
import type { AddressInfo, Socket } from "net";
import { Webhook } from "standardwebhooks";

/** How a receiver answers: 200, 500, never (a timeout), a redirect, slowly, or a body larger than any cap. */
export type ReceiverMode = "ok" | "fail" | "hang" | "redirect" | "slow" | "huge";

export interface Received {
	id: string;
	timestamp: string;
	signature: string;
	body: string;
	/** The signature checked by the `standardwebhooks` package against the secret the test gave. */
	verified: boolean;
	payload: { type: string; timestamp: string; data: any } | null;
}

/**
 * A real HTTP server standing for a webhook endpoint on 127.0.0.1. Each
 * delivery is recorded with its Standard Webhooks headers, verified with
 * the `standardwebhooks` package when the test has told it the secret.
 */
export class WebhookReceiver {
	readonly received: Received[] = [];
	mode: ReceiverMode = "ok";
	secret: string | null = null;
	slowMs = 300;
	/** Requests received whose answer is not sent yet. */
	inFlight = 0;
	private readonly server = http.createServer((req, res) => this.handle(req, res));
	private readonly sockets = new Set<Socket>();

	async start(): Promise<string> {
		this.server.on("connection", s => {
			this.sockets.add(s);
			s.on("close", () => this.sockets.delete(s));
		});
		await new Promise<void>(resolve => this.server.listen(0, "127.0.0.1", resolve));
		return this.url;
	}

	get url(): string {
		return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
	}

	/** Unique webhook-ids received (verified ones only when a secret is set). */
	uniqueIds(): Set<string> {
		return new Set(this.received.filter(r => this.secret === null || r.verified).map(r => r.id));
	}

	private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
		const chunks: Buffer[] = [];
		req.on("data", (c: Buffer) => chunks.push(c));
		req.on("end", () => {
			const body = Buffer.concat(chunks).toString("utf8");
			const headers = {
				"webhook-id": String(req.headers["webhook-id"] ?? ""),
				"webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
				"webhook-signature": String(req.headers["webhook-signature"] ?? ""),
			};
			let verified = false;
			if (this.secret) {
				try {
					new Webhook(this.secret).verify(body, headers);
					verified = true;
				} catch {
					verified = false;
				}
			}
			let payload: Received["payload"] = null;
			try {
				payload = JSON.parse(body) as Received["payload"];
			} catch {
				payload = null;
			}
			this.received.push({ id: headers["webhook-id"], timestamp: headers["webhook-timestamp"], signature: headers["webhook-signature"], body, verified, payload });
			this.answer(res);
		});
	}

	private answer(res: http.ServerResponse): void {
		switch (this.mode) {
			case "ok":
				return void res.writeHead(200, { "content-type": "text/plain" }).end("ok");
			case "fail":
				return void res.writeHead(500).end("boom");
			case "hang":
				return;
			case "redirect":
				return void res.writeHead(302, { location: "http://127.0.0.1:1/elsewhere" }).end();
			case "slow":
				this.inFlight++;
				setTimeout(() => {
					this.inFlight--;
					if (!res.destroyed) res.writeHead(200).end("ok");
				}, this.slowMs);
				return;
			case "huge":
				res.writeHead(200, { "content-type": "application/octet-stream" });
				res.write(Buffer.alloc(1024 * 1024));
				return;
		}
	}

	async stop(): Promise<void> {
		for (const s of this.sockets) s.destroy();
		await new Promise<void>(resolve => this.server.close(() => resolve()));
	}
}
