/**
 * The operations page's Mail and Webhooks panels: a module of their own,
 * added to the admin's view once it shows. Mail: what the shop sent, or
 * (without SMTP) what it would have sent, from the local outbox, reset
 * links masked by the server. Webhooks: each endpoint, its state and latest
 * attempts, with a test ping and a redeliver of an attempt's event.
 */
import { el } from "./format.js";
import { pollWhileShown } from "./polling.js";

const REFRESH_MS = 5000;
const ATTEMPTS_SHOWN = 5;

const when = iso => new Date(iso).toLocaleString();

function panel(id, title) {
	const list = el("div", { id: `${id}-list` });
	const error = el("p", { id: `${id}-error`, class: "error", role: "alert" });
	const section = el("section", { id: `${id}-panel`, class: "panel", "aria-labelledby": `${id}-title` }, el("h2", { id: `${id}-title` }, title), list, error);
	return { section, list, error };
}

function renderMail(mail, target) {
	const { transport, total, rows } = mail;
	const items = rows.map(m =>
		el("li", { "data-mail-id": m.id }, el("details", {}, el("summary", {}, `${when(m.createdAt)} · ${m.to} · `, el("strong", {}, m.subject)), el("pre", { class: "mail-text" }, m.text))),
	);
	const note =
		transport === "smtp"
			? "Mail goes out over SMTP (SMTP_URL); nothing is kept here."
			: `No SMTP server is configured: the ${total} mail the shop would have sent are kept here (reset links masked).`;
	target.replaceChildren(el("p", { class: "muted" }, note), items.length ? el("ul", { class: "mail-list" }, ...items) : el("p", { class: "muted" }, "No mail yet."));
}

async function renderWebhooks(api, target, error) {
	const endpoints = (await api.get("/webhooks?pageSize=100")).rows;
	const blocks = await Promise.all(
		endpoints.map(async e => {
			const attempts = (await api.get(`/webhooks/${encodeURIComponent(e.id)}/attempts?pageSize=${ATTEMPTS_SHOWN}`)).rows;
			const act = (label, fn) =>
				el(
					"button",
					{
						type: "button",
						onclick: async ev => {
							ev.currentTarget.disabled = true;
							try {
								await fn();
								error.textContent = "";
							} catch (err) {
								error.textContent = `${label} failed: ${err.message}`;
							}
							void refreshWebhooks(api, target, error);
						},
					},
					label,
				);
			const rows = attempts.map(a =>
				el(
					"tr",
					{ "data-ok": String(a.ok) },
					el("td", {}, when(a.at)),
					el("td", {}, a.type),
					el("td", {}, a.status === null ? "—" : String(a.status)),
					el("td", { class: "num" }, `${a.latencyMs} ms`),
					el("td", {}, a.error ?? "ok"),
					el("td", {}, a.type === "ping" ? "" : act("Redeliver", () => api.post(`/webhooks/${encodeURIComponent(e.id)}/redeliver`, { eventId: a.eventId }))),
				),
			);
			return el(
				"div",
				{ class: "webhook", "data-endpoint-id": e.id, "data-enabled": String(e.enabled) },
				el("h3", {}, e.url),
				el("p", { class: "muted" }, `${e.description || "no description"} · ${e.eventTypes.join(", ")}`),
				el(
					"p",
					{},
					e.enabled ? `enabled · ${e.failureStreak} failures in a row` : `disabled: ${e.disabledReason ?? ""}`,
					" ",
					act("Test ping", () => api.post(`/webhooks/${encodeURIComponent(e.id)}/ping`)),
					e.enabled ? null : act("Enable", () => api.patch(`/webhooks/${encodeURIComponent(e.id)}`, { enabled: true })),
				),
				rows.length
					? el(
							"table",
							{ class: "attempts" },
							el("thead", {}, el("tr", {}, ...["When", "Event", "Status", "Latency", "Result", ""].map(h => el("th", { scope: "col" }, h)))),
							el("tbody", {}, ...rows),
						)
					: el("p", { class: "muted" }, "No attempts yet."),
			);
		}),
	);
	target.replaceChildren(...(blocks.length ? blocks : [el("p", { class: "muted" }, "No webhook endpoint is registered (POST /api/webhooks).")]));
}

async function refreshWebhooks(api, target, error) {
	try {
		await renderWebhooks(api, target, error);
	} catch (err) {
		error.textContent = `Could not load the webhooks: ${err.message}`;
	}
}

/** The panels at the end of the admin's overview, read through the page's API client, refreshed while the overview shows. */
export function startNotificationPanels(api, view) {
	const mail = panel("mail", "Mail");
	const hooks = panel("webhooks", "Webhooks");
	view.append(mail.section, hooks.section);
	const refresh = async () => {
		try {
			renderMail(await api.get("/mail/outbox"), mail.list);
			mail.error.textContent = "";
		} catch (err) {
			mail.error.textContent = `Could not load the mail: ${err.message}`;
		}
		await refreshWebhooks(api, hooks.list, hooks.error);
	};
	void refresh();
	pollWhileShown(refresh, REFRESH_MS, () => !view.hidden);
}
