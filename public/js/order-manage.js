import { byId, el, money, shortId, timeElement, toCents } from "./format.js";
import { isLaterState, statusBadge } from "./orders.js";

const OPEN = ["pending", "awaiting_payment", "confirmed"];
const UNPAID = [null, undefined, "unpaid", "failed"];

function field(id, label, attrs) {
	return el("div", { class: "field" }, el("label", { for: id }, label), el("input", { id, autocomplete: "off", ...attrs }));
}

function fact(term, ...value) {
	return [el("dt", {}, term), el("dd", {}, ...value)];
}

/**
 * One order, opened from its row in the Orders view: its payment, shipping
 * and returns, and the moves an admin makes on it, each a REST route. A
 * refused move shows the API's message beside its button.
 */
export function createOrderManager(api) {
	const panel = byId("order-manage");
	const title = byId("order-manage-title");
	const status = byId("order-manage-status");
	/** The latest state known, and the one the forms were built from (rebuilding them empties what is being typed). */
	let order = null;
	let rendered = null;

	/** A form of one move: its fields, its button, and the slot for the API's refusal right after the button. */
	function move(name, label, fields, send, { danger = false, confirmText = null } = {}) {
		const error = el("p", { class: "error", role: "alert", id: `order-${name}-error` });
		const button = el("button", { type: "submit", class: danger ? "danger" : null, "aria-describedby": error.id }, label);
		const form = el("form", { class: "order-move", "data-move": name, novalidate: true }, ...fields, el("div", { class: "form-actions" }, button), error);
		form.addEventListener("submit", async event => {
			event.preventDefault();
			if (confirmText && !confirm(confirmText)) return;
			error.textContent = "";
			status.textContent = "";
			button.disabled = true;
			try {
				await send(form.elements);
				status.textContent = `${label}: done.`;
				const fresh = await api.get(`/orders/${encodeURIComponent(order.id)}`);
				if (isLaterState(fresh, order)) order = fresh;
				// The move's push may have rebuilt the forms already.
				if (order.updatedAt !== rendered.updatedAt) render();
				else button.disabled = false;
			} catch (err) {
				error.textContent = err.message;
				button.disabled = false;
			}
		});
		return form;
	}

	function path(suffix) {
		return `/orders/${encodeURIComponent(order.id)}/${suffix}`;
	}

	function returnForm() {
		const lines = order.items.map((item, i) =>
			el(
				"li",
				{ class: "return-line", "data-product-id": item.productId },
				el("span", {}, `${item.quantity} × ${item.name}`),
				field(`return-quantity-${i}`, `Units of ${item.name} returned`, { name: `quantity-${i}`, type: "number", min: 0, max: item.quantity, step: 1, value: 0, inputmode: "numeric" }),
				el("label", { class: "check" }, el("input", { type: "checkbox", name: `restock-${i}`, checked: true }), ` ${item.name} goes back in stock`),
			),
		);
		const list = el("fieldset", {}, el("legend", {}, "Return: the units that came back, line by line"), el("ul", { class: "return-lines" }, ...lines));
		return move("return", "Record return", [list], f => {
			const items = order.items
				.map((item, i) => ({ productId: item.productId, quantity: Number(f[`quantity-${i}`].value), restock: f[`restock-${i}`].checked }))
				.filter(line => line.quantity > 0);
			return api.post(path("returns"), { items });
		});
	}

	function moves() {
		const forms = [];
		if (OPEN.includes(order.status) && UNPAID.includes(order.paymentStatus)) forms.push(move("mark-paid", "Mark paid", [], () => api.post(path("mark-paid"))));
		if (order.status === "confirmed") {
			const fields = [field("ship-carrier", "Carrier", { name: "carrier", maxlength: 100 }), field("ship-tracking", "Tracking number", { name: "trackingNumber", maxlength: 64 })];
			forms.push(move("ship", "Ship", fields, f => api.post(path("ship"), { carrier: f.carrier.value, trackingNumber: f.trackingNumber.value })));
		}
		if (order.status === "shipped") forms.push(move("deliver", "Mark delivered", [], () => api.post(path("deliver"))));
		if (order.status === "delivered") forms.push(returnForm());
		if ((order.paidCents ?? 0) > 0) {
			const fields = [field("refund-amount", "Amount to refund", { name: "amount", inputmode: "decimal", placeholder: (order.paidCents / 100).toFixed(2) })];
			forms.push(
				move("refund", "Refund", fields, f => {
					const amountCents = toCents(f.amount.value);
					if (Number.isNaN(amountCents)) throw new Error("Enter an amount such as 12.50.");
					return api.post(path("refunds"), { amountCents });
				}),
			);
		}
		if (OPEN.includes(order.status))
			forms.push(move("cancel", "Cancel order", [], () => api.post(path("cancel")), { danger: true, confirmText: "Cancel this order? Its stock goes back, and its payment is refunded." }));
		return forms;
	}

	function render() {
		rendered = order;
		const f = order.fulfilment;
		title.textContent = `Order ${shortId(order.id)}`;
		panel.dataset.orderId = order.id;
		panel.dataset.status = order.status;
		panel.dataset.payment = order.paymentStatus ?? "unpaid";
		byId("order-manage-facts").replaceChildren(
			...fact("Status", statusBadge(order.status)),
			...fact("Items", order.items.map(i => `${i.quantity} × ${i.name}`).join(", ")),
			...fact("Total", money(order.totalCents)),
			...fact("Payment", `${(order.paymentStatus ?? "unpaid").replace(/_/g, " ")}, ${money(order.paidCents ?? 0)} paid`),
			...fact("Shipping", f ? `${f.carrier}, tracking ${f.trackingNumber}${f.deliveredAt ? ", delivered" : ""}` : "not shipped"),
			...(f ? fact("Shipped", timeElement(f.shippedAt)) : []),
			...(order.returns?.length ? fact("Returns", order.returns.map(r => `${r.items.reduce((s, l) => s + l.quantity, 0)} unit(s), ${money(r.refundCents)} refunded`).join("; ")) : []),
		);
		byId("order-manage-moves").replaceChildren(...moves());
	}

	function show(next) {
		order = next;
		panel.hidden = false;
		render();
	}

	byId("order-manage-close").addEventListener("click", () => {
		panel.hidden = true;
		order = null;
	});

	return {
		/** The row's button that opens the order here. */
		button: shown =>
			el(
				"button",
				{
					type: "button",
					class: "secondary",
					"aria-label": `Manage order ${shortId(shown.id)}`,
					onclick: () => {
						status.textContent = "";
						show(shown);
						title.focus();
					},
				},
				"Manage",
			),
		/** A push: the open order shows its new state (its forms start afresh only when it moved). */
		orderChanged(next) {
			// The answer to a move and its push cross: an earlier or the same state changes nothing (nor empties a field being typed in).
			if (!order || next.id !== order.id || !isLaterState(next, order) || next.updatedAt === order.updatedAt) return;
			order = next;
			const moved = next.status !== rendered.status || next.paymentStatus !== rendered.paymentStatus || (next.returns?.length ?? 0) !== (rendered.returns?.length ?? 0);
			if (moved) render();
		},
	};
}
