import type { DbAdapter, Doc, IndexSpec } from "../../lib/db/adapter";
import type { NotificationSettings } from "../../lib/infra/settings";
import { AddressGuard } from "./address-guard";
import { AttemptLog, type AttemptDoc } from "./attempt-log";
import { Dispatcher, type DispatcherDeps } from "./dispatcher";
import { Endpoints, type EndpointDoc } from "./endpoints";
import { LocalOutbox, SmtpTransport, Templates, type LocalMailDoc, type MailTransport } from "./mailer";
import { Outbox, type DeliveryDoc, type EventDoc } from "./outbox";
import { Resets, type ResetDoc } from "./resets";
import { WebhookSender } from "./webhook-sender";

/** The notifications service's parts, built on its store's collections. */
export interface Parts {
	endpoints: Endpoints;
	outbox: Outbox;
	attempts: AttemptLog;
	resets: Resets;
	templates: Templates;
	localOutbox: LocalOutbox | null;
	transport: MailTransport;
	dispatcher: Dispatcher;
}

export async function buildParts(
	s: NotificationSettings,
	endpointStore: DbAdapter<EndpointDoc>,
	open: <U extends Doc>(collection: string, indexes?: IndexSpec[]) => Promise<DbAdapter<U>>,
	hooks: Pick<DispatcherDeps, "customer" | "disabled" | "logger">,
): Promise<Parts> {
	const guard = new AddressGuard(s.allow);
	const endpoints = new Endpoints(endpointStore, guard, { requireHttps: s.requireHttps, secretKey: s.secretKey });
	const outbox = new Outbox(await open<EventDoc>("notification_events"), await open<DeliveryDoc>("deliveries", [{ field: "dueAt", sparse: true, sorted: true }]));
	const attempts = new AttemptLog(await open<AttemptDoc>("webhook_attempts"), { retentionDays: s.logRetentionDays, maxPerEndpoint: s.logMaxPerEndpoint });
	const resets = new Resets(await open<ResetDoc>("password_resets"), s.resetTtlMs);
	const templates = new Templates();
	const localOutbox = s.smtpUrl ? null : new LocalOutbox(await open<LocalMailDoc>("mail_outbox"));
	const transport = localOutbox ?? new SmtpTransport(s.smtpUrl!, s.mailFrom, Math.min(s.concurrency, 32));
	const sender = new WebhookSender(guard, { timeoutMs: s.timeoutMs, maxResponseBytes: s.maxResponseBytes, concurrency: s.concurrency });
	const dispatcher = new Dispatcher({ outbox, endpoints, sender, attempts, templates, transport, settings: s, ...hooks });
	return { endpoints, outbox, attempts, resets, templates, localOutbox, transport, dispatcher };
}
