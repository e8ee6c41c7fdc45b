import crypto from "crypto";
import jwt from "jsonwebtoken";
import { LRUCache } from "lru-cache";
import type { AuthUser } from "../contracts/auth";
import type { AuthSettings } from "./settings";

const VERIFIED_CACHE_SIZE = 10_000;
const BEARER = /^Bearer\s+(\S+)$/i;
/** Where a keep-alive connection keeps the last Authorization header it sent and whom it stood for. */
const LAST_BEARER = Symbol("lastBearer");

type Verified = AuthUser & { expiresAt: number };
/** A connection (a request's socket) that remembers its last bearer. */
export type BearerConnection = object & { [LAST_BEARER]?: { header: string; user: Verified } };

/** Signs and verifies the JWTs of one secret. */
export class Tokens {
	/**
	 * The secret as a KeyObject, made once: given a string, jsonwebtoken
	 * builds one on every call (after trying it as a public key), which cost
	 * a sixth of the gateway's CPU under load.
	 */
	private readonly key: crypto.KeyObject;
	/**
	 * Tokens already verified (HMAC costs ~6% of the gateway's CPU under
	 * load): the same string always verifies the same way, and expiry is
	 * checked on every hit.
	 */
	private readonly verified = new LRUCache<string, Verified>({ max: VERIFIED_CACHE_SIZE });

	constructor(private readonly settings: AuthSettings) {
		this.key = crypto.createSecretKey(Buffer.from(settings.jwtSecret, "utf8"));
	}

	sign(user: AuthUser): string {
		return jwt.sign({ email: user.email, role: user.role, ver: user.version }, this.key, { subject: user.id, expiresIn: this.settings.jwtExpiresInS, algorithm: "HS256" });
	}

	/** The user a token stands for, or null when it is missing, forged or expired. */
	verify(token: string): AuthUser | null {
		return this.lookUp(token);
	}

	/**
	 * The user an `Authorization: Bearer <token>` header stands for, or null.
	 * A keep-alive connection sends the same header request after request:
	 * the same string as its last one (compared whole) is the same user,
	 * without the pattern, the hashing of the token as a cache key, or the
	 * cache (about 1% of a signed-in read); expiry is checked each time.
	 */
	verifyBearer(header: string, connection: BearerConnection): AuthUser | null {
		const last = connection[LAST_BEARER];
		if (last !== undefined && last.header === header && last.user.expiresAt > Date.now()) return last.user;
		const match = BEARER.exec(header);
		const user = match ? this.lookUp(match[1]) : null;
		if (user?.expiresAt) connection[LAST_BEARER] = { header, user: user as Verified };
		return user;
	}

	/** Verified once per token string (kept while it lasts); a token without an expiry is verified each time. */
	private lookUp(token: string): AuthUser | null {
		const hit = this.verified.get(token);
		if (hit && hit.expiresAt > Date.now()) return hit;
		const user = this.verifyNow(token);
		if (!user?.expiresAt) return user;
		const verified = { ...user, expiresAt: user.expiresAt };
		this.verified.set(token, verified);
		return verified;
	}

	private verifyNow(token: string): AuthUser | null {
		try {
			const { sub, email, role, ver, exp } = jwt.verify(token, this.key, { algorithms: ["HS256"] }) as { sub?: unknown; email?: unknown; role?: unknown; ver?: unknown; exp?: unknown };
			if (typeof sub !== "string" || (role !== "customer" && role !== "admin")) return null;
			const version = ver === undefined ? 0 : ver;
			if (!Number.isSafeInteger(version)) return null;
			return { id: sub, email: String(email), role, version: version as number, expiresAt: typeof exp === "number" ? exp * 1000 : undefined };
		} catch {
			return null;
		}
	}
}
