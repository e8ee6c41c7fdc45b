import type { Product } from "../../lib/contracts/types";
/**
 * The demo catalog, customers and order history that `npm run seed` puts
 * into a shop. Hand-made rather than generated: the same every run, small
 * enough to read, and shaped to show something on every screen (products
 * low or out of stock from the start, others that the orders pull low,
 * orders in each status a placed order can rest in, over six weeks).
 */
import type { OrderStatus } from "../../lib/contracts/order-status";
import type { ShippingAddress } from "../../lib/contracts/types";

/** A product as the admin creates it. */
export type SeedProduct = Omit<Product, "id" | "createdAt" | "updatedAt" | "images"> & Partial<Pick<Product, "images">>;

export interface SeedCustomer {
	name: string;
	email: string;
	phone?: string;
	address: ShippingAddress;
}

/** The statuses a placed order rests in; `pending` lasts only while a placement runs. */
export type SeedStatus = Exclude<OrderStatus, "pending" | "awaiting_payment">;

export interface SeedOrder {
	customer: string;
	/** Days before today (UTC), at `hour` o'clock; 0 is placed now. */
	daysAgo: number;
	hour: number;
	items: Array<[sku: string, quantity: number]>;
	status: SeedStatus;
	/** Paid manually (an admin marks it paid), refunded whole after, or unpaid: by default shipped and delivered orders are paid, others not. */
	payment?: SeedPayment;
	/** Lines that came back after delivery, and whether each went back into stock. */
	returned?: Array<[sku: string, quantity: number, restock: boolean]>;
}

export type SeedPayment = "unpaid" | "paid" | "refunded";

/** How a seed order is paid. */
export function paymentOf(order: SeedOrder): SeedPayment {
	return order.payment ?? (order.status === "shipped" || order.status === "delivered" ? "paid" : "unpaid");
}

/** The carrier and tracking number the seed ships its `index`-th order with. */
export function trackingOf(index: number): { carrier: string; trackingNumber: string } {
	const carriers = ["DHL", "UPS", "Royal Mail", "PostNL"];
	return { carrier: carriers[index % carriers.length], trackingNumber: `DEMO${String(100_000 + index * 7919).padStart(8, "0")}` };
}

/** Every demo customer's password, to sign in as one of them. */
export const DEMO_PASSWORD = "demo-password";

const p = (sku: string, name: string, category: string, priceCents: number, stock: number, lowStockThreshold: number, description: string): SeedProduct => ({
	sku,
	name,
	description,
	category,
	priceCents,
	stock,
	lowStockThreshold,
});

export const PRODUCTS: readonly SeedProduct[] = [
	p("COF-ETH-250", "Ethiopia Yirgacheffe, 250 g", "coffee", 1450, 40, 8, "Washed heirloom beans; jasmine, lemon, black tea."),
	p("COF-COL-250", "Colombia Huila, 250 g", "coffee", 1290, 35, 8, "Caramel and red apple; a forgiving everyday coffee."),
	p("COF-BRA-1K", "Brazil Cerrado, 1 kg", "coffee", 3490, 12, 5, "Nutty and chocolatey, roasted for espresso and milk."),
	p("COF-ESP-500", "House espresso blend, 500 g", "coffee", 2190, 30, 10, "Brazil and Ethiopia; dark chocolate, cherry."),
	p("COF-DEC-250", "Swiss Water decaf, 250 g", "coffee", 1390, 4, 6, "Decaffeinated without solvents; cocoa and brown sugar."),
	p("COF-GUA-250", "Guatemala Antigua, 250 g", "coffee", 1490, 0, 5, "Volcanic-soil beans; spice and orange. Next roast soon."),

	p("BRW-V60", "Ceramic pour-over dripper", "brewing", 2490, 25, 5, "Size 02, for one to four cups."),
	p("BRW-FILT-100", "Paper filters, pack of 100", "brewing", 590, 120, 20, "Unbleached, size 02."),
	p("BRW-GRND-M", "Manual burr grinder", "brewing", 6990, 10, 3, "Steel burrs, 40 clicks from espresso to French press."),
	p("BRW-KTL-GN", "Gooseneck kettle, 1 l", "brewing", 5490, 8, 3, "Stainless steel, for every hob including induction."),
	p("BRW-SCALE", "Brewing scale with timer", "brewing", 3990, 6, 4, "0.1 g resolution, USB-C rechargeable."),
	p("BRW-FP-1L", "French press, 1 l", "brewing", 3290, 14, 4, "Borosilicate glass, double mesh filter."),
	p("BRW-TRAVEL", "Travel press", "brewing", 3690, 3, 3, "Brews straight into its own insulated cup."),
	p("BRW-CLEAN", "Descaling tablets, 12", "brewing", 790, 40, 8, "Citric acid; for kettles and machines."),

	p("TEA-SENCHA", "Sencha, 100 g", "tea", 1190, 30, 6, "Steamed Japanese green tea, grassy and sweet."),
	p("TEA-EARL", "Earl Grey, 100 g", "tea", 990, 28, 6, "Ceylon black tea with bergamot oil."),
	p("TEA-CHAI", "Masala chai, 100 g", "tea", 1090, 9, 6, "Assam with cardamom, ginger, cinnamon and clove."),
	p("TEA-ROOIBOS", "Rooibos, 100 g", "tea", 890, 22, 6, "Caffeine-free, honeyed and round."),
	p("TEA-MATCHA", "Ceremonial matcha, 30 g", "tea", 2490, 7, 4, "Stone-ground, first harvest."),

	p("TW-MUG-WHT", "Stoneware mug, white", "tableware", 1290, 60, 10, "350 ml, dishwasher safe."),
	p("TW-MUG-BLU", "Stoneware mug, blue", "tableware", 1290, 45, 10, "350 ml, reactive glaze; each one differs."),
	p("TW-CUP-ESP", "Espresso cups, set of 2", "tableware", 1690, 20, 5, "80 ml, thick walls that keep the heat."),
	p("TW-CARAFE", "Glass carafe, 800 ml", "tableware", 2390, 11, 4, "For pour-over and cold brew."),
	p("TW-TUMBLER", "Insulated tumbler, 350 ml", "tableware", 2690, 18, 5, "Keeps coffee hot for six hours."),
	p("TW-TRAY-OAK", "Oak serving tray", "tableware", 4590, 6, 2, "Solid oak, oiled, 40 x 25 cm."),

	p("BK-ATLAS", "The World Atlas of Coffee", "books", 3500, 15, 3, "From the plant to the cup, country by country."),
	p("BK-BREAD", "Flour Water Salt Yeast", "books", 2800, 9, 3, "Artisan bread and pizza at home."),
	p("BK-FERMENT", "The Art of Fermentation", "books", 3900, 5, 2, "Vegetables, dairy, grains, drinks."),
	p("BK-KNIFE", "Knife Skills Illustrated", "books", 2200, 7, 2, "Step-by-step cutting techniques."),
	p("BK-TEA", "The Tea Book", "books", 1900, 2, 2, "Varieties, brewing and blends."),
];

