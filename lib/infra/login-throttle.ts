import type { ServiceBroker } from "moleculer";
import ApiGateway from "moleculer-web";
import { TooManyLoginAttemptsError } from "../contracts/errors";
import { type CounterName, RedisRateLimitStore } from "./rate-limit-store";

export interface LoginThrottleSettings {
	/** Sign-in attempts one account takes per window, whatever addresses they come from. */
	max: number;
	windowMs: number;
	/** The counters in Redis, shared by every customers node; in the node's memory when unset. */
	redisUrl?: string;
}

/** What both stores do: moleculer-web's MemoryStore, and ours in Redis. */
interface CountingStore {
	inc(key: string): number | Promise<number>;
	close?(): Promise<void>;
}

/**
 * Sign-in attempts counted per account (the rate limit counts per address):
 * guesses spread over many addresses still stop. Every attempt counts, the
 * right password too: past the limit no answer tells whether a guess was
 * right. The same fixed windows as the rate limit, in the same stores.
 */
export class LoginThrottle {
	private readonly store: CountingStore;

	constructor(
		name: Exclude<CounterName, "requests">,
		private readonly settings: LoginThrottleSettings,
		broker: ServiceBroker,
	) {
		const { MemoryStore } = ApiGateway.RateLimitStores;
		this.store = settings.redisUrl ? new RedisRateLimitStore(name, settings.windowMs, { redisUrl: settings.redisUrl }, broker) : new MemoryStore(settings.windowMs);
	}

	/** Counts one attempt on this account (an email as validation normalised it); throws 429 past the limit. */
	async attempt(account: string): Promise<void> {
		if ((await this.store.inc(account)) > this.settings.max) throw new TooManyLoginAttemptsError();
	}

	async close(): Promise<void> {
		await this.store.close?.();
	}
}
