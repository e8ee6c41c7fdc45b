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
export type RouteHeader = "Idempotency-Key" | "X-On-Behalf-Of" | "X-Placed-At" | "X-Cart-Token";

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
	 * `ctx.meta.rawBody`), with these request headers (lower case) in
	 * `ctx.meta.rawHeaders`: for senders that sign their bytes (provider
	 * webhooks). Such a route's path has no `:params`.
	 */
	rawBody?: { headers: readonly string[] };
}

/** Matched in this order: the hottest routes first. */
export const ROUTES: readonly Route[] = [
	{ method: "GET", path: "/products/:id", action: "products.get", access: "public", tag: "Products", summary: "A product" },
	{ method: "GET", path: "/products", action: "products.list", access: "public", tag: "Products", summary: "Products, paged, searched, filtered and sorted" },
	{
		method: "POST",
		path: "/orders",
		action: "orders.create",
		access: "customer",
		tag: "Orders",
		summary: "Place an order (optional Idempotency-Key header)",
		headers: ["Idempotency-Key", "X-On-Behalf-Of", "X-Placed-At"],
	},
	{ method: "GET", path: "/orders/:id", action: "orders.get", access: "customer", tag: "Orders", summary: "An order of the caller's (any order for admins)" },
	{ method: "GET", path: "/orders", action: "orders.list", access: "customer", tag: "Orders", summary: "The caller's orders (every order for admins)" },
	{ method: "POST", path: "/orders/:id/cancel", action: "orders.cancel", access: "customer", tag: "Orders", summary: "Cancel an order; its stock is released exactly once" },
	{ method: "PATCH", path: "/orders/:id/status", action: "orders.setStatus", access: "admin", tag: "Orders", summary: "Move an order along the state machine" },
	{ method: "POST", path: "/orders/:id/ship", action: "orders.ship", access: "admin", tag: "Orders", summary: "Ship a confirmed order with its carrier and tracking number" },
	{ method: "POST", path: "/orders/:id/deliver", action: "orders.deliver", access: "admin", tag: "Orders", summary: "Record that a shipped order was delivered" },
	{
		method: "POST",
		path: "/orders/:id/returns",
		action: "orders.recordReturn",
		access: "admin",
		tag: "Orders",
		summary: "Record a return of some lines of a delivered order: refunds them, restocks the lines asked",
	},

	{ method: "GET", path: "/orders/:id/payment", action: "payments.get", access: "customer", tag: "Payments", summary: "An order's payment: status, amounts, the bank-transfer reference" },
	{
		method: "POST",
		path: "/orders/:id/payment",
		action: "payments.start",
		access: "customer",
		tag: "Payments",
		summary: "Choose how to pay an order (manual or stripe); stripe answers the PaymentIntent's client secret",
	},
	{ method: "POST", path: "/orders/:id/mark-paid", action: "payments.markPaid", access: "admin", tag: "Payments", summary: "Mark a manually paid order (bank transfer, cash on delivery) as paid" },
	{ method: "POST", path: "/orders/:id/refunds", action: "payments.refund", access: "admin", tag: "Payments", summary: "Refund some or all of what an order's payment captured" },
	{
		method: "POST",
		path: "/payments/webhooks/stripe",
		action: "payments.stripeWebhook",
		access: "public",
		tag: "Payments",
		summary: "Stripe's webhook: events verified against their signature over the raw body",
		rawBody: { headers: ["stripe-signature"] },
	},

	{ method: "GET", path: "/cart", action: "carts.get", access: "public", tag: "Cart", summary: "The cart: the signed-in customer's, or a guest's through X-Cart-Token", headers: ["X-Cart-Token"] },
	{ method: "POST", path: "/cart", action: "carts.create", access: "public", tag: "Cart", summary: "Start a guest cart (its token in the answer); a signed-in customer gets their own" },
	{ method: "DELETE", path: "/cart/items", action: "carts.clear", access: "public", tag: "Cart", summary: "Empty the cart (every line)", headers: ["X-Cart-Token"] },
	{ method: "POST", path: "/cart/items", action: "carts.addItem", access: "public", tag: "Cart", summary: "Add units of a product to the cart", headers: ["X-Cart-Token"] },
	{ method: "PATCH", path: "/cart/items/:productId", action: "carts.setItem", access: "public", tag: "Cart", summary: "Set a cart line's quantity", headers: ["X-Cart-Token"] },
	{ method: "DELETE", path: "/cart/items/:productId", action: "carts.removeItem", access: "public", tag: "Cart", summary: "Remove a line from the cart", headers: ["X-Cart-Token"] },
	{
		method: "POST",
		path: "/cart/merge",
		action: "carts.merge",
		access: "customer",
		tag: "Cart",
		summary: "Merge a guest cart (X-Cart-Token) into the signed-in customer's, after sign-in",
		headers: ["X-Cart-Token"],
	},
	{
		method: "POST",
		path: "/checkout/quote",
		action: "orders.quote",
		access: "customer",
		tag: "Checkout",
		summary: "Price the cart for an address and a shipping method: items, shipping, tax, total",
	},
	{
		method: "POST",
		path: "/checkout",
		action: "orders.checkout",
		access: "customer",
		tag: "Checkout",
		summary: "Turn the cart into an order awaiting payment, its stock held until the payment deadline",
		headers: ["Idempotency-Key"],
	},

	{ method: "GET", path: "/categories", action: "products.categories", access: "public", tag: "Products", summary: "Categories with their product counts" },
	{ method: "POST", path: "/products", action: "products.create", access: "admin", tag: "Products", summary: "Create a product" },
	{ method: "PATCH", path: "/products/:id", action: "products.update", access: "admin", tag: "Products", summary: "Change a product's fields (not its stock)" },
	{ method: "POST", path: "/products/:id/restock", action: "products.restock", access: "admin", tag: "Products", summary: "Add stock" },
	{ method: "DELETE", path: "/products/:id", action: "products.remove", access: "admin", tag: "Products", summary: "Remove a product from the catalog" },

	{ method: "POST", path: "/auth/register", action: "customers.register", access: "public", tag: "Customers", summary: "Register a customer" },
	{ method: "POST", path: "/auth/login", action: "customers.login", access: "public", tag: "Customers", summary: "Sign in" },
	{ method: "POST", path: "/auth/logout-all", action: "customers.logoutAll", access: "customer", tag: "Customers", summary: "Sign out everywhere: every earlier token of this account ends" },
	{ method: "GET", path: "/customers/me", action: "customers.me", access: "customer", tag: "Customers", summary: "The signed-in customer" },
	{ method: "PATCH", path: "/customers/me", action: "customers.updateMe", access: "customer", tag: "Customers", summary: "Change the signed-in customer's name, phone or password" },
	{
		method: "GET",
		path: "/customers",
		action: "customers.list",
		access: "admin",
		tag: "Customers",
		summary: "Customers, paged; found by a part of their name or email (`search`), filtered by `role`",
	},
	{ method: "POST", path: "/customers/admins", action: "customers.createAdmin", access: "admin", tag: "Customers", summary: "Create another admin" },
	{ method: "GET", path: "/customers/:id", action: "customers.get", access: "admin", tag: "Customers", summary: "A customer" },
	{
		method: "PATCH",
		path: "/customers/:id",
		action: "customers.setAccess",
		access: "admin",
		tag: "Customers",
		summary: "Block or unblock a customer, or change its role (a block or a new role ends its tokens)",
	},

	{ method: "GET", path: "/alerts", action: "alerts.list", access: "admin", tag: "Alerts", summary: "Alerts, newest first" },
	{ method: "POST", path: "/alerts/:id/ack", action: "alerts.ack", access: "admin", tag: "Alerts", summary: "Acknowledge an alert" },

	{ method: "GET", path: "/analytics/dashboard", action: "analytics.dashboard", access: "admin", tag: "Analytics", summary: "The dashboard figures" },
	{ method: "GET", path: "/analytics/sales", action: "analytics.sales", access: "admin", tag: "Analytics", summary: "Orders and revenue per day or month" },

	{ method: "GET", path: "/webhooks", action: "notifications.listEndpoints", access: "admin", tag: "Webhooks", summary: "Webhook endpoints" },
	{ method: "POST", path: "/webhooks", action: "notifications.createEndpoint", access: "admin", tag: "Webhooks", summary: "Register a webhook endpoint; its secret is answered once" },
	{ method: "GET", path: "/webhooks/:id", action: "notifications.getEndpoint", access: "admin", tag: "Webhooks", summary: "A webhook endpoint" },
	{
		method: "PATCH",
		path: "/webhooks/:id",
		action: "notifications.updateEndpoint",
		access: "admin",
		tag: "Webhooks",
		summary: "Change an endpoint's URL, event types or description, or enable or disable it",
	},
	{ method: "DELETE", path: "/webhooks/:id", action: "notifications.removeEndpoint", access: "admin", tag: "Webhooks", summary: "Remove a webhook endpoint and its attempt log" },
	{ method: "POST", path: "/webhooks/:id/rotate-secret", action: "notifications.rotateSecret", access: "admin", tag: "Webhooks", summary: "A new signing secret, answered once" },
	{ method: "GET", path: "/webhooks/:id/attempts", action: "notifications.attempts", access: "admin", tag: "Webhooks", summary: "An endpoint's delivery attempts, newest first" },
	{ method: "POST", path: "/webhooks/:id/ping", action: "notifications.ping", access: "admin", tag: "Webhooks", summary: "Send a signed test ping now" },
	{
		method: "POST",
		path: "/webhooks/:id/redeliver",
		action: "notifications.redeliver",
		access: "admin",
		tag: "Webhooks",
		summary: "Deliver an event to the endpoint again, under the same webhook-id",
	},
	{ method: "GET", path: "/mail/outbox", action: "notifications.mailOutbox", access: "admin", tag: "Mail", summary: "Mail kept in the local outbox (no SMTP configured), reset links masked" },
	{ method: "GET", path: "/mail/templates/:name", action: "notifications.previewTemplate", access: "admin", tag: "Mail", summary: "A mail template rendered with sample data" },
	{
		method: "POST",
		path: "/auth/password-reset",
		action: "notifications.requestPasswordReset",
		access: "public",
		tag: "Customers",
		summary: "Mail a password reset link (202 whether or not the email has an account)",
	},
	{ method: "POST", path: "/auth/password-reset/confirm", action: "notifications.resetPassword", access: "public", tag: "Customers", summary: "Set a new password with a reset link's token (once)" },

	{ method: "GET", path: "/health", action: "api.health", access: "public", tag: "Operations", summary: "Whether every service and dependency is up" },
	{ method: "GET", path: "/cluster", action: "api.cluster", access: "admin", tag: "Operations", summary: "Every node, the services it runs and its uptime" },
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
