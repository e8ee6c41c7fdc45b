import { Api, ApiError } from "./api.js";
import { cartHeaders, forgetGuestCart, guestCartToken } from "./cart.js";
import { fieldErrors } from "./field-errors.js";
import { byId, showError } from "./format.js";
import { connectLive } from "./live.js";
import { startMyOrders } from "./my-orders.js";
import { startOpsView } from "./ops-view.js";
import { startShop } from "./shop.js";

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

let guestShop = null;

/** A guest: the sign-in and sign-up forms, and the shop with a cart its token reaches. */
function showSignIn() {
	byId("sign-in").hidden = false;
	byId("sign-up").hidden = false;
	byId("sign-in-notice").textContent = sessionStorage.getItem(NOTICE_KEY) ?? "";
	sessionStorage.removeItem(NOTICE_KEY);
	byId("sign-in-form").addEventListener("submit", submitSignIn);
	byId("sign-up-form").addEventListener("submit", submitSignUp);
	byId("sign-in-email").focus();
	guestShop = startShop(new Api(null, null, cartHeaders), { guest: true });
}

/**
 * Signed in or signed up: a customer's guest cart joins their own (once;
 * a cart that expired meanwhile is simply gone), and the session starts.
 */
async function begin({ token, customer }) {
	if (customer.role !== "admin" && guestCartToken()) {
		await new Api(token, null, cartHeaders).post("/cart/merge").catch(() => undefined);
	}
	forgetGuestCart();
	sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token, customer }));
	byId("sign-in").hidden = true;
	byId("sign-up").hidden = true;
	startSession({ token, customer });
}

const signUpErrors = fieldErrors(byId("sign-up-form"), field => byId("sign-up-form").elements[field] ?? null);

async function submitSignUp(event) {
	event.preventDefault();
	const form = event.currentTarget;
	const button = form.querySelector("button");
	const error = byId("sign-up-error");
	signUpErrors.clear();
	showError(error, "");
	button.disabled = true;
	try {
		const f = form.elements;
		await begin(await new Api(null).post("/auth/register", { name: f.name.value, email: f.email.value, password: f.password.value }));
	} catch (err) {
		const problems = err instanceof ApiError && err.status === 409 ? [{ field: "email", message: err.message }] : err instanceof ApiError ? err.fieldErrors : [];
		for (const { field, message } of problems) if (!signUpErrors.show(field, message)) showError(error, message);
		if (problems.length) signUpErrors.focusFirst();
		else showError(error, `Could not create your account: ${err.message}`);
		button.disabled = false;
	}
}

async function submitSignIn(event) {
	event.preventDefault();
	const form = event.currentTarget;
	const button = form.querySelector("button");
	const error = byId("sign-in-error");
	button.disabled = true;
	showError(error, "");
	try {
		await begin(await new Api(null).post("/auth/login", { email: form.elements.email.value, password: form.elements.password.value }));
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
	if (customer.role === "admin" && guestShop) byId("shop-view").hidden = true;
	view = customer.role === "admin" ? startOpsView(api, live) : startCustomer(api, live);
	byId("signed-in-as").textContent = `${customer.name} (${customer.role})`;
	byId("session").hidden = false;
	byId("sign-out").addEventListener("click", () => signOut("You are signed out."));
}

function startCustomer(api, live) {
	const orders = startMyOrders(api, live);
	const onPlaced = () => orders.reload();
	const shop = guestShop ?? startShop(api, { guest: false, live, onPlaced });
	guestShop?.signIn(api, live, onPlaced);
	return {
		reload: () => {
			orders.reload();
			shop.reload();
		},
	};
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
