import crypto from "crypto";

/**
 * Standard Webhooks (https://www.standardwebhooks.com): a secret `whsec_`
 * and base64 key bytes; each delivery carries `webhook-id`,
 * `webhook-timestamp` (seconds) and `webhook-signature: v1,<base64
 * HMAC-SHA256 of id.timestamp.body>`. Secrets rest encrypted (AES-256-GCM)
 * under the key from settings.
 */

const PREFIX = "whsec_";
const SECRET_BYTES = 24;

export function newSecret(): string {
	return PREFIX + crypto.randomBytes(SECRET_BYTES).toString("base64");
}

export function signatureHeaders(secret: string, id: string, timestampS: number, body: string): Record<string, string> {
	const key = Buffer.from(secret.slice(PREFIX.length), "base64");
	const signature = crypto.createHmac("sha256", key).update(`${id}.${timestampS}.${body}`).digest("base64");
	return { "webhook-id": id, "webhook-timestamp": String(timestampS), "webhook-signature": `v1,${signature}` };
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** `v1:` and base64 of iv, tag and ciphertext. */
export function encrypt(key: Buffer, plain: string): string {
	const iv = crypto.randomBytes(IV_BYTES);
	const cipher = crypto.createCipheriv("aes-256-gcm", key, iv);
	const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
	return `v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
}

/** Throws when the key is not the one it was sealed with, or the text was changed. */
export function decrypt(key: Buffer, sealed: string): string {
	if (!sealed.startsWith("v1:")) throw new Error("Unknown sealed format");
	const raw = Buffer.from(sealed.slice(3), "base64");
	const decipher = crypto.createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
	decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
	return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
}

export const sha256 = (value: string) => crypto.createHash("sha256").update(value).digest("hex");