const address = (line1: string, city: string, postalCode: string, country: string): ShippingAddress => ({ line1, city, postalCode, country });

export const CUSTOMERS: readonly SeedCustomer[] = [
	{ name: "Ada Lovelace", email: "ada@example.com", phone: "+44 20 7946 0018", address: address("12 St James's Square", "London", "SW1Y 4JH", "GB") },
	{ name: "Grace Hopper", email: "grace@example.com", address: address("1 Navy Way", "Arlington", "22201", "US") },
	{ name: "Alan Turing", email: "alan@example.com", address: address("Bletchley Park, Sherwood Drive", "Milton Keynes", "MK3 6EB", "GB") },
	{ name: "Katherine Johnson", email: "katherine@example.com", phone: "+1 757 555 0142", address: address("21 Langley Boulevard", "Hampton", "23681", "US") },
	{ name: "Margaret Hamilton", email: "margaret@example.com", address: address("75 Vassar Street", "Cambridge", "02139", "US") },
	{ name: "Edsger Dijkstra", email: "edsger@example.com", address: address("Den Dolech 2", "Eindhoven", "5612 AZ", "NL") },
];

const o = (customer: string, daysAgo: number, hour: number, status: SeedStatus, ...items: Array<[string, number]>): SeedOrder => ({ customer, daysAgo, hour, items, status });

