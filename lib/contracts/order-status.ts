export type OrderStatus = "pending" | "awaiting_payment" | "confirmed" | "shipped" | "delivered" | "cancelled";

export const ORDER_STATUSES: readonly OrderStatus[] = ["pending", "awaiting_payment", "confirmed", "shipped", "delivered", "cancelled"];

/**
 * The moves the state machine allows. Nothing leaves delivered or cancelled.
 * Checkout's saga moves pending → awaiting_payment (stock held until the
 * payment deadline); payment confirms it, the deadline cancels it.
 */
const MOVES: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
	pending: ["awaiting_payment", "confirmed", "cancelled"],
	awaiting_payment: ["confirmed", "cancelled"],
	confirmed: ["shipped", "cancelled"],
	shipped: ["delivered"],
	delivered: [],
	cancelled: [],
};

export function canMove(from: OrderStatus, to: OrderStatus): boolean {
	return MOVES[from].includes(to);
}
