/**
 * Validation rules that several actions share (fastest-validator). JSON
 * bodies are taken as typed; only query-string fields convert.
 */

/** A stored document's id, as a client sends it. */
export const ID = { type: "string", min: 1, max: 64 } as const;

/** An order id as products keys reservations by it. */
export const ORDER_ID = { type: "string", min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/ } as const;

/** Money, in cents: a price. */
export const CENTS = { type: "number", integer: true, min: 0, max: 1_000_000_000 } as const;

/**
 * Money on an order's scale, in cents: a total, a payment, a refund. An
 * order reaches 50 lines of 1000 units at a price's bound, doubled by tax,
 * with shipping; every action that takes such an amount takes it whole
 * (a bound below it would refuse, for ever, a step after its payment).
 */
export const TOTAL_CENTS = { type: "number", integer: true, min: 0, max: 200_000_000_000_000 } as const;

/** A stock level or threshold. */
export const COUNT = { type: "number", integer: true, min: 0, max: 1_000_000_000 } as const;

/** Units of one product in one order. */
export const QUANTITY = { type: "number", integer: true, min: 1, max: 1000 } as const;

/** The items of an order: each product once (checked by the action), 1 to 50 of them. */
export const ORDER_ITEMS = {
	type: "array",
	min: 1,
	max: 50,
	items: { type: "object", props: { productId: ID, quantity: QUANTITY } },
} as const;

const PASSWORD_MAX_BYTES = 72;

/**
 * A new password: 8 to 72 bytes of UTF-8. bcrypt reads no further than 72
 * bytes, so a longer one would let a different password in.
 */
export const PASSWORD = {
	type: "string",
	min: 8,
	max: PASSWORD_MAX_BYTES,
	custom: withinBytes,
	messages: { stringMaxBytes: `The '{field}' field must be at most {expected} bytes of UTF-8.` },
} as const;

/** A password as typed at login: never longer than a password can be. */
export const PASSWORD_GIVEN = { ...PASSWORD, min: 1 } as const;

function withinBytes(value: unknown, errors: Array<{ type: string; expected: number }>): unknown {
	if (typeof value === "string" && Buffer.byteLength(value, "utf8") > PASSWORD_MAX_BYTES) errors.push({ type: "stringMaxBytes", expected: PASSWORD_MAX_BYTES });
	return value;
}

/** A required line of text, trimmed. */
export const text = (max: number) => ({ type: "string", trim: true, min: 1, max }) as const;

/** `page` / `pageSize` of a list (query strings, so converted). */
export const PAGE_PARAMS = {
	page: { type: "number", integer: true, min: 1, max: 1_000_000, convert: true, optional: true, default: 1 },
	pageSize: { type: "number", integer: true, min: 1, max: 100, convert: true, optional: true, default: 20 },
} as const;

/** At most this many images per product, each URL and alt text bounded. */
export const IMAGES_MAX = 10;
export const IMAGE_URL_MAX = 2048;
export const IMAGE_ALT_MAX = 300;

/**
 * An image's URL: https with a host, or a path on this site (`/…`, never
 * `//host` nor `/\host`, which browsers read as another host). No spaces,
 * quotes, angle brackets or backslashes anywhere.
 */
export const IMAGE_URL_PATTERN = /^(?:https:\/\/[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?(?:[/?#][^\s\\"'<>]*)?|\/(?![/\\])[^\s\\"'<>]*)$/;

/** A product's images, in the order they are shown: `{ url, alt }`. */
export const PRODUCT_IMAGES = {
	type: "array",
	max: IMAGES_MAX,
	items: {
		type: "object",
		props: {
			url: {
				type: "string",
				min: 1,
				max: IMAGE_URL_MAX,
				pattern: IMAGE_URL_PATTERN,
				messages: { stringPattern: "The '{field}' field must be an https URL or a path on this site (starting with a single /)." },
			},
			alt: text(IMAGE_ALT_MAX),
		},
	},
} as const;
