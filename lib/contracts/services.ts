/**
 * The shop's services, written once: the settings' SERVICES list, the
 * runner, the cluster script (one node each), the gateway's health report
 * and its route documentation all read this.
 */
export const BACKEND_SERVICES = ["customers", "products", "orders", "alerts", "analytics", "payments", "carts", "notifications"] as const;
export type BackendService = (typeof BACKEND_SERVICES)[number];

/** Every service: the gateway, then the ones behind it. */
export const SERVICE_NAMES = ["api", ...BACKEND_SERVICES] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** The name GET /api/health reports each service under. */
export const HEALTH_NAMES: Record<BackendService, string> = {
	orders: "order-service",
	products: "product-service",
	customers: "customer-service",
	alerts: "alert-service",
	analytics: "analytics-service",
	payments: "payment-service",
	carts: "cart-service",
	notifications: "notification-service",
};
