/**
 * Bad input, by property (issue 8; DESIGN.md "Tests"): for every REST route
 * and every whitelisted Socket.IO `call`, generated bodies, params and
 * headers that break the contract get a 4xx in the contract's error shape,
 * and nothing stored changes.
 *
 * The routes come from lib/contracts/routes.ts and the fields from each action's
 * `params` as the running broker registered them (test/helpers/bad-input.ts),
 * so a route or a field added later is covered without a change here.
 * Seeded: the seed is printed first; `TEST_SEED=<seed> npx jest
 * test/http/bad-input.spec.ts` replays a run.
 */
import os from "os";
import zlib from "zlib";
import fc from "fast-check";
import jwt from "jsonwebtoken";
import type { ServiceBroker } from "moleculer";
import type { Socket } from "socket.io-client";
import Stripe from "stripe";
import { EXPOSED_ACTIONS, ROUTES, SOCKET_ACTIONS, type Route } from "../../lib/contracts/routes";
import { waitFor } from "../helpers/broker";
import { WebhookReceiver } from "../helpers/webhook-receiver";
import { eventId } from "../../services/notifications/events";
import { startGuardedShop } from "../helpers/guarded-shop";
import { connectSocket } from "../helpers/socket";
import { RawHttp, type RawResult } from "../helpers/raw-http";
import { describeChange, restore, sameSnapshot, snapshot, storesOf, waitQuiet, type Snapshot, type Store } from "../helpers/store-snapshot";
import {
	CONTRACT,
	EXTRA_FIELDS,
	FAMILIES,
	deepValue,
	errorShapeProblems,
	extrasArb,
	prototypeValue,
	fieldsOf,
	jsonViolation,
	materialize,
	normalizeRule,
	queryViolation,
	setAt,
	socketDeepValue,
	toJsonText,
	validObject,
	validValue,
	type Desc,
	type Family,
	type FieldSpec,
	type ValidEnv,
} from "../helpers/bad-input";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const qs: { stringify(o: unknown): string } = require("qs");

const SEED = Number(process.env.TEST_SEED) || Math.floor(Math.random() * 2 ** 31);
console.log(`bad-input seed ${SEED} (replay: TEST_SEED=${SEED} npx jest test/http/bad-input.spec.ts)`);

/** Generated cases per property; the sum is asserted (at least 2,000) at the end. */
const RUNS = {
	rest: { null: 10, type: 12, operator: 8, range: 14, deep: 8, prototype: 8 } as Record<Family, number>,
	path: 10,
	structure: 10,
	headers: 14,
	semantic: 3,
	deepKnown: 4,
	socket: { null: 8, type: 10, operator: 6, range: 10, deep: 4, prototype: 6 } as Record<Family, number>,
	socketShape: 8,
};
const MAX_SHRINKS = 20;
const PROPERTY_TIMEOUT_MS = 120_000;

const stats = { properties: 0, planned: 0, generated: 0, executed: 0, failedProperties: [] as string[] };

const ADMIN = { email: "admin@bad-input.test", password: "admin-password" };
/** Exactly 72 bytes of UTF-8 (36 characters): the longest password the contract allows. */
const PASSWORD_72 = "ä".repeat(36);

interface Shape {
	action: string;
	access: Route["access"];
	params: Record<string, unknown> | undefined;
	pathParams: string[];
	fields: FieldSpec[];
}

let shop: Awaited<ReturnType<typeof startGuardedShop>>;
/** Crashes recorded before the current case started. */
let crashMark = 0;
let broker: ServiceBroker;
let http: RawHttp;
let stores: Store[];
let baseline: Snapshot;
let forbiddenTexts: string[];
const shapes = new Map<string, Shape>();
const sockets: Record<"admin" | "customer", Socket | undefined> = { admin: undefined, customer: undefined };
const receiver = new WebhookReceiver();
const fx = {} as {
	adminToken: string;
	adminId: string;
	alice: { id: string; token: string; email: string };
	bob: { id: string; token: string };
	p1: string;
	p2: string;
	deleted: string;
	low: string;
	orderA: string;
	/** Orders where the payment and fulfilment routes act: paid; shipped; paid, shipped and delivered. */
	paid: string;
	shipped: string;
	delivered: string;
	orderB: string;
	cancelled: string;
	alert: string;
	cartToken: string;
	hook: string;
	resetToken: string;
	tokens: Record<string, string>;
};
let counter = 0;

// ---------------------------------------------------------------------------
// Set-up: the whole system in-process, real HTTP and Socket.IO, a few real targets

