import type { ServiceSchema } from "moleculer";
import AlertsService from "../alerts.service";
import AnalyticsService from "../analytics.service";
import CartsService from "../carts.service";
import CustomersService from "../customers.service";
import NotificationsService from "../notifications.service";
import OrdersService from "../orders.service";
import PaymentsService from "../payments.service";
import ProductsService from "../products.service";
import { BACKEND_SERVICES, type BackendService } from "../../lib/contracts/services";

/**
 * The schemas of the services whose actions the route table names (the
 * gateway's own aside), imported rather than read from the registry: a
 * gateway alone on its node documents every route from its start, and
 * rules keep what the registry's JSON would lose (a RegExp `pattern`).
 */
const SCHEMAS: Record<BackendService, ServiceSchema> = {
	customers: CustomersService,
	products: ProductsService,
	orders: OrdersService,
	alerts: AlertsService,
	analytics: AnalyticsService,
	payments: PaymentsService,
	carts: CartsService,
	notifications: NotificationsService,
};
export const ROUTED_SERVICES: readonly ServiceSchema[] = BACKEND_SERVICES.map(name => SCHEMAS[name]);
