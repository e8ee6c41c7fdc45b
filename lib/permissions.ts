import type { AuthUser } from "./auth";

/**
 * The one permission source for every client-facing entry point (REST and
 * Socket.IO `call`). An action missing here cannot be called from outside.
 *   public   - anyone
 *   customer - any signed-in user (admins included)
 *   admin    - admins only
 */
export type Access = "public" | "customer" | "admin";

export const PERMISSIONS: Readonly<Record<string, Access>> = {
	"api.health": "public",

	"customers.register": "public",
	"customers.login": "public",
	"customers.me": "customer",
	"customers.updateMe": "customer",
	"customers.list": "admin",
	"customers.get": "admin",
	"customers.setBlocked": "admin",

	"products.list": "public",
	"products.get": "public",
	"products.categories": "public",
	"products.create": "admin",
	"products.update": "admin",
	"products.restock": "admin",
	"products.remove": "admin",

	"orders.create": "customer",
	"orders.list": "customer",
	"orders.get": "customer",
	"orders.cancel": "customer",
	"orders.setStatus": "admin",

	"alerts.list": "admin",
	"alerts.ack": "admin",

	"analytics.dashboard": "admin",
	"analytics.sales": "admin",
};

export const PUBLIC_ACTIONS = Object.keys(PERMISSIONS);

export type AccessDecision = "allow" | "unauthenticated" | "forbidden" | "unknown";

export function checkAccess(action: string, user: AuthUser | null | undefined): AccessDecision {
	const access = Object.hasOwn(PERMISSIONS, action) ? PERMISSIONS[action] : undefined;
	if (!access) return "unknown";
	if (access === "public") return "allow";
	if (!user) return "unauthenticated";
	if (access === "admin" && user.role !== "admin") return "forbidden";
	return "allow";
}
