import { badge, byId, dateTimeOf, duration, el, fillRows, showError, timeOf } from "./format.js";

const DEPENDENCY_LABELS = { transporter: "Transporter (RabbitMQ)", cache: "Cache (Redis)" };
const DEPENDENCY_NONE = "none (embedded)";

function serviceItem(label, state) {
	const shown = state === "running" ? "up" : state === "down" ? "down" : "unknown";
	return el("li", { "data-service": label, "data-state": shown }, el("span", { class: "name" }, label), badge(shown));
}

function dependencyItem(name, state) {
	const shown = ["up", "down", "none"].includes(state) ? state : "unknown";
	return el("li", { "data-dependency": name, "data-state": shown }, el("span", { class: "name" }, DEPENDENCY_LABELS[name] ?? name), badge(shown, shown === "none" ? DEPENDENCY_NONE : shown));
}

/** A node that left stays listed, offline, until the cluster forgets it (10 minutes). */
function upFor(node) {
	if (node.available !== false) return duration(node.uptimeSeconds);
	return badge("down", node.offlineSince ? `offline since ${dateTimeOf(node.offlineSince)}` : "offline");
}

function nodeRow(node) {
	const offline = node.available === false;
	return el(
		"tr",
		{ "data-node-id": node.id, "data-available": String(!offline), class: offline ? "offline" : null },
		el("th", { scope: "row" }, el("code", {}, node.id), node.local ? el("span", { class: "tag" }, "this gateway") : null),
		el("td", { class: "optional" }, node.hostname ?? "–"),
		el("td", {}, node.services.length ? node.services.join(", ") : el("span", { class: "muted" }, "none yet")),
		el("td", {}, upFor(node)),
		el("td", { class: "optional num" }, typeof node.cpu === "number" ? `${Math.round(node.cpu)} %` : "–"),
	);
}

function summaryText(services, dependencies, reachable) {
	if (!reachable) return "The gateway does not answer: the state of the cluster is unknown.";
	const down = [...Object.entries(services).filter(([, s]) => s !== "running").map(([name]) => name), ...Object.entries(dependencies).filter(([, s]) => s === "down").map(([name]) => name)];
	return down.length ? `Degraded: ${down.join(", ")} down.` : "Everything is up.";
}

/**
 * Services and dependencies from GET /api/health (the dependencies from
 * GET /api/cluster where health does not list them), nodes from GET /api/cluster.
 */
export function createClusterPanel(api) {
	const summary = byId("cluster-summary");
	const error = byId("cluster-error");

	function show(health, cluster) {
		const services = health?.services ?? {};
		const dependencies = health?.dependencies ?? cluster?.dependencies ?? {};
		const offline = (cluster?.nodes ?? []).filter(node => node.available === false).length;
		summary.textContent = `${summaryText(services, dependencies, !!health)}${offline ? ` ${offline} node${offline === 1 ? "" : "s"} offline.` : ""}`;
		summary.dataset.state = !health ? "unknown" : /^Degraded/.test(summary.textContent) ? "down" : "up";
		byId("service-states").replaceChildren(...Object.entries(services).map(([label, state]) => serviceItem(label, state)));
		byId("dependency-states").replaceChildren(...Object.entries(dependencies).map(([name, state]) => dependencyItem(name, state)));
		if (cluster) fillRows(byId("cluster-nodes"), cluster.nodes.map(nodeRow));
		byId("cluster-checked").textContent = `Checked at ${timeOf(new Date().toISOString())}`;
	}

	async function refresh() {
		// A degraded cluster answers 503 with the same body.
		const [health, cluster] = await Promise.allSettled([api.get("/health", [503]), api.get("/cluster")]);
		show(health.value, cluster.value);
		const failure = health.reason ?? cluster.reason;
		showError(error, failure ? `Could not read the cluster: ${failure.message}` : "");
		return health.value ?? null;
	}

	return { refresh };
}
