import type { PaymentMismatchMessage } from "../../lib/contracts/channels";
import type { NotificationSettings } from "../../lib/infra/settings";
import type { Dispatcher } from "./dispatcher";
import { MalformedMessageError } from "./events";
import type { TemplateData } from "./mailer";
import type { MailTarget, Outbox } from "./outbox";
import { sha256 } from "./signing";

/**
 * The operators' mail (ALERT_EMAILS) about a provider's payment event
 * refused for its amount or currency. It is no webhook event: only the
 * operators hear of it, one mail per address, once per provider event (the
 * provider sends a refused event again, and the channel may too).
 */

const isText = (v: unknown): v is string => typeof v === "string" && v.length > 0;
const isCents = (v: unknown): v is number => Number.isInteger(v);
const amount = (cents: number, currency: string) => `${(cents / 100).toFixed(2)} ${currency.toUpperCase()}`;

/** What the template reads (the admin's preview uses it too). */
export function mismatchData(msg: Omit<PaymentMismatchMessage, "paymentId" | "message">, publicUrl: string): TemplateData {
	return {
		orderId: msg.orderId,
		expected: amount(msg.expectedCents, msg.expectedCurrency),
		received: amount(msg.receivedCents, msg.currency),
		providerEventId: msg.eventId,
		link: `${publicUrl}/`,
	};
}

export function mismatchMails(msg: PaymentMismatchMessage, s: Pick<NotificationSettings, "alertEmails" | "publicUrl">): Array<{ id: string; target: MailTarget & { to: string } }> {
	if (!msg || !isText(msg.eventId) || !isText(msg.orderId) || !isText(msg.currency) || !isText(msg.expectedCurrency) || !isCents(msg.expectedCents) || !isCents(msg.receivedCents))
		throw new MalformedMessageError("Malformed payment mismatch message");
	const id = `mismatch_${sha256(`${msg.orderId}:${msg.eventId}`).slice(0, 32)}`;
	const data = mismatchData(msg, s.publicUrl);
	return s.alertEmails.map(to => ({ id, target: { template: "operator.payment_mismatch", to, data } }));
}

/** The notifications service's handler of the mismatch channel: the mails queued, the dispatcher woken. */
export async function mailMismatch(this: { outbox: Outbox; dispatcher: Dispatcher; settings: { notifications: NotificationSettings } }, msg: PaymentMismatchMessage): Promise<void> {
	const mails = mismatchMails(msg, this.settings.notifications);
	for (const { id, target } of mails) await this.outbox.enqueue(id, "payment.mismatch", { channel: "mail", key: `operator:${target.to}`, mail: target });
	if (mails.length) this.dispatcher.kick(true);
}