async function json(method: string, path: string, body?: unknown, token?: string, headers: Record<string, string> = {}): Promise<RawResult> {
	const h: Record<string, string> = { ...headers };
	if (token) h.authorization = `Bearer ${token}`;
	if (body !== undefined) h["content-type"] = "application/json";
	return http.request(method, path, { headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
}

async function ok(res: Promise<RawResult>, what: string): Promise<any> {
	const r = await res;
	if (r.status >= 300) throw new Error(`set-up: ${what} answered ${r.status} ${r.text.slice(0, 300)}`);
	return r.body;
}

beforeAll(async () => {
	shop = await startGuardedShop(["api", "customers", "products", "orders", "alerts", "analytics", "payments", "carts", "notifications"], {
		admin: { email: ADMIN.email, password: ADMIN.password },
		// Stripe's webhook verifies signatures with this secret; nothing here calls Stripe's API (the URL leads nowhere).
		payments: { currency: "EUR", stripe: { secretKey: "sk_test_bad_input", webhookSecret: WEBHOOK_SECRET, apiUrl: "http://127.0.0.1:9" } },
		gateway: { rateLimit: { max: 100_000_000 } },
		notifications: { allow: ["127.0.0.1"] },
		// Stock markers go a pending timeout (takes) or ten (give-backs) after their outcome: soon here, so the baseline below can wait for them.
		settlement: { pendingTimeoutMs: 1000, recoveryIntervalMs: 250 },
	});
	broker = shop.broker;
	http = new RawHttp(`${shop.url}/api`);
	forbiddenTexts = [broker.nodeID, os.hostname().toLowerCase(), os.hostname()].filter(t => t.length >= 4);

	const admin = await ok(json("POST", "/auth/login", ADMIN), "admin login");
	fx.adminToken = admin.token;
	fx.adminId = admin.customer.id;
	const alice = await ok(json("POST", "/auth/register", { name: "Alice", email: "alice@bad-input.test", password: PASSWORD_72 }), "register Alice");
	fx.alice = { id: alice.customer.id, token: alice.token, email: "alice@bad-input.test" };
	const bob = await ok(json("POST", "/auth/register", { name: "Bob", email: "bob@bad-input.test", password: "password-1" }), "register Bob");
	fx.bob = { id: bob.customer.id, token: bob.token };
	const product = (sku: string, stock: number, lowStockThreshold = 5) =>
		ok(json("POST", "/products", { sku, name: `Product ${sku}`, category: "bad-input", priceCents: 1500, stock, lowStockThreshold }, fx.adminToken), `create ${sku}`);
	fx.p1 = (await product("BI-P1", 1000)).id;
	fx.p2 = (await product("BI-P2", 1000)).id;
	fx.deleted = (await product("BI-P3", 10)).id;
	await ok(json("DELETE", `/products/${fx.deleted}`, undefined, fx.adminToken), "delete BI-P3");
	fx.low = (await product("BI-P4", 7)).id;
	fx.orderA = (await ok(json("POST", "/orders", { items: [{ productId: fx.p1, quantity: 1 }] }, fx.alice.token, { "idempotency-key": "bi-key-1" }), "Alice's order")).id;
	fx.orderB = (await ok(json("POST", "/orders", { items: [{ productId: fx.p2, quantity: 1 }] }, fx.bob.token), "Bob's order")).id;
	fx.cancelled = (await ok(json("POST", "/orders", { items: [{ productId: fx.p2, quantity: 1 }] }, fx.alice.token), "Alice's second order")).id;
	await ok(json("POST", `/orders/${fx.cancelled}/cancel`, {}, fx.alice.token), "cancel it");
	// BI-P4 falls to 4, under its threshold of 5: a stock_low alert.
	await ok(json("POST", "/orders", { items: [{ productId: fx.low, quantity: 3 }] }, fx.alice.token), "Alice's order of BI-P4");
	const orderOf = async (what: string) => (await ok(json("POST", "/orders", { items: [{ productId: fx.p1, quantity: 5 }] }, fx.alice.token), what)).id as string;
	const adminPost = (path: string, body: object, what: string) => ok(json("POST", path, body, fx.adminToken), what);
	fx.paid = await orderOf("an order to pay");
	await adminPost(`/orders/${fx.paid}/mark-paid`, {}, "mark it paid");
	fx.shipped = await orderOf("an order to ship");
	await adminPost(`/orders/${fx.shipped}/ship`, { carrier: "DHL", trackingNumber: "BI-1" }, "ship it");
	fx.delivered = await orderOf("an order to deliver");
	await adminPost(`/orders/${fx.delivered}/mark-paid`, {}, "mark it paid");
	await adminPost(`/orders/${fx.delivered}/ship`, { carrier: "DHL", trackingNumber: "BI-2" }, "ship it");
	await adminPost(`/orders/${fx.delivered}/deliver`, {}, "deliver it");
	// Carts: a guest's (its token sent with every anonymous cart request) and Alice's, each holding one BI-P1.
	fx.cartToken = (await ok(json("POST", "/cart"), "a guest cart")).token;
	await ok(json("POST", "/cart/items", { productId: fx.p1, quantity: 1 }, undefined, { "x-cart-token": fx.cartToken }), "the guest's line");
	await ok(json("POST", "/cart/items", { productId: fx.p1, quantity: 1 }, fx.alice.token), "Alice's line");
	fx.alert = await waitFor(async () => (await json("GET", "/alerts?type=stock_low", undefined, fx.adminToken)).body?.rows?.[0]?.id, 10_000, "the stock_low alert");
	// A webhook endpoint at a receiver in this process (127.0.0.1 allowed), and a reset token of Alice's (restored with the stores after each use).
	await receiver.start();
	fx.hook = (await ok(json("POST", "/webhooks", { url: receiver.url, eventTypes: ["order.placed"] }, fx.adminToken), "an endpoint")).endpoint.id;
	fx.resetToken = await (broker.getLocalService("notifications") as unknown as { resets: { issue(id: string): Promise<string> } }).resets.issue(fx.alice.id);

	const secret = process.env.JWT_SECRET!;
	const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
	const [h, p, s] = fx.adminToken.split(".");
	fx.tokens = {
		expired: jwt.sign({ email: ADMIN.email, role: "admin", exp: Math.floor(Date.now() / 1000) - 60 }, secret, { subject: fx.adminId }),
		otherSecret: jwt.sign({ email: ADMIN.email, role: "admin" }, "not-the-secret", { subject: fx.adminId }),
		algNone: `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: fx.adminId, email: ADMIN.email, role: "admin" })}.`,
		badRole: jwt.sign({ email: ADMIN.email, role: "superuser" }, secret, { subject: fx.adminId }),
		noSubject: jwt.sign({ email: ADMIN.email, role: "admin" }, secret),
		tamperedPayload: `${h}.${b64({ ...JSON.parse(Buffer.from(p, "base64url").toString()), role: "admin", sub: fx.alice.id })}.${s}`,
		tamperedSignature: `${h}.${p}.${s.slice(0, -3)}${s.endsWith("AAA") ? "BBB" : "AAA"}`,
		hs512: jwt.sign({ email: ADMIN.email, role: "admin" }, secret, { subject: fx.adminId, algorithm: "HS512" }),
	};

	// Every action a route names, with the params the broker validates against.
	const registered = new Map((broker.registry as any).getActionList({ onlyLocal: true }).map((a: any) => [a.name, a.action]));
	for (const route of ROUTES) {
		const action = registered.get(route.action) as any;
		if (!action) throw new Error(`${route.method} ${route.path}: action ${route.action} is not registered`);
		const pathParams = [...route.path.matchAll(/:(\w+)/g)].map(m => m[1]);
		const takesInput = pathParams.length > 0 || route.method === "POST" || route.method === "PATCH";
		if (takesInput && !action.params) throw new Error(`${route.method} ${route.path}: ${route.action} takes input but has no params schema to derive bad input from`);
		for (const p of pathParams) if (!action.params?.[p]) throw new Error(`${route.method} ${route.path}: path parameter ${p} is not in ${route.action}'s params`);
		shapes.set(route.action, { action: route.action, access: route.access, params: action.params, pathParams, fields: fieldsOf(route.action, action.params, pathParams) });
	}
	for (const action of EXPOSED_ACTIONS) if (!shapes.has(action)) throw new Error(`${action} is whitelisted but has no route`);

	sockets.admin = await connectSocket(shop.url, fx.adminToken);
	sockets.customer = await connectSocket(shop.url, fx.alice.token);

	stores = storesOf(broker);
	if (stores.length < 6) throw new Error(`expected a store per service and products' reservations, found ${stores.map(s => s.name).join(", ")}`);
	// A baseline holding the set-up's stock markers would see them go mid-run, as a change no request made.
	const markersLeft = async () => Object.values(await snapshot(stores)).some(docs => docs.some(doc => doc?.holds && Object.keys(doc.holds).length > 0));
	await waitFor(async () => !(await markersLeft()), 60_000, "the set-up's stock markers cleared");
	baseline = await waitQuiet(stores, 1500, 60_000);
}, 60_000);

afterAll(async () => {
	for (const s of Object.values(sockets)) s?.close();
	http?.close();
	await shop?.stop();
	await receiver.stop();
	console.log(
		`bad-input: ${stats.generated} generated cases (${stats.executed} requests and calls with shrinking) in ${stats.properties} properties; seed ${SEED}` +
			(stats.failedProperties.length ? `; ${stats.failedProperties.length} failing: ${stats.failedProperties.join(" | ")}` : ""),
	);
});

// ---------------------------------------------------------------------------
// Running a property, and what every answer must be

function hash(s: string): number {
	let h = 2166136261;
	for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
	return h >>> 0;
}

async function property<T>(title: string, arb: fc.Arbitrary<T>, numRuns: number, predicate: (c: T) => Promise<void>): Promise<void> {
	stats.properties++;
	stats.planned += numRuns;
	const out = await fc.check(
		fc.asyncProperty(fc.limitShrink(arb, MAX_SHRINKS), async c => {
			stats.executed++;
			crashMark = shop.crashes.length;
			await predicate(c);
		}),
		{ seed: (SEED ^ hash(title)) | 0, numRuns, includeErrorInReport: true },
	);
	stats.generated += out.numRuns;
	if (out.failed) {
		stats.failedProperties.push(title);
		throw new Error(`${title}\n${fc.defaultReportMessage(out)}\n(whole run: TEST_SEED=${SEED})`);
	}
}

type Caller = "proper" | "anonymous" | "customer";

function tokenFor(access: Route["access"], caller: Caller): string | undefined {
	if (caller === "anonymous") return undefined;
	if (caller === "customer") return fx.alice.token;
	return access === "admin" ? fx.adminToken : access === "customer" ? fx.alice.token : undefined;
}

function callerArb(access: Route["access"]): fc.Arbitrary<Caller> {
	if (access === "public") return fc.constant("proper");
	const lower: Caller[] = access === "admin" ? ["anonymous", "customer"] : ["anonymous"];
	return fc.oneof({ weight: 5, arbitrary: fc.constant<Caller>("proper") }, { weight: 1, arbitrary: fc.constantFrom(...lower) });
}

/** The status a caller gets before the input is even looked at, if any. */
function accessStatus(caller: Caller): number[] | undefined {
	return caller === "anonymous" ? [401] : caller === "customer" ? [403] : undefined;
}

function short(v: unknown): string {
	const s = JSON.stringify(v, (_k, x) => (typeof x === "string" && x.length > 40 ? `${x.slice(0, 40)}…(${x.length})` : x));
	return s === undefined ? "undefined" : s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** Problems with a REST answer: a 4xx among `expected`, the error shape, nothing internal. */
function restProblems(res: RawResult, expected: number[], violated?: string, expectType?: string): string[] {
	const problems: string[] = [];
	if (res.status < 400 || res.status > 499) problems.push(`status ${res.status}, not a 4xx (expected ${expected.join(" or ")})`);
	else if (!expected.includes(res.status)) problems.push(`status ${res.status}, expected ${expected.join(" or ")}`);
	if (res.status === 429) problems.push("rate limited: raise RATE_LIMIT_MAX for this suite");
	if (res.status < 400) return problems; // a success: no error shape to check
	if (res.body === undefined) problems.push(`a body that is not JSON: ${JSON.stringify(res.text.slice(0, 200))}`);
	else problems.push(...errorShapeProblems(res.body, res.status, forbiddenTexts, violated));
	if (expectType && res.body?.type !== expectType) problems.push(`type ${res.body?.type}, expected ${expectType}`);
	if (/"stack"|passwordHash|\$2[aby]\$\d\d\$/.test(res.text)) problems.push("a stack or a password hash in the body");
	return problems;
}

/** Nothing stored changed; if something did, say what, and put it back so the next case starts from the same state. */
async function stateProblems(): Promise<string[]> {
	if (sameSnapshot(await snapshot(stores), baseline)) return [];
	const settled = await waitQuiet(stores, 300);
	const change = describeChange(baseline, settled);
	for (let i = 0; i < 3; i++) {
		await restore(stores, baseline);
		await broker.cacher?.clean();
		// What the change set off has run out (above); a restore sets nothing off.
		if (sameSnapshot(i === 0 ? await snapshot(stores) : await waitQuiet(stores, 300), baseline)) break;
	}
	return [`stored state changed:\n${change}`];
}

async function check(what: string, answerProblems: string[]): Promise<void> {
	const crashed = shop.crashes.slice(crashMark).map(c => `the gateway let an error escape (a real process exits on it): ${c.error} at ${c.where}`);
	const problems = [...crashed, ...answerProblems, ...(await stateProblems())];
	if (problems.length) throw new Error(`${what}\n  - ${problems.join("\n  - ")}`);
}

// ---------------------------------------------------------------------------
// Building requests

const targetIds = (): Record<string, string> => ({ products: fx.p1, orders: fx.orderA, customers: fx.bob.id, alerts: fx.alert, payments: fx.orderA, carts: fx.p1, notifications: fx.hook });

/** Where an action needs its target in a state of its own for a valid request. */
const ACTION_TARGETS: Record<string, () => string> = {
	"orders.deliver": () => fx.shipped,
	"orders.recordReturn": () => fx.delivered,
	"payments.refund": () => fx.paid,
};
const targetOf = (action: string) => ACTION_TARGETS[action]?.() ?? targetIds()[action.split(".")[0]];

const WEBHOOK_SECRET = "whsec_bad_input_0123456789";
const isRawBody = (action: string) => ROUTES.some(r => r.action === action && r.rawBody);
/** A raw-body route's valid request is signed (an event the shop ignores); nothing else can be. */
const signed = (route: Route, body: string | undefined): Record<string, string> | undefined =>
	route.rawBody && body !== undefined ? { "stripe-signature": Stripe.webhooks.generateTestHeaderString({ payload: body, secret: WEBHOOK_SECRET }) } : undefined;

const ACTION_OVERRIDES: Record<string, () => Record<string, () => unknown>> = {
	"customers.login": () => ({ email: () => fx.alice.email, password: () => PASSWORD_72 }),
	"customers.register": () => ({ name: () => "Bad Input", password: () => "password-1" }),
	"products.create": () => ({ name: () => "Lamp", category: () => "bad-input", priceCents: () => 100, stock: () => 10, url: () => "/images/lamp.jpg" }),
	"products.update": () => ({ url: () => "https://cdn.example.com/lamp.jpg" }),
	"customers.createAdmin": () => ({ name: () => "Bad Input Admin", password: () => "password-1" }),
	"orders.setStatus": () => ({ status: () => "shipped" }),
	"customers.setAccess": () => ({ blocked: () => true }),
	// Alice's cart (one BI-P1 at 1500) shipped to the US (no tax) by standard shipping (499).
	"orders.quote": () => ({ country: () => "US", shippingMethod: () => "standard" }),
	"orders.checkout": () => ({ country: () => "US", shippingMethod: () => "standard", currency: () => "USD", expectedTotalCents: () => 1999 }),
	"notifications.createEndpoint": () => ({ url: () => receiver.url }),
	"notifications.updateEndpoint": () => ({ url: () => receiver.url }),
	"notifications.redeliver": () => ({ eventId: () => eventId(`order.placed:${fx.orderA}:1`) }),
	"notifications.resetPassword": () => ({ token: () => fx.resetToken, password: () => "password-after-reset" }),
	"notifications.previewTemplate": () => ({ name: () => "order.placed" }),
};

function envFor(action: string): ValidEnv {
	return {
		overrides: {
			productId: () => fx.p1,
			email: () => `bi-${++counter}@bad-input.test`,
			sku: () => `BI-GEN-${++counter}`,
			id: () => targetOf(action) ?? "no-target",
			...(ACTION_OVERRIDES[action]?.() ?? {}),
		},
	};
}

/** A valid request for the action, path parameters left out (REST) or in (Socket.IO). */
function filler(shape: Shape, withPath: boolean): Record<string, unknown> {
	return validObject(shape.params ?? {}, envFor(shape.action), shape.action, withPath ? [] : shape.pathParams);
}

/** A valid request that asks for something (an all-optional body gets its first optional field), for header cases. */
function meaningfulFiller(shape: Shape): Record<string, unknown> {
	const body = filler(shape, false);
	if (Object.keys(body).length === 0) {
		const first = shape.fields.find(f => !f.inPath && f.path.length === 1 && f.rule.type !== "object");
		if (first) body[first.name] = first.name === "password" ? "new-password-1" : validValue(first.rule, first.name, envFor(shape.action));
	}
	return body;
}

function materializeEnv(shape: Shape, forSocket = false) {
	const env = envFor(shape.action);
	return {
		forSocket,
		valid: (label: string) => {
			const f = shape.fields.find(x => x.label === label)!;
			return validValue(normalizeRule(f.rule.items, label), f.name, env);
		},
	};
}

/** The broken params: valid everywhere but at one field, plus some unknown fields. */
function brokenParams(shape: Shape, fieldLabel: string, value: Desc, extras: string[], forSocket: boolean): Record<string, unknown> {
	const env = envFor(shape.action);
	const params = filler(shape, forSocket);
	const field = shape.fields.find(f => f.label === fieldLabel);
	const absent = value !== null && typeof value === "object" && "$$absent" in value;
	const v = absent ? undefined : materialize(value, materializeEnv(shape, forSocket));
	if (field) setAt(params, field, v, env, absent);
	// An unknown field (deep nesting outside the schema, a prototype key): an own key, whatever its name.
	else Object.defineProperty(params, fieldLabel, { value: v, enumerable: true, configurable: true, writable: true });
	for (const name of extras) {
		// An extra is unknown to the action: a field the action knows (made absent by this case, say) is not one.
		if (Object.prototype.hasOwnProperty.call(params, name) || shape.fields.some(f => f.path[0] === name)) continue;
		Object.defineProperty(params, name, { value: materialize(EXTRA_FIELDS[name], materializeEnv(shape, forSocket)), enumerable: true, configurable: true, writable: true });
	}
	return params;
}

function pathOf(route: Route, id?: string): string {
	return route.path.replace(/:(\w+)/g, (_, param: string) => id ?? (param === "name" ? "order.placed" : targetOf(route.action)));
}

function send(route: Route, opts: { token?: string; body?: string | Buffer; query?: string; id?: string; method?: string; headers?: Record<string, string> }): Promise<RawResult> {
	const headers: Record<string, string> = {};
	if (opts.body !== undefined) headers["content-type"] = "application/json";
	if (opts.token) headers.authorization = `Bearer ${opts.token}`;
	// A cart route's guest, and a customer merging at sign-in, carry the guest cart's token.
	if (route.action.startsWith("carts.")) headers["x-cart-token"] = fx.cartToken;
	Object.assign(headers, opts.headers);
	for (const [k, v] of Object.entries(headers)) if (v === undefined) delete headers[k];
	return http
		.request(opts.method ?? route.method, pathOf(route, opts.id) + (opts.query ? `?${opts.query}` : ""), { headers, body: opts.body })
		.catch((err: Error) => ({ status: 0, text: `no answer: ${err.message}`, body: undefined, headers: {} }));
}

const label = (route: Route) => `${route.method} /api${route.path}`;

// ---------------------------------------------------------------------------
// REST: broken fields, one family at a time

const FAMILY_TITLES: Record<Family, string> = {
	null: "null where the contract does not allow it -> 422",
	type: "wrong JSON types (strings for numbers: bodies are typed), missing required fields -> 422",
	operator: "operator-shaped values -> 422",
	range: "out of range, too long, malformed, not in the enum, passwords over 72 bytes -> 422",
	deep: "nesting deeper than 32 levels -> 422",
	prototype: "a key that would reach a prototype (__proto__, constructor.prototype), at any depth -> 422",
};

interface FieldCase {
	field: string;
	channel: "body" | "query";
	value: Desc;
}

function fieldCaseArb(route: Route | undefined, shape: Shape, family: Family, socket: boolean): fc.Arbitrary<FieldCase> | null {
	const options: fc.Arbitrary<FieldCase>[] = [];
	for (const f of shape.fields) {
		if (!socket && f.inPath) continue;
		if (!socket && route?.method === "GET") {
			const q = queryViolation(f, family);
			if (q) options.push(q.map(value => ({ field: f.label, channel: "query" as const, value })));
		}
		const j = jsonViolation(f, family, { socket });
		if (j) options.push(j.map(value => ({ field: f.label, channel: "body" as const, value })));
	}
	// Depth is broken anywhere in a body, known field or not.
	if (family === "deep") options.push((socket ? socketDeepValue : deepValue).map(value => ({ field: "nested", channel: "body" as const, value })));
	// A prototype key at the top, hiding a known field's value: in the body, and in a GET's query string.
	if (family === "prototype") {
		// No value nested 20,000 deep in a URL: qs stops at 5 levels anyway.
		const top = (channel: "body" | "query") =>
			prototypeValue({ socket: socket || channel === "query" }).map(v => {
				const [field, value] = Object.entries(v as Record<string, Desc>)[0];
				return { field: field === "$$ownProto" ? "__proto__" : field, channel, value };
			});
		options.push(top("body"));
		if (!socket && route?.method === "GET") options.push(top("query"));
	}
	return options.length ? fc.oneof(...options) : null;
}

function expectedForField(route: { action: string }, caller: Caller, family: Family, field: string): number[] {
	const byAccess = accessStatus(caller);
	if (byAccess) return byAccess;
	// A signed route reads no field before its signature, which a changed body breaks.
	if (isRawBody(route.action)) return [400];
	// The contract lets login answer 401 for a password over 72 bytes (it must not log in).
	if (route.action === "customers.login" && family === "range" && field === "password") return [401, 422];
	return [422];
}

// ---------------------------------------------------------------------------
// Control: the valid request every case starts from is accepted, so a refusal is the broken part's doing

describe("control: the valid request each case breaks one part of", () => {
	for (const route of ROUTES) {
		it(`is accepted over REST: ${label(route)}`, async () => {
			const shape = shapes.get(route.action)!;
			const body = route.method === "GET" ? undefined : toJsonText(filler(shape, false));
			const res = await send(route, { token: tokenFor(route.access, "proper"), body, headers: signed(route, body) });
			await stateProblems(); // a valid request may change things: put them back
			if (res.status < 200 || res.status > 299) throw new Error(`the valid ${label(route)} answered ${res.status} ${res.text.slice(0, 300)}: fix its filler in this suite`);
		});
	}
	for (const action of SOCKET_ACTIONS) {
		it(`is accepted over Socket.IO: ${action}`, async () => {
			const shape = shapes.get(action)!;
			const answer = await socketCall(await socketFor(socketRole(shape.access, "proper")), action, filler(shape, true));
			await stateProblems();
			if (answer.err) throw new Error(`the valid call ${action} answered ${short(answer.err)}: fix its filler in this suite`);
		});
	}
});

for (const route of ROUTES) {
	describe(`REST ${label(route)} (${route.action})`, () => {
		for (const family of FAMILIES) {
			it(
				FAMILY_TITLES[family],
				async () => {
					const shape = shapes.get(route.action)!;
					const cases = fieldCaseArb(route, shape, family, false);
					if (!cases) return; // no field of this route can break this way (no body or query fields, or only booleans for "range")
					await property(`${label(route)} ${family}`, fc.record({ c: cases, caller: callerArb(route.access), extras: extrasArb }), RUNS.rest[family], async ({ c, caller, extras }) => {
						const params = brokenParams(shape, c.field, c.value, extras, false);
						const token = tokenFor(route.access, caller);
						const res = c.channel === "query" ? await send(route, { token, query: qs.stringify(params) }) : await send(route, { token, body: toJsonText(params) });
						// The body and query parsers refuse a prototype key before anything reads the request, the token included.
						const expected = family === "prototype" && !route.rawBody ? [422] : expectedForField(route, caller, family, c.field);
						await check(
							`${label(route)} as ${caller}, ${c.channel} ${c.field}=${short(c.value)}${extras.length ? ` +${extras.join(",")}` : ""} -> ${res.status} ${res.text.slice(0, 400)}`,
							restProblems(res, expected, family === "deep" || family === "prototype" || caller !== "proper" ? undefined : c.field),
						);
					});
				},
				PROPERTY_TIMEOUT_MS,
			);
		}

		// -----------------------------------------------------------------
		it(
			"values nested thousands of levels deep in a known field -> 422, answered (a validation error echoes the value)",
			async () => {
				const shape = shapes.get(route.action)!;
				const fields = shape.fields.filter(f => !f.inPath && f.path.length === 1).map(f => f.label);
				if (!fields.length) return;
				const cases = fc.record({ field: fc.constantFrom(...fields), depth: fc.integer({ min: 2000, max: 12_000 }), of: fc.constantFrom("object" as const, "array" as const) });
				await property(`${label(route)} deep known field`, cases, RUNS.deepKnown, async ({ field, depth, of }) => {
					const params = brokenParams(shape, field, { $$deep: depth, of }, [], false);
					const res = await send(route, { token: tokenFor(route.access, "proper"), body: toJsonText(params) });
					await check(`${label(route)} body ${field} = ${of}s nested ${depth} deep -> ${res.status} ${res.text.slice(0, 200)}`, restProblems(res, [422]));
				});
			},
			PROPERTY_TIMEOUT_MS,
		);

		// -----------------------------------------------------------------
		it(
			"path parameters: too long 422, undecodable 400, unknown 404",
			async () => {
				const shape = shapes.get(route.action)!;
				if (shape.pathParams.length === 0) return;
				const idMax = shape.fields.find(f => f.inPath)!.rule.max ?? 64;
				const idCase = fc.oneof(
					fc.integer({ min: idMax + 1, max: idMax + 1000 }).map(n => ({ kind: "tooLong", id: { $$repeat: "a", n }, expected: [422] })),
					fc.constantFrom("%FF", "%E0%A4%A", "%", "%%", "%C0%AF", "%ZZ", "%ED%A0%80").map(id => ({ kind: "undecodable", id, expected: [400] })),
					fc
						.constantFrom(
							"..",
							"%2e%2e",
							"%00",
							"__proto__",
							"constructor",
							"prototype",
							"toString",
							"$gt",
							encodeURIComponent('{"$gt":""}'),
							"null",
							"undefined",
							"%20",
							"a%2Fb",
							"%E2%80%AE",
							"%24where",
							encodeURIComponent("' OR 1=1 --"),
							"%0D%0A",
							"%EF%BC%A1",
						)
						.map(id => ({ kind: "odd", id, expected: [400, 404, 422] })),
					fc.stringMatching(/^[A-Za-z0-9]{1,64}$/).map(id => ({ kind: "unknown", id, expected: [404] })),
				);
				await property(`${label(route)} path`, idCase, RUNS.path, async c => {
					const id = String(materialize(c.id, materializeEnv(shape)));
					const body = route.method === "GET" || route.method === "DELETE" ? undefined : toJsonText(meaningfulFiller(shape));
					const res = await send(route, { token: tokenFor(route.access, "proper"), id, body });
					await check(`${label(route)} with :${shape.pathParams[0]} = ${short(c.id)} (${c.kind}) -> ${res.status} ${res.text.slice(0, 300)}`, restProblems(res, c.expected));
				});
			},
			PROPERTY_TIMEOUT_MS,
		);

		// -----------------------------------------------------------------
		it(
			"body structure: not an object, malformed, over 100 kB; a wrong method; a URL over 16 kB",
			async () => {
				const shape = shapes.get(route.action)!;
				// A method another route serves on a pattern this path matches (`/customers/:id` for `/customers/admins`) is not a wrong one.
				const samePath = (pattern: string) =>
					pattern.split("/").length === route.path.split("/").length && pattern.split("/").every((seg, i) => seg === route.path.split("/")[i] || seg.startsWith(":"));
				const methodsHere = new Set(ROUTES.filter(r => samePath(r.path)).map(r => r.method));
				const otherMethods = ["PUT", "PATCH", "POST", "DELETE", "GET"].filter(m => !methodsHere.has(m as Route["method"]));
				const structure = fc.oneof(
					fc.constantFrom("[]", "[{}]", "FILLER_IN_ARRAY", "[null]", '[["a"]]').map(raw => ({ kind: "array body", raw, expected: [400, 415, 422] })),
					fc.constantFrom("null", "5", '"x"', "true", "false", "0").map(raw => ({ kind: "scalar body", raw, expected: [400, 415, 422] })),
					fc
						.constantFrom('{"a":', "{'a':1}", '{"a":1,}', "{a:1}", '{"a":NaN}', '{"a":1}}', '{"a":"\\x"}', "[1,]", '{"a":undefined}', '{"a":01}', "\u0000", '{"a":"b"', '{"a" "b"}')
						.map(raw => ({ kind: "malformed", raw, expected: [400] })),
					fc
						.record({ size: fc.integer({ min: CONTRACT.maxBodyBytes + 1, max: 400_000 }), known: fc.boolean() })
						.map(({ size, known }) => ({ kind: "over 100 kB", raw: `SIZE:${size}:${known}`, expected: [413] })),
					fc.constantFrom(...otherMethods).map(method => ({ kind: "wrong method", raw: `METHOD:${method}`, expected: [404, 405] })),
					fc.integer({ min: 17 * 1024, max: 64 * 1024 }).map(n => ({ kind: "URL over 16 kB", raw: `URL:${n}`, expected: [414, 431] })),
				);
				await property(`${label(route)} structure`, structure, RUNS.structure, async c => {
					let body: string | undefined;
					let method: string | undefined;
					let query: string | undefined;
					if (c.raw.startsWith("URL:")) query = `padding=${"u".repeat(Number(c.raw.slice(4)))}`;
					else if (c.raw === "FILLER_IN_ARRAY") body = `[${toJsonText(meaningfulFiller(shape))}]`;
					else if (c.raw.startsWith("SIZE:")) {
						const [, size, known] = c.raw.split(":");
						const base = meaningfulFiller(shape);
						const stringField = shape.fields.find(f => !f.inPath && f.path.length === 1 && f.rule.type === "string");
						const key = known === "true" && stringField ? stringField.name : "padding";
						const frame = toJsonText({ ...base, [key]: "" });
						body = frame.replace(`"${key}":""`, `"${key}":"${"x".repeat(Math.max(0, Number(size) - frame.length))}"`);
					} else if (c.raw.startsWith("METHOD:")) {
						method = c.raw.slice(7);
						body = toJsonText(meaningfulFiller(shape));
					} else body = c.raw;
					const res = await send(route, { token: tokenFor(route.access, "proper"), body, method, query });
					await check(
						`${method ?? route.method} ${pathOf(route)} ${c.kind}: ${short(query ?? body)} -> ${res.status} ${JSON.stringify(res.text.slice(0, 300))}`,
						restProblems(res, c.expected),
					);
				});
			},
			PROPERTY_TIMEOUT_MS,
		);

		// -----------------------------------------------------------------
		it(
			"headers: Content-Type, Content-Encoding, Authorization, Idempotency-Key",
			async () => {
				const shape = shapes.get(route.action)!;
				const hasBodyFields = route.method !== "GET" && shape.fields.some(f => !f.inPath);
				const kinds: fc.Arbitrary<{ kind: string; variant: string; n?: number }>[] = [
					fc.constantFrom("br", "x-unknown", "compress", "gzip, br", "zstd", "GZIP2", "identity, br").map(variant => ({ kind: "unsupported encoding", variant })),
					fc.constantFrom("gzip", "deflate").map(variant => ({ kind: "encoding that does not decode", variant })),
					fc.constantFrom("gzip", "deflate").map(variant => ({ kind: "truncated encoding", variant })),
					fc
						.record({ variant: fc.constantFrom("gzip", "deflate"), n: fc.integer({ min: CONTRACT.maxBodyBytes + 1, max: 2_000_000 }) })
						.map(v => ({ kind: "over 100 kB once decoded", ...v })),
					fc
						.constantFrom(
							"Bearer",
							"Bearer ",
							"Bearer x",
							"Bearer x.y.z",
							"Basic YWRtaW46YWRtaW4=",
							"Token VALID",
							"VALID",
							"Bearer VALID extra",
							"Bearer VALIDx",
							"Bearer Bearer VALID",
							"Bearer expired",
							"Bearer TOKEN:expired",
							"Bearer TOKEN:algNone",
							"Bearer TOKEN:otherSecret",
							"Bearer TOKEN:tamperedPayload",
							"Bearer TOKEN:tamperedSignature",
							"Bearer TOKEN:badRole",
							"Bearer TOKEN:noSubject",
							"Bearer TOKEN:hs512",
						)
						.map(variant => ({ kind: "bad Authorization", variant })),
				];
				if (hasBodyFields) {
					kinds.push(
						fc
							.constantFrom(
								"text/plain",
								"application/xml",
								"multipart/form-data; boundary=x",
								"application/x-www-form-urlencoded",
								"application/jsonx",
								"application/json; charset=latin1",
								"application/json; charset=utf-16",
								"NONE",
								"",
								"text/json; charset=ebcdic",
							)
							.map(variant => ({ kind: "not JSON", variant })),
						fc.constantFrom("gzip", "deflate").map(variant => ({ kind: "encoded invalid body", variant })),
					);
				}
				if (route.action === "orders.create") {
					kinds.push(
						fc
							.oneof(fc.constant(0), fc.integer({ min: CONTRACT.idempotencyKey.max + 1, max: CONTRACT.idempotencyKey.max + 300 }))
							.map(n => ({ kind: "Idempotency-Key length", variant: n === 0 ? "empty" : "long", n })),
						fc.constantFrom(" ", "\t", "   ").map(variant => ({ kind: "Idempotency-Key blank", variant })),
					);
				}
				await property(`${label(route)} headers`, fc.oneof(...kinds), RUNS.headers, async c => {
					const valid = route.method === "GET" ? {} : meaningfulFiller(shape);
					const validText = toJsonText(valid);
					const token = tokenFor(route.access, "proper");
					const encode = (variant: string, text: string) => (variant === "gzip" ? zlib.gzipSync(text) : zlib.deflateSync(text));
					let body: string | Buffer | undefined = validText;
					let headers: Record<string, string> = {};
					let sendToken = token;
					let expected: number[] = [];
					switch (c.kind) {
						case "unsupported encoding":
							headers = { "content-encoding": c.variant };
							expected = [415];
							break;
						case "encoding that does not decode":
							headers = { "content-encoding": c.variant };
							expected = [400];
							break;
						case "truncated encoding": {
							const full = encode(c.variant, toJsonText({ ...valid, padding: "p".repeat(2000) }));
							body = full.subarray(0, Math.floor(full.length / 2));
							headers = { "content-encoding": c.variant };
							expected = [400];
							break;
						}
						case "over 100 kB once decoded":
							body = encode(c.variant, toJsonText({ ...valid, padding: "p".repeat(c.n!) }));
							headers = { "content-encoding": c.variant };
							expected = [413];
							break;
						case "encoded invalid body": {
							const f = shape.fields.find(x => !x.inPath && x.path.length === 1)!;
							body = encode(c.variant, toJsonText(brokenParams(shape, f.label, { $gt: "" }, [], false)));
							headers = { "content-encoding": c.variant };
							expected = [422];
							break;
						}
						case "not JSON":
							headers = c.variant === "NONE" ? { "content-type": undefined as unknown as string } : { "content-type": c.variant };
							if (c.variant === "application/x-www-form-urlencoded") body = qs.stringify(valid);
							expected = [400, 415, 422];
							break;
						case "bad Authorization": {
							const value = c.variant.replace(/TOKEN:(\w+)/, (_m, k) => fx.tokens[k]).replace("VALID", fx.adminToken);
							headers = { authorization: value };
							sendToken = undefined;
							expected = [401];
							break;
						}
						case "Idempotency-Key length":
							headers = { "idempotency-key": c.n === 0 ? "" : "k".repeat(c.n! - 1) + "é" };
							expected = [422];
							break;
						case "Idempotency-Key blank":
							headers = { "idempotency-key": c.variant };
							expected = [422];
							break;
					}
					// A GET carries a body only where the case is about the body's encoding.
					if (route.method === "GET" && (c.kind === "bad Authorization" || c.kind.startsWith("Idempotency"))) body = undefined;
					const res = await send(route, { token: sendToken, body, headers });
					await check(`${label(route)} ${c.kind} ${short(c.variant)}${c.n ? ` (${c.n})` : ""} -> ${res.status} ${res.text.slice(0, 300)}`, restProblems(res, expected));
				});
			},
			PROPERTY_TIMEOUT_MS,
		);
	});
}

// ---------------------------------------------------------------------------
// REST: well-formed requests the contract refuses; refused means nothing stored

describe("REST: well-formed requests that must be refused store nothing", () => {
	interface Scenario {
		name: string;
		run: (n: number) => Promise<RawResult>;
		expected: number[];
		type?: string;
	}
	const order = (items: unknown, headers: Record<string, string> = {}) => json("POST", "/orders", { items }, fx.alice.token, headers);
	const scenarios: Scenario[] = [
		{ name: "an order of an unknown product -> 422", run: n => order([{ productId: `unknown${n}`, quantity: 1 }]), expected: [422], type: "UNKNOWN_PRODUCT" },
		{ name: "an order of a deleted product -> 422", run: n => order([{ productId: fx.deleted, quantity: 1 + (n % 5) }]), expected: [422] },
		{
			name: "an order naming a product twice -> 422",
			run: n =>
				order([
					{ productId: fx.p1, quantity: 1 + (n % 3) },
					{ productId: fx.p1, quantity: 1 },
				]),
			expected: [422],
		},
		{ name: "an order over the stock -> 409", run: n => order([{ productId: fx.low, quantity: 5 + (n % 996) }]), expected: [409], type: "INSUFFICIENT_STOCK" },
		{
			name: "an order over the stock, with an Idempotency-Key -> 409",
			run: n => order([{ productId: fx.low, quantity: 5 + (n % 996) }], { "idempotency-key": `bi-short-${n}` }),
			expected: [409],
			type: "INSUFFICIENT_STOCK",
		},
		{
			name: "an order with one short item among good ones -> 409",
			run: n =>
				order([
					{ productId: fx.p1, quantity: 1 },
					{ productId: fx.low, quantity: 5 + (n % 996) },
				]),
			expected: [409],
			type: "INSUFFICIENT_STOCK",
		},
		{
			name: "a used Idempotency-Key with another quantity -> 422",
			run: n => order([{ productId: fx.p1, quantity: 2 + (n % 5) }], { "idempotency-key": "bi-key-1" }),
			expected: [422],
			type: "IDEMPOTENCY_KEY_REUSED",
		},
		{
			name: "a used Idempotency-Key with another product -> 422",
			run: n => order([{ productId: fx.p2, quantity: 1 + (n % 5) }], { "idempotency-key": "bi-key-1" }),
			expected: [422],
			type: "IDEMPOTENCY_KEY_REUSED",
		},
		{
			name: "a product with a taken sku -> 409",
			run: n => json("POST", "/products", { sku: "BI-P1", name: `Again ${n}`, category: "c", priceCents: 1, stock: 1 }, fx.adminToken),
			expected: [409],
		},
		{
			name: "a registration with a taken email in another case -> 409",
			run: n => json("POST", "/auth/register", { name: `Again ${n}`, email: "ALICE@bad-input.test", password: "password-1" }),
			expected: [409],
		},
		{ name: "another customer's order, read -> 404", run: () => json("GET", `/orders/${fx.orderB}`, undefined, fx.alice.token), expected: [404] },
		{
			name: "a refund above what the payment captured -> 409",
			run: n => json("POST", `/orders/${fx.paid}/refunds`, { amountCents: 7501 + n }, fx.adminToken),
			expected: [409],
			type: "REFUND_EXCEEDS_CAPTURED",
		},
		{
			name: "a return of more than was delivered -> 422",
			run: n => json("POST", `/orders/${fx.delivered}/returns`, { items: [{ productId: fx.p1, quantity: 6 + (n % 990), restock: true }] }, fx.adminToken),
			expected: [422],
		},
		{ name: "an order marked paid twice -> 409", run: () => json("POST", `/orders/${fx.paid}/mark-paid`, {}, fx.adminToken), expected: [409], type: "ALREADY_PAID" },
		{
			name: "a webhook whose signature is not over its body -> 400",
			run: n => {
				const body = JSON.stringify({ id: `evt_${n}`, type: "payment_intent.succeeded", data: { object: { id: "pi_x", amount_received: 1, metadata: { orderId: fx.orderA } } } });
				const signature = Stripe.webhooks.generateTestHeaderString({ payload: body.replace("1", "2"), secret: WEBHOOK_SECRET });
				return http.request("POST", "/payments/webhooks/stripe", { headers: { "content-type": "application/json", "stripe-signature": signature }, body });
			},
			expected: [400],
			type: "INVALID_SIGNATURE",
		},
		{ name: "another customer's order, cancelled -> 404", run: () => json("POST", `/orders/${fx.orderB}/cancel`, {}, fx.alice.token), expected: [404] },
		{ name: "a cancelled order, cancelled again -> 409", run: () => json("POST", `/orders/${fx.cancelled}/cancel`, {}, fx.alice.token), expected: [409] },
		{
			name: "a move the state machine forbids -> 409",
			run: n => json("PATCH", `/orders/${fx.orderA}/status`, { status: ["pending", "delivered", "confirmed"][n % 3] }, fx.adminToken),
			expected: [409],
		},
		{ name: "a cancelled order shipped -> 409", run: () => json("PATCH", `/orders/${fx.cancelled}/status`, { status: "shipped" }, fx.adminToken), expected: [409] },
		{ name: "a wrong password -> 401", run: n => json("POST", "/auth/login", { email: fx.alice.email, password: `wrong-password-${n}` }), expected: [401] },
		{ name: "an unknown email -> 401", run: n => json("POST", "/auth/login", { email: `nobody${n}@bad-input.test`, password: PASSWORD_72 }), expected: [401] },
		{ name: "a deleted product changed -> 404", run: n => json("PATCH", `/products/${fx.deleted}`, { priceCents: n }, fx.adminToken), expected: [404] },
		{ name: "a deleted product restocked -> 404", run: n => json("POST", `/products/${fx.deleted}/restock`, { quantity: 1 + n }, fx.adminToken), expected: [404] },
		{ name: "a deleted product deleted -> 404", run: () => json("DELETE", `/products/${fx.deleted}`, undefined, fx.adminToken), expected: [404] },
		{ name: "an unknown alert acknowledged -> 404", run: n => json("POST", `/alerts/unknown${n}/ack`, {}, fx.adminToken), expected: [404] },
		{ name: "an unknown customer blocked -> 404", run: n => json("PATCH", `/customers/unknown${n}`, { blocked: true }, fx.adminToken), expected: [404] },
	];
	for (const sc of scenarios) {
		it(
			sc.name,
			() =>
				property(`REST refused: ${sc.name}`, fc.integer({ min: 0, max: 100_000 }), RUNS.semantic, async n => {
					const res = await sc.run(n);
					await check(`${sc.name} (n=${n}) -> ${res.status} ${res.text.slice(0, 300)}`, restProblems(res, sc.expected, undefined, sc.type));
				}),
			PROPERTY_TIMEOUT_MS,
		);
	}
});

// ---------------------------------------------------------------------------
// Socket.IO `call`: the same validation, permissions and error shape

const MISSING = Symbol("no params");

function forgetSocket(socket: Socket): void {
	socket.close();
	for (const role of ["admin", "customer"] as const) if (sockets[role] === socket) delete sockets[role];
}

async function socketFor(role: "admin" | "customer"): Promise<Socket> {
	const s = sockets[role];
	if (s?.connected) return s;
	s?.close();
	sockets[role] = await connectSocket(shop.url, role === "admin" ? fx.adminToken : fx.alice.token);
	return sockets[role];
}

/** Actions whose success ends the caller's session: the server closes its sockets, so the suite opens new ones (the restored store makes the token current again). */
const ENDS_SESSION = new Set(["customers.logoutAll"]);

function socketCall(socket: Socket, action: string, params: unknown): Promise<{ err: any; res: any }> {
	return new Promise(resolve => {
		const timer = setTimeout(() => resolve({ err: { timeout: `no answer to ${action} in 5 s` }, res: undefined }), 5_000);
		const done = (err: unknown, res: unknown) => {
			clearTimeout(timer);
			if (!err && ENDS_SESSION.has(action)) forgetSocket(socket);
			resolve({ err, res });
		};
		if (params === MISSING) socket.emit("call", action, done);
		else socket.emit("call", action, params, done);
	});
}

function socketProblems(answer: { err: any; res: any }, expected: number[], violated?: string): string[] {
	const { err } = answer;
	if (!err) return [`answered with success (expected an error of code ${expected.join(" or ")})`];
	const code = err?.code;
	const problems: string[] = [];
	if (typeof code !== "number" || code < 400 || code > 499) problems.push(`error code ${JSON.stringify(code)}, not a 4xx`);
	else if (!expected.includes(code)) problems.push(`error code ${code}, expected ${expected.join(" or ")}`);
	problems.push(...errorShapeProblems(err, typeof code === "number" ? code : -1, forbiddenTexts, violated).filter(p => !(typeof code !== "number" && p.startsWith("`code`"))));
	return problems;
}

function socketRole(access: Route["access"], caller: Caller): "admin" | "customer" {
	return access === "admin" && caller === "proper" ? "admin" : "customer";
}

for (const action of SOCKET_ACTIONS) {
	describe(`Socket.IO call ${action}`, () => {
		for (const family of FAMILIES) {
			it(
				FAMILY_TITLES[family],
				async () => {
					const shape = shapes.get(action)!;
					const cases = fieldCaseArb(undefined, shape, family, true);
					if (!cases) return; // no param of this action can break this way
					const callers: fc.Arbitrary<Caller> =
						shape.access === "admin" ? fc.oneof({ weight: 5, arbitrary: fc.constant<Caller>("proper") }, { weight: 1, arbitrary: fc.constant<Caller>("customer") }) : fc.constant("proper");
					await property(`socket ${action} ${family}`, fc.record({ c: cases, caller: callers, extras: extrasArb }), RUNS.socket[family], async ({ c, caller, extras }) => {
						const params = brokenParams(shape, c.field, c.value, extras, true);
						const answer = await socketCall(await socketFor(socketRole(shape.access, caller)), action, params);
						const expected = expectedForField({ action }, caller, family, c.field);
						await check(
							`call ${action} as ${socketRole(shape.access, caller)}, ${c.field}=${short(c.value)}${extras.length ? ` +${extras.join(",")}` : ""} -> ${short(answer.err ?? { ok: answer.res })}`,
							socketProblems(answer, expected, family === "deep" || family === "prototype" || caller !== "proper" ? undefined : c.field),
						);
					});
				},
				PROPERTY_TIMEOUT_MS,
			);
		}

		it(
			"params that are not an object: null, a string, a number, an array -> 422; none at all is the same as {}",
			async () => {
				const shape = shapes.get(action)!;
				const kinds = ["missing", "null", "string", "empty string", "number", "boolean", "array", "array of a valid request"] as const;
				const callers: fc.Arbitrary<Caller> =
					shape.access === "admin" ? fc.oneof({ weight: 4, arbitrary: fc.constant<Caller>("proper") }, { weight: 1, arbitrary: fc.constant<Caller>("customer") }) : fc.constant("proper");
				let asEmpty: { err: any; res: any } | undefined;
				await property(
					`socket ${action} params shape`,
					fc.record({ kind: fc.constantFrom(...kinds), caller: callers, n: fc.integer({ min: -5, max: 1e6 }) }),
					RUNS.socketShape,
					async ({ kind, caller, n }) => {
						const socket = await socketFor(socketRole(shape.access, caller));
						const byAccess = accessStatus(caller);
						const params: Record<(typeof kinds)[number], unknown> = {
							missing: MISSING,
							null: null,
							string: `x${n}`,
							"empty string": "",
							number: n,
							boolean: n % 2 === 0,
							array: [n],
							"array of a valid request": [filler(shape, true)],
						};
						if (kind === "missing" && !byAccess) {
							// The same answer as {}: a success for both, or the same error code.
							if (!asEmpty) {
								asEmpty = await socketCall(socket, action, {});
								await restore(stores, baseline);
								await broker.cacher?.clean();
							}
							const answer = await socketCall(await socketFor(socketRole(shape.access, caller)), action, MISSING);
							await restore(stores, baseline);
							await broker.cacher?.clean();
							const problems: string[] = [];
							if (!asEmpty.err && answer.err) problems.push(`{} succeeds, but no params fails: ${short(answer.err)}`);
							if (asEmpty.err) problems.push(...socketProblems(answer, [asEmpty.err.code]));
							if (problems.length) throw new Error(`call ${action} without params -> ${short(answer.err ?? { ok: answer.res })}\n  - ${problems.join("\n  - ")}`);
							return;
						}
						const answer = await socketCall(socket, action, params[kind]);
						await check(
							`call ${action} as ${socketRole(shape.access, caller)} with params ${kind} ${short(params[kind] === MISSING ? "none" : params[kind])} -> ${short(answer.err ?? { ok: answer.res })}`,
							socketProblems(answer, byAccess ?? [422]),
						);
					},
				);
			},
			PROPERTY_TIMEOUT_MS,
		);
	});
}

// ---------------------------------------------------------------------------

it("runs at least 2,000 generated cases", () => {
	console.log(`bad-input: ${stats.generated} of ${stats.planned} planned cases generated in ${stats.properties} properties (${stats.executed} requests and calls, shrinking included); seed ${SEED}`);
	expect(stats.planned).toBeGreaterThanOrEqual(2000);
	// A failing property stops at its counterexample; when every property holds, every planned case ran.
	if (stats.failedProperties.length === 0) expect(stats.generated).toBe(stats.planned);
});
