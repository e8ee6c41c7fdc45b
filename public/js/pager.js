import { query } from "./api.js";
import { el, showError } from "./format.js";

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

/**
 * A list the API pages, `GET path?page&pageSize&<filters>`, with its pager
 * in `pager` (labelled `label`): `load({ page, ...filters })` loads a page,
 * what it does not name as last loaded (at first, page 1 unfiltered); the
 * rows go to `show`, and `error` says "Could not load `what`" when they
 * cannot be read. `current` is the page and filters last loaded, `shown`
 * its rows by id (for pushes to update in place).
 */
export function createPagedList(api, { path, pageSize = 20, pager: [container, label], show, error, what }) {
	let current = { page: 1 };
	let shown = new Map();
	const pager = createPager(container, label, page => load({ page }));

	async function load(wanted = {}) {
		const { page, ...rest } = { ...current, ...wanted };
		try {
			const list = await api.get(`${path}${query({ page, pageSize, ...rest })}`);
			current = { page: list.page, ...rest };
			shown = new Map(list.rows.map(row => [row.id, row]));
			show(list.rows);
			pager.show(list);
			showError(error, "");
		} catch (err) {
			showError(error, `Could not load ${what}: ${err.message}`);
		}
	}

	return {
		load,
		get current() {
			return current;
		},
		get shown() {
			return shown;
		},
	};
}
