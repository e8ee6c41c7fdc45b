/**
 * The operations page's Mail and Webhooks panels: a module of their own,
 * added to the admin's view once it shows. Mail: what the shop sent, or
 * (without SMTP) what it would have sent, from the local outbox, reset
 * links masked by the server. Webhooks: each endpoint, its state and latest
 * attempts, with a test ping and a redeliver of an attempt's event.
 */

const SESSION_KEY = "shop-ops.session";
const REFRESH_MS = 5000;
const ATTEMPTS_SHOWN = 5;

function token() {
	try {
		return JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null")?.token ?? null;
	} catch {
		return null;
	}
}

async function api(method, path, body) {
	const headers = { accept: "application/json", authorization: `Bearer ${token()}` };
	if (body !== undefined) headers["content-type"] = "application/json";
	const res = await fetch(`/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
	const parsed = await res.json().catch(() => null);
	if (!res.ok) throw new Error(parsed?.message ?? `Request failed (${res.status})`);
	return parsed;
}

function el(tag, attrs = {}, ...children) {
	const node = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs)) {
		if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
		else node.setAttribute(k, v);
	}
	for (const child of children) if (child !== null && child !== undefined) node.append(child);
	return node;
}

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
		el(
			"li",
			{ "data-mail-id": m.id },
			el("details", {}, el("summary", {}, `${when(m.createdAt)} · ${m.to} · `, el("strong", {}, m.subject)), el("pre", { class: "mail-text" }, m.text)),
		),
	);
	const note =
		transport === "smtp"
			? "Mail goes out over SMTP (SMTP_URL); nothing is kept here."
			: `No SMTP server is configured: the ${total} mail the shop would have sent are kept here (reset links masked).`;
	target.replaceChildren(el("p", { class: "muted" }, note), items.length ? el("ul", { class: "mail-list" }, ...items) : el("p", { class: "muted" }, "No mail yet."));
}

async function renderWebhooks(target, error) {
	const endpoints = (await api("GET", "/webhooks?pageSize=100")).rows;
	const blocks = await Promise.all(
		endpoints.map(async e => {
			const attempts = (await api("GET", `/webhooks/${encodeURIComponent(e.id)}/attempts?pageSize=${ATTEMPTS_SHOWN}`)).rows;
			const act = (label, fn) =>
				el("button", {
					type: "button",
					onclick: async ev => {
						ev.currentTarget.disabled = true;
						try {
							await fn();
							error.textContent = "";
						} catch (err) {
							error.textContent = `${label} failed: ${err.message}`;
						}
						void refreshWebhooks(target, error);
					},
				}, label);
			const rows = attempts.map(a =>
				el(
					"tr",
					{ "data-ok": String(a.ok) },
					el("td", {}, when(a.at)),
					el("td", {}, a.type),
					el("td", {}, a.status === null ? "—" : String(a.status)),
					el("td", { class: "num" }, `${a.latencyMs} ms`),
					el("td", {}, a.error ?? "ok"),
					el("td", {}, a.type === "ping" ? "" : act("Redeliver", () => api("POST", `/webhooks/${encodeURIComponent(e.id)}/redeliver`, { eventId: a.eventId }))),
				),
			);
			return el(
				"div",
				{ class: "webhook", "data-endpoint-id": e.id, "data-enabled": String(e.enabled) },
				el("h3", {}, e.url),
				el("p", { class: "muted" }, `${e.description || "no description"} · ${e.eventTypes.join(", ")}`),
				el("p", {}, e.enabled ? `enabled · ${e.failureStreak} failures in a row` : `disabled: ${e.disabledReason ?? ""}`, " ", act("Test ping", () => api("POST", `/webhooks/${encodeURIComponent(e.id)}/ping`)), e.enabled ? null : act("Enable", () => api("PATCH", `/webhooks/${encodeURIComponent(e.id)}`, { enabled: true }))),
				rows.length
					? el("table", { class: "attempts" }, el("thead", {}, el("tr", {}, ...["When", "Event", "Status", "Latency", "Result", ""].map(h => el("th", { scope: "col" }, h)))), el("tbody", {}, ...rows))
					: el("p", { class: "muted" }, "No attempts yet."),
			);
		}),
	);
	target.replaceChildren(...(blocks.length ? blocks : [el("p", { class: "muted" }, "No webhook endpoint is registered (POST /api/webhooks).")]));
}

async function refreshWebhooks(target, error) {
	try {
		await renderWebhooks(target, error);
	} catch (err) {
		error.textContent = `Could not load the webhooks: ${err.message}`;
	}
}

function start(view) {
	const mail = panel("mail", "Mail");
	const hooks = panel("webhooks", "Webhooks");
	view.append(mail.section, hooks.section);
	const refresh = async () => {
		try {
			renderMail(await api("GET", "/mail/outbox"), mail.list);
			mail.error.textContent = "";
		} catch (err) {
			mail.error.textContent = `Could not load the mail: ${err.message}`;
		}
		await refreshWebhooks(hooks.list, hooks.error);
	};
	void refresh();
	setInterval(() => void refresh(), REFRESH_MS);
}

const view = document.getElementById("ops-view");
if (view) {
	const startOnce = () => {
		if (view.hidden || view.dataset.notificationPanels) return;
		view.dataset.notificationPanels = "on";
		start(view);
	};
	new MutationObserver(startOnce).observe(view, { attributes: true, attributeFilter: ["hidden"] });
	startOnce();
}
