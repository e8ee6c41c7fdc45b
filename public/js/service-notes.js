import { byId, el } from "./format.js";

/** Each panel and the service whose data it shows (health labels). */
const PANEL_SERVICES = {
	"figures-panel": "analytics-service",
	"orders-panel": "order-service",
	"alerts-panel": "alert-service",
	"low-stock-panel": "product-service",
};

/** The note of a panel, made on first use just below its title: `low-stock-panel` has `#low-stock-unavailable`. */
function note(panelId) {
	const id = `${panelId.replace(/-panel$/, "")}-unavailable`;
	let slot = byId(id);
	if (!slot) {
		slot = el("p", { id, class: "notice service-down", role: "status", hidden: true });
		const panel = byId(panelId);
		if (!panel) return null;
		const head = panel.querySelector(".panel-head") ?? panel.querySelector("h2");
		head.after(slot);
	}
	return slot;
}

/** Says, in the panel, that its service is down (what it shows may be out of date), or hides the note. */
export function markPanel(panelId, down, message) {
	const slot = note(panelId);
	if (!slot) return;
	slot.hidden = !down;
	slot.textContent = down ? message : "";
}

/** From GET /api/health's services: each panel whose service is down says so; unknown (no answer) changes nothing. */
export function showServiceStates(services) {
	if (!services) return;
	for (const [panelId, label] of Object.entries(PANEL_SERVICES)) {
		const state = services[label];
		if (state === undefined) continue;
		const name = label.replace(/-service$/, "");
		markPanel(panelId, state !== "running", `The ${name} service is down: what this panel shows may be out of date, and changes to it may be refused.`);
	}
}
