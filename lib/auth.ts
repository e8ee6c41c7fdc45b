import crypto from "crypto";
import jwt from "jsonwebtoken";
import { LRUCache } from "lru-cache";

export type Role = "customer" | "admin";

export interface AuthUser {
	id: string;
	email: string;
	role: Role;
	/** Seconds since the epoch when the token was issued. */
	issuedAt?: number;
	/** Milliseconds since the epoch when the token stops being valid. */
	expiresAt?: number;
}

let generatedSecret: string | undefined;
let secretKey: { secret: string; key: crypto.KeyObject } | undefined;

/** JWT_SECRET, or (outside production) one secret generated per process. */
export function jwtSecret(): string {
	if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
	if (process.env.NODE_ENV === "production") throw new Error("JWT_SECRET must be set when NODE_ENV=production");
	if (!generatedSecret) {
		generatedSecret = crypto.randomBytes(32).toString("hex");
		console.warn("JWT_SECRET is not set: using a generated secret; tokens die with this process and other nodes cannot verify them.");
	}
	return generatedSecret;
}

/**
 * The secret as a KeyObject, made once: given a string, jsonwebtoken builds
 * one on every call (after trying it as a public key), which cost a sixth
 * of the gateway's CPU under load.
 */
function signingKey(): crypto.KeyObject {
	const secret = jwtSecret();
	if (secretKey?.secret !== secret) secretKey = { secret, key: crypto.createSecretKey(Buffer.from(secret, "utf8")) };
	return secretKey.key;
}

export function signToken(user: AuthUser): string {
	const expiresIn = (process.env.JWT_EXPIRES_IN || "1d") as jwt.SignOptions["expiresIn"];
	return jwt.sign({ email: user.email, role: user.role }, signingKey(), { subject: user.id, expiresIn, algorithm: "HS256" });
}

/**
 * Tokens already verified (HMAC costs ~6% of the gateway's CPU under load):
 * the same string always verifies the same way, and expiry is checked on
 * every hit.
 */
const verified = new LRUCache<string, { user: AuthUser; expiresAt: number }>({ max: 10_000 });

/** The user a token stands for, or null when it is missing, forged or expired. */
export function verifyToken(token: string): AuthUser | null {
	const hit = verified.get(token);
	if (hit && hit.expiresAt > Date.now()) return hit.user;
	const user = verifyTokenNow(token);
	if (user?.expiresAt) verified.set(token, { user, expiresAt: user.expiresAt });
	return user;
}

function verifyTokenNow(token: string): AuthUser | null {
	try {
		const payload = jwt.verify(token, signingKey(), { algorithms: ["HS256"] }) as jwt.JwtPayload;
		if (typeof payload.sub !== "string" || (payload.role !== "customer" && payload.role !== "admin")) return null;
		return { id: payload.sub, email: String(payload.email), role: payload.role, issuedAt: payload.iat, expiresAt: payload.exp ? payload.exp * 1000 : undefined };
	} catch {
		return null;
	}
}
