import type { DbAdapter, Doc } from "../../lib/db/adapter";
import { LRUCache } from "lru-cache";
import { newId } from "../../lib/db/ids";
import type { WebhookEventType } from "../../lib/contracts/notifications";
import { ConflictError, UnprocessableError } from "../../lib/contracts/errors";
import type { AddressGuard } from "./address-guard";
import { decrypt, encrypt, newSecret } from "./signing";

/**
 * The webhook endpoints an admin registers: an https URL that resolves to
 * no private address, the event types it takes, a description. Its secret
 * is answered once, at creation and at each rotation; at rest it is sealed
 * under the key from settings.
 */

export interface Endpoint {
	id: string;
	url: string;
	description: string;
	eventTypes: WebhookEventType[];
	enabled: boolean;
	/** Failed deliveries in a row; the endpoint is disabled when it reaches the setting's limit. */
	failureStreak: number;
	disabledReason: string | null;
	createdAt: string;
	updatedAt: string;
}

export interface EndpointDoc extends Doc, Omit<Endpoint, "id"> {
	secretSealed: string;
}

export const ENDPOINT_FIELDS = ["id", "url", "description", "eventTypes", "enabled", "failureStreak", "disabledReason", "createdAt", "updatedAt"] as const;

export interface EndpointRules {
	requireHttps: boolean;
	secretKey: Buffer;
}

export interface EndpointChanges {
	url?: string;
	description?: string;
	eventTypes?: WebhookEventType[];
	enabled?: boolean;
}

const invalidUrl = (message: string) => new UnprocessableError(`The webhook URL is refused: ${message}`, [{ field: "url", type: "url", message }], "WEBHOOK_URL_REFUSED");

/** Unsealed secrets kept: a few per endpoint at most (rotations), endpoints are few; each is a short string. */
const UNSEALED_MAX = 1000;
/** Endpoints a shop may have: each is a lane of attempts on every notifications node, and every event is matched against all of them. */
export const MAX_ENDPOINTS = 50;

export class Endpoints {
	private readonly unsealed = new LRUCache<string, string>({ max: UNSEALED_MAX });

	constructor(
		private readonly store: DbAdapter<EndpointDoc>,
		private readonly guard: AddressGuard,
		private readonly rules: EndpointRules,
	) {}

	/** A URL an endpoint may have: https (http only in development and tests), no credentials, resolving to public addresses (or allowed ones). */
	async checkUrl(raw: string): Promise<string> {
		let url: URL;
		try {
			url = new URL(raw);
		} catch {
			throw invalidUrl("not a URL");
		}
		const schemes = this.rules.requireHttps ? ["https:"] : ["https:", "http:"];
		if (!schemes.includes(url.protocol)) throw invalidUrl(`it must be ${this.rules.requireHttps ? "https" : "http or https"}`);
		if (url.username || url.password) throw invalidUrl("it must not carry credentials");
		if (url.hash) throw invalidUrl("it must not have a fragment");
		try {
			await this.guard.check(url.hostname);
		} catch (err) {
			throw invalidUrl((err as Error).message);
		}
		return url.toString();
	}

	/** A new endpoint and its secret; 409 once the shop has MAX_ENDPOINTS (two made at the same instant may pass it by one). */
	async create(fields: { url: string; eventTypes: WebhookEventType[]; description?: string }): Promise<{ endpoint: EndpointDoc; secret: string }> {
		if ((await this.count()) >= MAX_ENDPOINTS) throw new ConflictError(`A shop has at most ${MAX_ENDPOINTS} webhook endpoints; remove one first`, "WEBHOOK_LIMIT");
		const url = await this.checkUrl(fields.url);
		const secret = newSecret();
		const at = new Date().toISOString();
		const endpoint = await this.store.insert({
			_id: newId(),
			url,
			description: fields.description ?? "",
			eventTypes: [...new Set(fields.eventTypes)],
			enabled: true,
			failureStreak: 0,
			disabledReason: null,
			secretSealed: encrypt(this.rules.secretKey, secret),
			createdAt: at,
			updatedAt: at,
		});
		return { endpoint, secret };
	}

	async update(id: string, changes: EndpointChanges): Promise<EndpointDoc | null> {
		const set: Record<string, unknown> = { updatedAt: new Date().toISOString() };
		if (changes.url !== undefined) set.url = await this.checkUrl(changes.url);
		if (changes.description !== undefined) set.description = changes.description;
		if (changes.eventTypes !== undefined) set.eventTypes = [...new Set(changes.eventTypes)];
		if (changes.enabled === true) Object.assign(set, { enabled: true, failureStreak: 0, disabledReason: null });
		if (changes.enabled === false) Object.assign(set, { enabled: false, disabledReason: "disabled by an admin" });
		return this.store.updateById(id, { $set: set });
	}

	async rotate(id: string): Promise<{ endpoint: EndpointDoc; secret: string } | null> {
		const secret = newSecret();
		const endpoint = await this.store.updateById(id, { $set: { secretSealed: encrypt(this.rules.secretKey, secret), updatedAt: new Date().toISOString() } });
		return endpoint && { endpoint, secret };
	}

	count(): Promise<number> {
		return this.store.count({ query: {} });
	}

	async remove(id: string): Promise<void> {
		await this.store.removeMany({ _id: id });
	}

	get(id: string): Promise<EndpointDoc | null> {
		return this.store.findById(id);
	}

	/**
	 * The endpoint's secret, unsealed once per sealed value (each delivery
	 * signs with it): keyed by what is stored, so a rotation, on any node,
	 * is a new key, and the old secret is never answered for the new one.
	 */
	secretOf(doc: EndpointDoc): string {
		let secret = this.unsealed.get(doc.secretSealed);
		if (secret === undefined) {
			secret = decrypt(this.rules.secretKey, doc.secretSealed);
			this.unsealed.set(doc.secretSealed, secret);
		}
		return secret;
	}

	/** The enabled endpoints that take this type of event. */
	subscribers(type: WebhookEventType): Promise<EndpointDoc[]> {
		return this.store.find({ query: { enabled: true, eventTypes: type } });
	}

	/** A failed delivery: the streak grows; at `limit` the endpoint is disabled. The endpoint when this failure disabled it. */
	async failed(id: string, limit: number): Promise<EndpointDoc | null> {
		const doc = await this.store.updateById(id, { $inc: { failureStreak: 1 } });
		if (!doc || doc.failureStreak < limit) return null;
		const reason = `${doc.failureStreak} failed deliveries in a row`;
		return this.store.updateOne({ _id: id, enabled: true }, { $set: { enabled: false, disabledReason: reason, updatedAt: new Date().toISOString() } });
	}

	async succeeded(id: string): Promise<void> {
		await this.store.updateMany({ _id: id, failureStreak: { $ne: 0 } }, { $set: { failureStreak: 0 } });
	}
}
