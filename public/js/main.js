import { Api, ApiError } from "./api.js";
import { byId, showError } from "./format.js";
import { connectLive } from "./live.js";
import { startMyOrders } from "./my-orders.js";
import { startOpsView } from "./ops-view.js";

const SESSION_KEY = "shop-ops.session";
const NOTICE_KEY = "shop-ops.notice";

function savedSession() {
	try {
		return JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null");
	} catch {
		return null;
	}
}

/** Forget the session and start again from the sign-in form, saying why. */
function signOut(notice) {
	sessionStorage.removeItem(SESSION_KEY);
	if (notice) sessionStorage.setItem(NOTICE_KEY, notice);
	location.reload();
}

function showSignIn() {
	byId("sign-in").hidden = false;
	byId("sign-in-notice").textContent = sessionStorage.getItem(NOTICE_KEY) ?? "";
	sessionStorage.removeItem(NOTICE_KEY);
	byId("sign-in-form").addEventListener("submit", submitSignIn);
	byId("sign-in-email").focus();
}

async function submitSignIn(event) {
	event.preventDefault();
	const form = event.currentTarget;
	const button = form.querySelector("button");
	const error = byId("sign-in-error");
	button.disabled = true;
	showError(error, "");
	try {
		const { token, customer } = await new Api(null).post("/auth/login", { email: form.elements.email.value, password: form.elements.password.value });
		sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token, customer }));
		byId("sign-in").hidden = true;
		startSession({ token, customer });
	} catch (err) {
		showError(error, err instanceof ApiError && err.status === 401 ? "Wrong email or password." : `Could not sign in: ${err.message}`);
	} finally {
		button.disabled = false;
	}
}

function startSession({ token, customer }) {
	const ended = () => signOut("Your session has ended: sign in again.");
	const api = new Api(token, ended);
	let view = null;
	const live = connectLive(token, { onRestored: () => view?.reload(), onUnauthorized: ended });
	view = customer.role === "admin" ? startOpsView(api, live) : startMyOrders(api, live);
	byId("signed-in-as").textContent = `${customer.name} (${customer.role})`;
	byId("session").hidden = false;
	byId("sign-out").addEventListener("click", () => signOut("You are signed out."));
}

/** A saved session still counts only if the API still accepts its token; the role is read afresh. */
async function resume(session) {
	try {
		const customer = await new Api(session.token).get("/customers/me");
		startSession({ token: session.token, customer });
	} catch (err) {
		const expired = err instanceof ApiError && err.status === 401;
		if (expired) sessionStorage.removeItem(SESSION_KEY);
		showSignIn();
		byId("sign-in-notice").textContent = expired ? "Your session has ended: sign in again." : `Could not check your session: ${err.message}`;
	}
}

/**
 * Tables that scroll sideways (on a phone) can be scrolled from the
 * keyboard: each box is a named region in the tab order.
 */
function focusableScrollBoxes() {
	for (const box of document.querySelectorAll(".table-scroll")) {
		const panel = box.closest("section, .panel, figure");
		const heading = box.previousElementSibling?.matches("h2, h3") ? box.previousElementSibling : panel?.querySelector("h2, h3, figcaption");
		box.tabIndex = 0;
		box.setAttribute("role", "region");
		box.setAttribute("aria-label", `${heading?.textContent?.trim() || "Table"} (table)`);
	}
}

focusableScrollBoxes();
const session = savedSession();
if (session?.token) resume(session);
else showSignIn();
