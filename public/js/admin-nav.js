import { byId } from "./format.js";

/**
 * The admin's views, one per `#name` in the address (`#products`), each a
 * section of the page with a link in the admin navigation. A view is loaded
 * each time it is opened; the overview (`#ops-view`) is the default.
 * Another view (mail, payments) is one more entry here, one link and one
 * section.
 */
export function startAdminNav(views) {
	const nav = byId("admin-nav");
	nav.hidden = false;
	let shown = null;

	function show({ focus }) {
		const name = location.hash.slice(1) in views ? location.hash.slice(1) : "overview";
		if (name === shown) return;
		shown = name;
		for (const [key, view] of Object.entries(views)) view.section.hidden = key !== name;
		for (const link of nav.querySelectorAll("a[data-view]")) {
			if (link.dataset.view === name) link.setAttribute("aria-current", "page");
			else link.removeAttribute("aria-current");
		}
		views[name].open?.();
		// Keyboard and screen-reader users land on the view they chose.
		if (focus) {
			const heading = views[name].section.querySelector("h2");
			heading?.setAttribute("tabindex", "-1");
			heading?.focus();
		}
	}

	addEventListener("hashchange", () => show({ focus: true }));
	show({ focus: false });
	return { reload: () => views[shown]?.open?.() };
}
