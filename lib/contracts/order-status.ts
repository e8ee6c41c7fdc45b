export type OrderStatus = "pending" | "confirmed" | "shipped" | "delivered" | "cancelled";

export const ORDER_STATUSES: readonly OrderStatus[] = ["pending", "confirmed", "shipped", "delivered", "cancelled"];

/** The moves the state machine allows. Nothing leaves delivered or cancelled. */
const MOVES: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
	pending: ["confirmed", "cancelled"],
	confirmed: ["shipped", "cancelled"],
	shipped: ["delivered"],
	delivered: [],
	cancelled: [],
};

export function canMove(from: OrderStatus, to: OrderStatus): boolean {
	return MOVES[from].includes(to);
}
