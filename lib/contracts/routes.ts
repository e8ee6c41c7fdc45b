import type { AuthUser } from "./auth";

/**
 * The one table of what clients can reach. The gateway builds its REST
 * aliases, its permission checks and the Socket.IO `call` whitelist from it,
 * and the OpenAPI description is generated from it: an action missing here
 * cannot be called from outside.
 *   public   - anyone
 *   customer - any signed-in user (admins included)
 *   admin    - admins only
 */
export type Access = "public" | "customer" | "admin";
export type HttpMethod = "GET" | "POST" | "PATCH" | "DELETE";

/**
 * The request headers a route reads into its call's meta; the gateway parses
 * each (services/api/route-headers.ts) and ignores any header its route does
 * not list. Whether the caller may send one is the action's to decide.
 */
export type RouteHeader = "Idempotency-Key" | "X-On-Behalf-Of" | "X-Placed-At" | "X-Cart-Token" | "Stripe-Signature";

export interface Route {
	method: HttpMethod;
	/** Under `/api`; `:name` segments become params of the action. */
	path: string;
	action: string;
	access: Access;
	summary: string;
	/** The OpenAPI tag. */
	tag: string;
	headers?: readonly RouteHeader[];
	/**
	 * The body reaches the action as it came, undecoded and unparsed (in
	 * `ctx.meta.rawBody`): for senders that sign their bytes (provider
	 * webhooks), whose signature header the route lists like any other.
	 * Such a route's path has no `:params`.
	 */
	rawBody?: true;
}

/** A route's method and path, written as a moleculer-web alias is: `"GET /products/:id"`. */
type Endpoint = `${HttpMethod} /${string}`;

/** A route of the table, on one line: the headers or raw body it takes, if any, last. */
function route(endpoint: Endpoint, action: string, access: Access, tag: string, summary: string, more?: Pick<Route, "headers" | "rawBody">): Route {
	const [method, path] = endpoint.split(" ") as [HttpMethod, string];
	return { method, path, action, access, tag, summary, ...more };
}

/** The cart's routes that reach a guest's cart through its token. */
const CART_TOKEN = { headers: ["X-Cart-Token"] } as const;

