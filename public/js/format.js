/** Small DOM and formatting helpers. Text always goes in as text, never as HTML. */

/**
 * An element: `attrs` become attributes (`true` an empty one, `false`/null
 * none), `on<event>` functions listeners; children are nodes or strings.
 */
export function el(tag, attrs = {}, ...children) {
	const node = document.createElement(tag);
	for (const [name, value] of Object.entries(attrs)) {
		if (value === false || value === null || value === undefined) continue;
		if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
		else node.setAttribute(name, value === true ? "" : String(value));
	}
	node.append(...children.flat().filter(child => child !== null && child !== undefined && child !== false));
	return node;
}

export function byId(id) {
	return document.getElementById(id);
}

/** Shows `message` in an error slot, or empties it. */
export function showError(slot, message) {
	slot.textContent = message ?? "";
}

const moneyFormat = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function money(cents) {
	return typeof cents === "number" ? moneyFormat.format(cents / 100) : "–";
}

/** "12.5" or "12,50" as cents; NaN when it is not an amount with at most two decimals. */
export function toCents(text) {
	const normal = text.trim().replace(",", ".");
	if (!/^\d{1,9}(\.\d{1,2})?$/.test(normal)) return NaN;
	const [whole, fraction = ""] = normal.split(".");
	return Number(whole) * 100 + Number(fraction.padEnd(2, "0"));
}

export function timeOf(iso) {
	return new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function dateTimeOf(iso) {
	return new Date(iso).toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

/** A `<time>` element showing the day and the time (weeks of orders read in order), to the second on hover. */
export function timeElement(iso) {
	return el("time", { datetime: iso, title: new Date(iso).toLocaleString(undefined, { dateStyle: "full", timeStyle: "medium" }) }, dateTimeOf(iso));
}

export function duration(seconds) {
	if (typeof seconds !== "number") return "unknown";
	if (seconds < 60) return `${seconds} s`;
	if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
	if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
	return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

export function shortId(id) {
	return id.length > 10 ? `${id.slice(0, 8)}…` : id;
}

/** Calls `fn` once, `ms` after the last of a burst of calls (a steady stream of calls holds it back). */
export function debounce(fn, ms) {
	let timer;
	return (...args) => {
		clearTimeout(timer);
		timer = setTimeout(() => fn(...args), ms);
	};
}

/**
 * A status as text with a symbol beside it, so that colour is never the only
 * cue: `data-state` picks the colour in the style sheet.
 */
export function badge(state, label = state) {
	const symbol = { up: "✓", down: "✕", none: "–", unknown: "?" }[state];
	return el("span", { class: "badge", "data-state": state }, symbol ? el("span", { "aria-hidden": "true" }, `${symbol} `) : null, label);
}

/** Puts `rows` in `tbody` and shows the `empty` note when there are none. */
export function fillRows(tbody, rows, empty) {
	tbody.replaceChildren(...rows);
	if (empty) empty.hidden = rows.length > 0;
}
