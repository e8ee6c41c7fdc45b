import { byId, dateTimeOf, el, money } from "./format.js";

function fact(term, value, attrs = {}) {
	return [el("dt", {}, term), el("dd", attrs, value)];
}

/** The bank-transfer instructions for an order awaiting payment: the amount, the payment reference, the deadline. */
export function showPayment(order, payment) {
	const section = byId("payment");
	byId("payment-details").replaceChildren(
		...fact("Amount", money(payment.amountCents), { "data-payment": "amount" }),
		...fact("Payment reference", el("strong", {}, payment.reference), { "data-payment": "reference" }),
		...(order.paymentDeadline ? fact("Pay before", dateTimeOf(order.paymentDeadline)) : []),
		...fact("Order", order.id, { "data-payment": "order" }),
	);
	section.hidden = false;
	section.focus();
}