/** Matched in this order: the hottest routes first. */
export const ROUTES: readonly Route[] = [
	route("GET /products/:id", "products.get", "public", "Products", "A product"),
	route("GET /products", "products.list", "public", "Products", "Products, paged, searched, filtered and sorted"),
	route("POST /orders", "orders.create", "customer", "Orders", "Place an order (optional Idempotency-Key header)", { headers: ["Idempotency-Key", "X-On-Behalf-Of", "X-Placed-At"] }),
	route("GET /orders/:id", "orders.get", "customer", "Orders", "An order of the caller's (any order for admins)"),
	route("GET /orders", "orders.list", "customer", "Orders", "The caller's orders (every order for admins)"),
	route("POST /orders/:id/cancel", "orders.cancel", "customer", "Orders", "Cancel an order; its stock is released exactly once"),
	route("PATCH /orders/:id/status", "orders.setStatus", "admin", "Orders", "Move an order along the state machine"),
	route("POST /orders/:id/ship", "orders.ship", "admin", "Orders", "Ship a confirmed order with its carrier and tracking number"),
	route("POST /orders/:id/deliver", "orders.deliver", "admin", "Orders", "Record that a shipped order was delivered"),
	route(
		"POST /orders/:id/returns",
		"orders.recordReturn",
		"admin",
		"Orders",
		"Record a return of some lines of a delivered order: refunds them, restocks the lines asked (optional Idempotency-Key header)",
		{
			headers: ["Idempotency-Key"],
		},
	),

	route("GET /orders/:id/payment", "payments.get", "customer", "Payments", "An order's payment: status, amounts, the bank-transfer reference"),
	route("POST /orders/:id/payment", "payments.start", "customer", "Payments", "Choose how to pay an order (manual or stripe); stripe answers the PaymentIntent's client secret"),
	route("POST /orders/:id/mark-paid", "payments.markPaid", "admin", "Payments", "Mark a manually paid order (bank transfer, cash on delivery) as paid"),
	route("POST /orders/:id/refunds", "payments.refund", "admin", "Payments", "Refund some or all of what an order's payment captured"),
	route("POST /payments/webhooks/stripe", "payments.stripeWebhook", "public", "Payments", "Stripe's webhook: events verified against their signature over the raw body", {
		rawBody: true,
		headers: ["Stripe-Signature"],
	}),

	route("GET /cart", "carts.get", "public", "Cart", "The cart: the signed-in customer's, or a guest's through X-Cart-Token", CART_TOKEN),
	route("POST /cart", "carts.create", "public", "Cart", "Start a guest cart (its token in the answer); a signed-in customer gets their own"),
	route("DELETE /cart/items", "carts.clear", "public", "Cart", "Empty the cart (every line)", CART_TOKEN),
	route("POST /cart/items", "carts.addItem", "public", "Cart", "Add units of a product to the cart", CART_TOKEN),
	route("PATCH /cart/items/:productId", "carts.setItem", "public", "Cart", "Set a cart line's quantity", CART_TOKEN),
	route("DELETE /cart/items/:productId", "carts.removeItem", "public", "Cart", "Remove a line from the cart", CART_TOKEN),
	route("POST /cart/merge", "carts.merge", "customer", "Cart", "Merge a guest cart (X-Cart-Token) into the signed-in customer's, after sign-in", CART_TOKEN),
	route("POST /checkout/quote", "orders.quote", "customer", "Checkout", "Price the cart for an address and a shipping method: items, shipping, tax, total"),
	route("POST /checkout", "orders.checkout", "customer", "Checkout", "Turn the cart into an order awaiting payment, its stock held until the payment deadline", { headers: ["Idempotency-Key"] }),

	route("GET /categories", "products.categories", "public", "Products", "Categories with their product counts"),
	route("POST /products", "products.create", "admin", "Products", "Create a product"),
	route("PATCH /products/:id", "products.update", "admin", "Products", "Change a product's fields (not its stock)"),
	route("POST /products/:id/restock", "products.restock", "admin", "Products", "Add stock"),
	route("DELETE /products/:id", "products.remove", "admin", "Products", "Remove a product from the catalog"),

	route("POST /auth/register", "customers.register", "public", "Customers", "Register a customer"),
	route("POST /auth/login", "customers.login", "public", "Customers", "Sign in"),
	route("POST /auth/logout-all", "customers.logoutAll", "customer", "Customers", "Sign out everywhere: every earlier token of this account ends"),
	route("GET /customers/me", "customers.me", "customer", "Customers", "The signed-in customer"),
	route("PATCH /customers/me", "customers.updateMe", "customer", "Customers", "Change the signed-in customer's name, phone or password"),
	route("GET /customers", "customers.list", "admin", "Customers", "Customers, paged; found by a part of their name or email (`search`), filtered by `role`"),
	route("POST /customers/admins", "customers.createAdmin", "admin", "Customers", "Create another admin"),
	route("GET /customers/:id", "customers.get", "admin", "Customers", "A customer"),
	route("PATCH /customers/:id", "customers.setAccess", "admin", "Customers", "Block or unblock a customer, or change its role (a block or a new role ends its tokens)"),

	route("GET /alerts", "alerts.list", "admin", "Alerts", "Alerts, newest first"),
	route("POST /alerts/:id/ack", "alerts.ack", "admin", "Alerts", "Acknowledge an alert"),

	route("GET /analytics/dashboard", "analytics.dashboard", "admin", "Analytics", "The dashboard figures"),
	route("GET /analytics/sales", "analytics.sales", "admin", "Analytics", "Orders and revenue per day or month"),

	route("GET /webhooks", "notifications.listEndpoints", "admin", "Webhooks", "Webhook endpoints"),
	route("POST /webhooks", "notifications.createEndpoint", "admin", "Webhooks", "Register a webhook endpoint; its secret is answered once"),
	route("GET /webhooks/:id", "notifications.getEndpoint", "admin", "Webhooks", "A webhook endpoint"),
	route("PATCH /webhooks/:id", "notifications.updateEndpoint", "admin", "Webhooks", "Change an endpoint's URL, event types or description, or enable or disable it"),
	route("DELETE /webhooks/:id", "notifications.removeEndpoint", "admin", "Webhooks", "Remove a webhook endpoint and its attempt log"),
	route("POST /webhooks/:id/rotate-secret", "notifications.rotateSecret", "admin", "Webhooks", "A new signing secret, answered once"),
	route("GET /webhooks/:id/attempts", "notifications.attempts", "admin", "Webhooks", "An endpoint's delivery attempts, newest first"),
	route("POST /webhooks/:id/ping", "notifications.ping", "admin", "Webhooks", "Send a signed test ping now"),
	route("POST /webhooks/:id/redeliver", "notifications.redeliver", "admin", "Webhooks", "Deliver an event to the endpoint again, under the same webhook-id"),
	route("GET /mail/outbox", "notifications.mailOutbox", "admin", "Mail", "Mail kept in the local outbox (no SMTP configured), reset links masked"),
	route("GET /mail/templates/:name", "notifications.previewTemplate", "admin", "Mail", "A mail template rendered with sample data"),
	route("POST /auth/password-reset", "notifications.requestPasswordReset", "public", "Customers", "Mail a password reset link (202 whether or not the email has an account)"),
	route("POST /auth/password-reset/confirm", "notifications.resetPassword", "public", "Customers", "Set a new password with a reset link's token (once)"),

	route("GET /health", "api.health", "public", "Operations", "Whether every service and dependency is up"),
	route("GET /cluster", "api.cluster", "admin", "Operations", "Every node, the services it runs and its uptime"),
];

