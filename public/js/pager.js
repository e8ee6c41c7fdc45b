import { el } from "./format.js";

/**
 * Previous / next through a list the API pages (`{ rows, total, page,
 * totalPages }`); `go(page)` loads the page asked for.
 */
export function createPager(container, label, go) {
	container.setAttribute("aria-label", label);

	function show(list) {
		const last = Math.max(list.totalPages, 1);
		const previous = el("button", { type: "button", disabled: list.page <= 1, onclick: () => go(list.page - 1) }, "Previous");
		const next = el("button", { type: "button", disabled: list.page >= last, onclick: () => go(list.page + 1) }, "Next");
		const where = el("span", { class: "pager-text", "aria-live": "polite" }, `Page ${Math.min(list.page, last)} of ${last} · ${list.total} in all`);
		container.replaceChildren(previous, where, next);
	}

	return { show };
}
