/** The REST API under /api, with the signed-in user's token. */

export class ApiError extends Error {
	constructor(status, body) {
		super(body?.message || `Request failed (${status})`);
		this.status = status;
		this.body = body;
	}

	/** A 422's problems by field (`images[0].url`), each the API's own message. */
	get fieldErrors() {
		const problems = this.status === 422 && Array.isArray(this.body?.data) ? this.body.data : [];
		return problems.filter(p => typeof p?.field === "string").map(p => ({ field: p.field, message: p.message ?? this.message }));
	}
}

/** A query string of the defined, non-empty values. */
export function query(params) {
	const search = new URLSearchParams();
	for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
	const text = search.toString();
	return text ? `?${text}` : "";
}

export class Api {
	/** `headers()` adds headers to each request (a guest's X-Cart-Token). */
	constructor(token, onUnauthorized, headers = () => ({})) {
		this.token = token;
		this.onUnauthorized = onUnauthorized;
		this.headers = headers;
	}

	/** JSON in and out; a status outside 2xx (and `accept`) throws an ApiError. */
	async request(method, path, body, accept = []) {
		const headers = { accept: "application/json", ...this.headers() };
		if (this.token) headers.authorization = `Bearer ${this.token}`;
		if (body !== undefined) headers["content-type"] = "application/json";
		const res = await fetch(`/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
		const parsed = await res.json().catch(() => null);
		if (res.ok || accept.includes(res.status)) return parsed;
		if (res.status === 401 && this.token) this.onUnauthorized?.();
		throw new ApiError(res.status, parsed);
	}

	get(path, accept) {
		return this.request("GET", path, undefined, accept);
	}

	post(path, body = {}) {
		return this.request("POST", path, body);
	}

	patch(path, body = {}) {
		return this.request("PATCH", path, body);
	}

	delete(path) {
		return this.request("DELETE", path);
	}
}