const ACCESS: ReadonlyMap<string, Access> = new Map(ROUTES.map(r => [r.action, r.access]));
const HEADERS: ReadonlyMap<string, readonly RouteHeader[]> = new Map(ROUTES.map(r => [r.action, r.headers ?? []]));
const READS: ReadonlySet<string> = new Set(ROUTES.filter(r => r.method === "GET").map(r => r.action));

/** Every action a client may call, over REST or Socket.IO. */
export const EXPOSED_ACTIONS: readonly string[] = [...ACCESS.keys()];

/** Every action a client may call over Socket.IO: raw-body routes (signed webhooks) are REST only. */
export const SOCKET_ACTIONS: readonly string[] = ROUTES.filter(r => !r.rawBody).map(r => r.action);

/** moleculer-web aliases: `"GET /products/:id": "products.get"`, in the table's order. */
export function restAliases(): Record<string, string> {
	return Object.fromEntries(ROUTES.map(r => [`${r.method} ${r.path}`, r.action]));
}

/** The headers an action's route reads (none for an action no route names). */
export const routeHeaders = (action: string): readonly RouteHeader[] => HEADERS.get(action) ?? [];

/** The raw-body routes, by `METHOD /api/path`. */
const RAW_BODY: ReadonlyMap<string, Route> = new Map(ROUTES.filter(r => r.rawBody).map(r => [`${r.method} /api${r.path}`, r]));

/** The raw-body route this request is for, if any: matched exactly (such paths have no params). */
export function rawBodyRoute(method: string | undefined, path: string): Route | undefined {
	return RAW_BODY.get(`${method ?? ""} ${path}`);
}

/** Whether a client's action only reads (a GET route): over REST and Socket.IO alike. */
export const isRead = (action: string) => READS.has(action);

export type AccessDecision = "allow" | "unauthenticated" | "forbidden" | "unknown";

export function checkAccess(action: string, user: AuthUser | null | undefined): AccessDecision {
	const access = ACCESS.get(action);
	if (!access) return "unknown";
	if (access === "public") return "allow";
	if (!user) return "unauthenticated";
	if (access === "admin" && user.role !== "admin") return "forbidden";
	return "allow";
}
