import Stripe from "stripe";
import type { PaymentProvider } from "../../lib/contracts/payments";
import { parseOwnJson } from "../../lib/infra/validation";

/** How old a signed webhook may be (Stripe's default). */
const WEBHOOK_TOLERANCE_S = 300;

/** What a provider is asked about a payment. */
export interface ProviderPayment {
	id: string;
	orderId: string;
	amountCents: number;
	currency: string;
	intentId?: string;
}

/**
 * A payment provider. Every call carries an idempotency key derived from
 * the payment (and the refund): a call repeated after a crash or a lost
 * answer moves money once.
 */
export interface Provider {
	readonly name: PaymentProvider;
	/** Starts a payment; stripe answers its PaymentIntent. */
	open(p: ProviderPayment): Promise<{ intentId?: string; clientSecret?: string }>;
	/** Captures an authorised amount. */
	capture(p: ProviderPayment): Promise<void>;
	/** Gives up an authorisation nothing was captured from. */
	void(p: ProviderPayment): Promise<void>;
	/** Gives money back, once per `refund.key`; answers the provider's refund id. */
	refund(p: ProviderPayment, refund: { id: string; key: string }, amountCents: number): Promise<string | null>;
}

/** Bank transfer or cash on delivery: money moves outside the shop; an admin records it. */
export class ManualProvider implements Provider {
	readonly name = "manual" as const;
	open(): Promise<{ intentId?: string; clientSecret?: string }> {
		return Promise.resolve({});
	}
	capture(): Promise<void> {
		return Promise.resolve();
	}
	void(): Promise<void> {
		return Promise.resolve();
	}
	refund(): Promise<string | null> {
		return Promise.resolve(null);
	}
}

export interface StripeOptions {
	secretKey: string;
	webhookSecret: string;
	/** Elsewhere than api.stripe.com (tests: a local stand-in). */
	apiUrl?: string;
}

/** Stripe, through its official SDK: PaymentIntents with manual capture, so an authorisation can be voided. */
export class StripeProvider implements Provider {
	readonly name = "stripe" as const;
	readonly client: Stripe;

	constructor(private readonly options: StripeOptions) {
		const url = options.apiUrl ? new URL(options.apiUrl) : null;
		this.client = new Stripe(options.secretKey, {
			maxNetworkRetries: 1,
			timeout: 10_000,
			...(url ? { host: url.hostname, port: Number(url.port || (url.protocol === "https:" ? 443 : 80)), protocol: url.protocol === "https:" ? "https" : "http" } : {}),
		});
	}

	async open(p: ProviderPayment): Promise<{ intentId?: string; clientSecret?: string }> {
		const intent = await this.client.paymentIntents.create(
			{ amount: p.amountCents, currency: p.currency.toLowerCase(), capture_method: "manual", metadata: { paymentId: p.id, orderId: p.orderId } },
			{ idempotencyKey: `open-${p.id}` },
		);
		return { intentId: intent.id, clientSecret: intent.client_secret ?? undefined };
	}

	async capture(p: ProviderPayment): Promise<void> {
		await this.client.paymentIntents.capture(this.intent(p), {}, { idempotencyKey: `capture-${p.id}` });
	}

	async void(p: ProviderPayment): Promise<void> {
		await this.client.paymentIntents.cancel(this.intent(p), {}, { idempotencyKey: `void-${p.id}` });
	}

	async refund(p: ProviderPayment, { id, key }: { id: string; key: string }, amountCents: number): Promise<string | null> {
		const refund = await this.client.refunds.create({ payment_intent: this.intent(p), amount: amountCents, metadata: { refundId: id } }, { idempotencyKey: key });
		return refund.id;
	}

	/**
	 * The event, if its signature over the raw body is right; throws otherwise.
	 * The SDK checks the signature; the body is parsed as every JSON body the
	 * shop takes is (the SDK's own parse lets `__proto__` keys through).
	 */
	verify(rawBody: string, signature: string): Stripe.Event {
		const check = this.client.webhooks.signature;
		if (!check) throw new Error("This Stripe SDK cannot check signatures");
		check.verifyHeader(rawBody, signature, this.options.webhookSecret, WEBHOOK_TOLERANCE_S);
		return parseOwnJson(rawBody) as Stripe.Event;
	}

	private intent(p: ProviderPayment): string {
		if (!p.intentId) throw new Error(`Payment ${p.id} has no PaymentIntent`);
		return p.intentId;
	}
}
