import { byId, el, showError, timeElement } from "./format.js";

const ACKNOWLEDGED_SHOWN = 10;

/** Unacknowledged alerts first, each acknowledged with one click; the latest acknowledged below them. */
export function createAlertsPanel(api) {
	const open = byId("alerts-open");
	const done = byId("alerts-done");
	const status = byId("alerts-status");
	const error = byId("alerts-error");
	const alerts = new Map();
	/** Alerts pushed while a reload is under way: the reload's answer may predate them. */
	let pushedDuringLoad = null;

	async function acknowledge(alert, button) {
		button.disabled = true;
		button.textContent = "Acknowledging…";
		try {
			put(await api.post(`/alerts/${encodeURIComponent(alert.id)}/ack`));
			status.textContent = `Acknowledged: ${alert.message}`;
			showError(error, "");
		} catch (err) {
			button.disabled = false;
			button.textContent = "Acknowledge";
			showError(error, `Could not acknowledge the alert: ${err.message}`);
		}
	}

	function item(alert) {
		const action = alert.acknowledged
			? el("span", { class: "muted" }, "acknowledged")
			: el("button", { type: "button", "aria-label": `Acknowledge: ${alert.message}`, onclick: event => acknowledge(alert, event.currentTarget) }, "Acknowledge");
		return el(
			"li",
			{ "data-alert-id": alert.id, "data-acknowledged": String(alert.acknowledged), "data-severity": alert.severity },
			el("span", { class: "severity", "data-severity": alert.severity }, alert.severity),
			el("span", { class: "alert-text" }, el("span", {}, alert.message), el("small", { class: "muted" }, `${alert.type.replace(/_/g, " ")} · `, timeElement(alert.createdAt))),
			action,
		);
	}

	function render() {
		const newestFirst = [...alerts.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
		open.replaceChildren(...newestFirst.filter(a => !a.acknowledged).map(item));
		done.replaceChildren(...newestFirst.filter(a => a.acknowledged).slice(0, ACKNOWLEDGED_SHOWN).map(item));
		byId("alerts-open-empty").hidden = open.children.length > 0;
		byId("alerts-open-title").textContent = `Unacknowledged (${open.children.length})`;
	}

	function put(alert) {
		pushedDuringLoad?.set(alert.id, alert);
		const known = alerts.get(alert.id);
		// An acknowledgement is never undone by an older copy of the alert.
		alerts.set(alert.id, known?.acknowledged ? { ...alert, acknowledged: true } : alert);
		render();
	}

	async function load() {
		const pushed = (pushedDuringLoad = new Map());
		try {
			const [unacknowledged, acknowledged] = await Promise.all([api.get("/alerts?acknowledged=false&pageSize=100"), api.get(`/alerts?acknowledged=true&pageSize=${ACKNOWLEDGED_SHOWN}`)]);
			// The server's answer replaces what was shown: another admin may have acknowledged some meanwhile.
			alerts.clear();
			for (const alert of [...unacknowledged.rows, ...acknowledged.rows, ...pushed.values()]) alerts.set(alert.id, alert);
			render();
			showError(error, "");
		} catch (err) {
			showError(error, `Could not load the alerts: ${err.message}`);
		} finally {
			if (pushedDuringLoad === pushed) pushedDuringLoad = null;
		}
	}

	return { load, add: put };
}
