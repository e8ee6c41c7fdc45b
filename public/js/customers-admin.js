import { ApiError, query } from "./api.js";
import { fieldErrors } from "./field-errors.js";
import { byId, el, fillRows, showError, timeElement } from "./format.js";
import { itemsSummary, orderRow } from "./orders.js";
import { createPagedList, createPager } from "./pager.js";

const ORDERS_PAGE_SIZE = 10;

/** A customer's orders, paged, in the panel under the list: `show(customer, page)`. */
function createCustomerOrders(api) {
	const panel = byId("customer-orders");
	const pager = createPager(byId("customer-orders-pager"), "Pages of this customer's orders", page => show(shownFor, page));
	let shownFor = null;

	async function show(customer, page) {
		shownFor = customer;
		panel.hidden = false;
		byId("customer-orders-title").textContent = `Orders of ${customer.name}`;
		const slot = byId("customer-orders-error");
		try {
			const list = await api.get(`/orders${query({ customerId: customer.id, page, pageSize: ORDERS_PAGE_SIZE })}`);
			fillRows(byId("customer-order-rows"), list.rows.map(order => orderRow(order, [el("td", {}, itemsSummary(order))])), byId("customer-orders-empty"));
			pager.show(list);
			showError(slot, "");
		} catch (err) {
			showError(slot, `Could not load the orders of ${customer.name}: ${err.message}`);
		}
	}

	return show;
}

/**
 * Customers found by name or email and role, paged through the API; each
 * one's orders; block and unblock; and a form that creates another admin.
 */
export function createCustomersAdmin(api) {
	const rows = byId("customer-rows");
	const error = byId("customers-error");
	const status = byId("customers-status");
	const showOrders = createCustomerOrders(api);

	function row(customer) {
		const blocked = customer.blocked;
		return el(
			"tr",
			{ "data-customer-id": customer.id, "data-blocked": String(blocked) },
			el("th", { scope: "row" }, el("span", {}, customer.name), el("br"), el("small", { class: "muted" }, customer.email)),
			el("td", {}, customer.role),
			el("td", {}, el("span", { class: "badge", "data-state": blocked ? "down" : "up" }, blocked ? "blocked" : "active")),
			el("td", { class: "optional" }, timeElement(customer.createdAt)),
			el(
				"td",
				{ class: "actions" },
				el("button", { type: "button", class: "secondary", "aria-label": `Orders of ${customer.name}`, onclick: () => showOrders(customer, 1) }, "Orders"),
				el(
					"button",
					{ type: "button", class: blocked ? "secondary" : "danger", "aria-label": `${blocked ? "Unblock" : "Block"} ${customer.name}`, onclick: event => setBlocked(customer, !blocked, event.currentTarget) },
					blocked ? "Unblock" : "Block",
				),
			),
		);
	}

	const customers = createPagedList(api, {
		path: "/customers",
		pager: [byId("customers-pager"), "Customer pages"],
		show: list => fillRows(rows, list.map(row), byId("customers-empty")),
		error,
		what: "the customers",
	});

	async function setBlocked(customer, blocked, button) {
		button.disabled = true;
		try {
			const updated = await api.patch(`/customers/${encodeURIComponent(customer.id)}`, { blocked });
			status.textContent = `${updated.name} is ${updated.blocked ? "blocked: signed out everywhere, and cannot sign in or order" : "unblocked"}.`;
			showError(error, "");
			const fresh = row(updated);
			rows.querySelector(`tr[data-customer-id="${CSS.escape(customer.id)}"]`)?.replaceWith(fresh);
			fresh.querySelector(".actions button:last-child").focus();
		} catch (err) {
			button.disabled = false;
			showError(error, `Could not ${blocked ? "block" : "unblock"} ${customer.name}: ${err.message}`);
		}
	}

	const adminForm = byId("new-admin-form");
	const adminErrors = fieldErrors(adminForm, field => adminForm.elements[field] ?? null);

	async function createAdmin(event) {
		event.preventDefault();
		adminErrors.clear();
		const slot = byId("new-admin-error");
		const done = byId("new-admin-status");
		showError(slot, "");
		done.textContent = "";
		const f = adminForm.elements;
		const button = adminForm.querySelector('button[type="submit"]');
		button.disabled = true;
		try {
			const admin = await api.post("/customers/admins", { name: f.name.value, email: f.email.value, password: f.password.value });
			adminForm.reset();
			done.textContent = `${admin.name} (${admin.email}) is an admin now.`;
			await customers.load({ page: 1, search: "" });
		} catch (err) {
			const problems = err instanceof ApiError && err.status === 409 ? [{ field: "email", message: err.message }] : err instanceof ApiError ? err.fieldErrors : [];
			for (const { field, message } of problems) if (!adminErrors.show(field, message)) showError(slot, message);
			if (problems.length) adminErrors.focusFirst();
			else showError(slot, `Could not create the admin: ${err.message}`);
		} finally {
			button.disabled = false;
		}
	}

	adminForm.addEventListener("submit", createAdmin);
	byId("customer-search").addEventListener("submit", event => {
		event.preventDefault();
		const f = event.currentTarget.elements;
		customers.load({ page: 1, search: f.search.value.trim(), role: f.role.value });
	});

	return { load: () => customers.load() };
}
