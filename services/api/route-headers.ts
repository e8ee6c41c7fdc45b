import type { IncomingMessage } from "http";
import { routeHeaders, type RouteHeader } from "../../lib/contracts/routes";
import type { Meta } from "../../lib/contracts/types";
import { onBehalfOf, placedAt } from "./admin-placement";
import { cartToken } from "./cart-token";
import { idempotencyKey } from "./idempotency-key";

type HeaderMeta = Pick<Meta, "idempotencyKey" | "onBehalfOf" | "placedAt" | "cartToken" | "stripeSignature">;

/** Each header's parser: its value as call meta, or a 422 naming the header; absent, nothing. */
const READERS: Readonly<Record<RouteHeader, (req: IncomingMessage) => HeaderMeta>> = {
	"Idempotency-Key": req => ({ idempotencyKey: idempotencyKey(req) }),
	"X-On-Behalf-Of": req => ({ onBehalfOf: onBehalfOf(req) }),
	"X-Placed-At": req => ({ placedAt: placedAt(req) }),
	"X-Cart-Token": req => ({ cartToken: cartToken(req) }),
	"Stripe-Signature": req => ({ stripeSignature: stripeSignature(req) }),
};

/** Stripe-Signature as it came, when it is one string of a signature's size; anything else is no signature (the webhook answers 400). */
function stripeSignature(req: IncomingMessage): string | undefined {
	const value = req.headers["stripe-signature"];
	return typeof value === "string" && value.length <= 4096 ? value : undefined;
}

/** The headers the action's route lists, parsed into meta; every other header is ignored. */
export function readRouteHeaders(action: string, req: IncomingMessage): HeaderMeta {
	const meta: HeaderMeta = {};
	for (const name of routeHeaders(action)) {
		for (const [key, value] of Object.entries(READERS[name](req))) if (value !== undefined) Object.assign(meta, { [key]: value });
	}
	return meta;
}