/** Oldest first; older orders are delivered, recent ones still confirmed or shipped. */
export const ORDERS: readonly SeedOrder[] = [
	o("ada@example.com", 41, 9, "delivered", ["COF-ETH-250", 2], ["BRW-V60", 1], ["BRW-FILT-100", 1]),
	o("grace@example.com", 39, 14, "delivered", ["COF-ESP-500", 2], ["TW-CUP-ESP", 1]),
	o("alan@example.com", 37, 11, "delivered", ["BK-ATLAS", 1], ["COF-COL-250", 1]),
	o("katherine@example.com", 35, 16, "cancelled", ["BRW-GRND-M", 1]),
	o("margaret@example.com", 34, 10, "delivered", ["TEA-SENCHA", 2], ["TW-MUG-WHT", 2]),
	o("edsger@example.com", 32, 8, "delivered", ["COF-BRA-1K", 1], ["BRW-FP-1L", 1]),
	o("ada@example.com", 30, 19, "delivered", ["TEA-CHAI", 1], ["TW-MUG-BLU", 1]),
	{ ...o("grace@example.com", 28, 12, "delivered", ["BRW-KTL-GN", 1], ["BRW-SCALE", 1]), payment: "refunded" },
	o("katherine@example.com", 27, 9, "delivered", ["BK-BREAD", 1], ["BK-FERMENT", 1]),
	o("alan@example.com", 25, 15, "cancelled", ["TW-TRAY-OAK", 1], ["TW-CARAFE", 1]),
	o("margaret@example.com", 23, 13, "delivered", ["TEA-MATCHA", 1], ["TW-CUP-ESP", 1]),
	{
		...o("edsger@example.com", 21, 17, "delivered", ["COF-ETH-250", 3], ["BRW-FILT-100", 2]),
		returned: [
			["COF-ETH-250", 1, true],
			["BRW-FILT-100", 1, false],
		],
	},
	o("ada@example.com", 20, 10, "delivered", ["BRW-GRND-M", 1], ["COF-COL-250", 2]),
	o("grace@example.com", 18, 8, "delivered", ["TEA-EARL", 3], ["TW-MUG-WHT", 1]),
	o("katherine@example.com", 16, 20, "delivered", ["COF-ESP-500", 1], ["TW-TUMBLER", 2]),
	o("alan@example.com", 14, 11, "delivered", ["BK-KNIFE", 1], ["TEA-ROOIBOS", 2]),
	o("margaret@example.com", 12, 9, "cancelled", ["COF-BRA-1K", 2]),
	o("edsger@example.com", 11, 14, "delivered", ["TEA-CHAI", 2], ["TEA-SENCHA", 1]),
	o("ada@example.com", 9, 16, "shipped", ["BRW-SCALE", 1], ["COF-ETH-250", 1]),
	o("grace@example.com", 8, 10, "shipped", ["TW-CARAFE", 1], ["BRW-V60", 1], ["BRW-FILT-100", 1]),
	// Cash on delivery: shipped, not yet paid.
	{ ...o("katherine@example.com", 7, 12, "shipped", ["TEA-MATCHA", 2]), payment: "unpaid" },
	o("alan@example.com", 6, 9, "shipped", ["COF-BRA-1K", 1], ["BRW-CLEAN", 2]),
	o("margaret@example.com", 5, 18, "cancelled", ["BK-ATLAS", 1]),
	o("edsger@example.com", 4, 11, "shipped", ["TW-MUG-BLU", 2], ["TEA-EARL", 1]),
	{ ...o("ada@example.com", 3, 15, "confirmed", ["TEA-CHAI", 1], ["BK-TEA", 1]), payment: "paid" },
	o("grace@example.com", 2, 9, "confirmed", ["COF-ESP-500", 2], ["BRW-TRAVEL", 1]),
	o("katherine@example.com", 2, 17, "confirmed", ["COF-COL-250", 1], ["TW-TUMBLER", 1]),
	o("alan@example.com", 1, 10, "confirmed", ["BRW-FP-1L", 1], ["COF-BRA-1K", 1]),
	o("margaret@example.com", 1, 13, "shipped", ["BRW-KTL-GN", 1]),
	o("edsger@example.com", 0, 0, "confirmed", ["TEA-SENCHA", 1], ["TW-MUG-WHT", 1]),
];

/**
 * Where a checkout rests: `awaiting_payment` (bank transfer chosen, not
 * paid: the settler cancels it at its deadline), or paid by bank transfer,
 * marked paid by an admin, and moved on from `confirmed`.
 */
export type SeedCheckoutStatus = "awaiting_payment" | "confirmed" | "shipped" | "delivered";

/** A customer's own checkout, today: their cart filled, quoted, checked out, then paid or not. */
export interface SeedCheckout {
	customer: string;
	items: Array<[sku: string, quantity: number]>;
	/** A method of the default SHIPPING_METHODS. */
	shippingMethod: string;
	status: SeedCheckoutStatus;
}

const checkout = (customer: string, shippingMethod: string, status: SeedCheckoutStatus, ...items: Array<[string, number]>): SeedCheckout => ({ customer, items, shippingMethod, status });

export const CHECKOUTS: readonly SeedCheckout[] = [
	checkout("katherine@example.com", "standard", "awaiting_payment", ["TEA-ROOIBOS", 2], ["TW-MUG-WHT", 1]),
	checkout("alan@example.com", "express", "awaiting_payment", ["COF-COL-250", 2], ["BRW-FILT-100", 1]),
	checkout("grace@example.com", "standard", "confirmed", ["TEA-EARL", 2], ["BK-BREAD", 1]),
	checkout("margaret@example.com", "express", "shipped", ["BRW-CLEAN", 1], ["TW-MUG-BLU", 2]),
];

/** A cart left with lines: a guest's (no customer) or a customer's own. */
export interface SeedCart {
	customer?: string;
	items: Array<[sku: string, quantity: number]>;
}

const cart = (customer: string | undefined, ...items: Array<[string, number]>): SeedCart => ({ ...(customer ? { customer } : {}), items });

export const CARTS: readonly SeedCart[] = [
	cart(undefined, ["COF-ETH-250", 1], ["BRW-V60", 1]),
	cart("ada@example.com", ["TEA-MATCHA", 1], ["TW-CUP-ESP", 1]),
	cart("edsger@example.com", ["BK-FERMENT", 1]),
	// Checked out today, and already filling the next one.
	cart("grace@example.com", ["COF-DEC-250", 1]),
];
