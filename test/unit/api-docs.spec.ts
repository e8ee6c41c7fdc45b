import { validate as validateOpenApi } from "@readme/openapi-parser";
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { ROUTES, type Route } from "../../lib/contracts/routes";
import { ANSWERS } from "../../services/api/openapi-answers";
import { actionParams, buildOpenApi, openApiPath, type OpenApiDocument, type Operation } from "../../services/api/openapi";
import { toJsonSchema } from "../../services/api/json-schema";
import { exampleOf } from "../../services/api/openapi-examples";
import { ROUTED_SERVICES } from "../../services/api/routed-services";
import { CUSTOMERS as SEED_CUSTOMERS, DEMO_PASSWORD } from "../../bin/lib/seed-data";
import { waitFor } from "../helpers/broker";
import { startInProcessShop } from "../helpers/gateway";
import { HttpClient, type HttpResult } from "../helpers/http";
import { WebhookReceiver } from "../helpers/webhook-receiver";
import { eventId } from "../../services/notifications/events";

const ADMIN = { email: "admin@shop.test", password: "admin-password" };

type JsonSchemaLike = { type?: unknown; const?: unknown; $ref?: string; anyOf?: JsonSchemaLike[] };

/** Values of every JSON type and a few edges: each one the documented schema refuses must be refused by the API too. */
const CANDIDATES: unknown[] = [null, 42, 1.5, -1, "12", "", "x".repeat(300), true, [], {}];

const operationOf = (doc: OpenApiDocument, route: Route): Operation | undefined => doc.paths[openApiPath(route)]?.[route.method.toLowerCase()];

const takesBody = (route: Route) => route.method === "POST" || route.method === "PATCH";

/** The route's URL with its `:params` filled in. */
const urlOf = (route: Route, params: Record<string, string> = {}) => `/api${route.path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name] ?? "x"))}`;

describe("API description: GET /api/openapi.json and GET /api/docs", () => {
	let shop: Awaited<ReturnType<typeof startInProcessShop>>;
	let http: HttpClient;
	let doc: OpenApiDocument;
	let adminToken: string;
	let ajv: Ajv2020;
	const validators = new Map<string, ValidateFunction>();
	const receiver = new WebhookReceiver();

	beforeAll(async () => {
		await receiver.start();
		shop = await startInProcessShop(["api", "customers", "products", "orders", "alerts", "analytics", "payments", "carts", "notifications"], {
			admin: ADMIN,
			gateway: { rateLimit: { max: 100_000 } },
			notifications: { allow: ["127.0.0.1"] },
		});
		http = new HttpClient(shop.url);
		const res = await http.get("/api/openapi.json");
		expect(res.status).toBe(200);
		doc = res.body;
		adminToken = (await http.post("/api/auth/login", ADMIN)).body.token;
		ajv = new Ajv2020({ strict: false, allErrors: true });
		addFormats(ajv);
	});
	afterAll(async () => {
		await shop.stop();
		await receiver.stop();
	});

	/** Checks a value against a schema of the document (its `#/components/...` references resolved); the errors, or none. */
	function schemaErrors(schema: object, value: unknown): string[] {
		const key = JSON.stringify(schema);
		let check = validators.get(key);
		if (!check) {
			check = ajv.compile({ ...schema, components: doc.components });
			validators.set(key, check);
		}
		return check(value) ? [] : (check.errors ?? []).map(e => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
	}

	/** The answer is one the route documents: its status listed, and a success's body of the documented schema. */
	function expectDocumented(route: Route, res: HttpResult): void {
		const responses = operationOf(doc, route)!.responses;
		expect({ route: `${route.method} ${route.path}`, status: res.status, listed: String(res.status) in responses }).toEqual({
			route: `${route.method} ${route.path}`,
			status: res.status,
			listed: true,
		});
		const response = responses[res.status] as { content?: Record<string, { schema: object }> };
		if (res.status === 204) expect({ route: route.action, content: response.content, body: res.text }).toEqual({ route: route.action, content: undefined, body: "" });
		else if (res.status < 300) expect({ route: route.action, errors: schemaErrors(response.content!["application/json"].schema, res.body) }).toEqual({ route: route.action, errors: [] });
	}

	describe("the document", () => {
		it("is a valid OpenAPI 3.1 document", async () => {
			expect(doc.openapi).toBe("3.1.0");
			const result = await validateOpenApi(structuredClone(doc) as never);
			expect(result).toMatchObject({ valid: true });
		});

		it("describes every route of the table with its method and path, and nothing else", () => {
			for (const route of ROUTES)
				expect({ route: `${route.method} ${route.path}`, operationId: operationOf(doc, route)?.operationId }).toEqual({ route: `${route.method} ${route.path}`, operationId: route.action });
			const operations = Object.values(doc.paths).flatMap(methods => Object.keys(methods));
			expect(operations).toHaveLength(ROUTES.length);
		});

		it("asks a bearer JWT of every route but the public ones, and lists 401 and 403 where they apply", () => {
			expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
			for (const route of ROUTES) {
				const op = operationOf(doc, route)!;
				expect({ route: route.action, security: op.security ?? null }).toEqual({ route: route.action, security: route.access === "public" ? null : [{ bearerAuth: [] }] });
				expect({ route: route.action, has401: "401" in op.responses, has403: "403" in op.responses }).toEqual({
					route: route.action,
					has401: route.access !== "public" || route.action === "customers.login",
					has403: route.access === "admin" || ["customers.login", "customers.updateMe", "orders.create"].includes(route.action),
				});
			}
		});

		it("takes every field of each action's params as a path or query parameter, or as a property of the JSON body", () => {
			for (const route of ROUTES) {
				const op = operationOf(doc, route)!;
				const fields = Object.keys(actionParams([shop.broker.getLocalService("api").schema, ...ROUTED_SERVICES], route.action)).filter(f => !f.startsWith("$$"));
				const bodySchema = op.requestBody?.content["application/json"].schema as { properties?: object } | undefined;
				const documented = [...(op.parameters ?? []).filter(p => p.in !== "header").map(p => p.name), ...Object.keys(bodySchema?.properties ?? {})];
				expect({ route: route.action, fields: documented.sort() }).toEqual({ route: route.action, fields: fields.sort() });
				if (!takesBody(route)) expect(op.requestBody).toBeUndefined();
				for (const p of op.parameters ?? []) if (p.in === "path") expect(p.required).toBe(true);
			}
		});

		it("carries the rules of the validation: types, bounds, patterns, enums, nullable fields, required ones", () => {
			const list = operationOf(
				doc,
				ROUTES.find(r => r.action === "products.list")!,
			)!;
			expect(list.parameters).toEqual(
				expect.arrayContaining([
					expect.objectContaining({ name: "pageSize", in: "query", required: false, schema: expect.objectContaining({ type: "integer", minimum: 1, maximum: 100, default: 20 }) }),
					expect.objectContaining({ name: "sort", in: "query", schema: expect.objectContaining({ enum: expect.arrayContaining(["priceCents", "-createdAt"]) }) }),
				]),
			);
			const create = operationOf(
				doc,
				ROUTES.find(r => r.action === "products.create")!,
			)!.requestBody!;
			expect(create.required).toBe(true);
			expect(create.content["application/json"].schema).toMatchObject({
				required: ["sku", "name", "category", "priceCents", "stock"],
				properties: { sku: { type: "string", pattern: "^[A-Za-z0-9._-]+$" }, priceCents: { type: "integer", minimum: 0 } },
			});
			const updateMe = operationOf(
				doc,
				ROUTES.find(r => r.action === "customers.updateMe")!,
			)!.requestBody!;
			expect(updateMe.required).toBe(false);
			expect(updateMe.content["application/json"].schema).toMatchObject({ properties: { phone: { type: ["string", "null"] } } });
			const order = operationOf(
				doc,
				ROUTES.find(r => r.action === "orders.create")!,
			)!;
			expect(order.parameters).toEqual(["Idempotency-Key", "X-On-Behalf-Of", "X-Placed-At"].map(name => expect.objectContaining({ name, in: "header", required: false })));
			// A provider's signature is a route header like the others, documented where it is read.
			const stripeWebhook = operationOf(
				doc,
				ROUTES.find(r => r.action === "payments.stripeWebhook")!,
			)!;
			expect(stripeWebhook.parameters).toEqual([expect.objectContaining({ name: "Stripe-Signature", in: "header" })]);
		});

		it("lists the contract's errors in its error shape, and the rate limit where it applies", () => {
			expect(doc.components.schemas.Error).toMatchObject({ required: ["name", "message", "code"], properties: { name: {}, message: {}, code: {}, type: {}, data: {} } });
			for (const route of ROUTES) {
				const responses = operationOf(doc, route)!.responses;
				expect({ route: route.action, has429: "429" in responses, has503: "503" in responses }).toEqual({ route: route.action, has429: true, has503: true });
				if (takesBody(route))
					for (const status of ["400", "413", "415", "422"]) expect({ route: route.action, status, listed: status in responses }).toEqual({ route: route.action, status, listed: true });
			}
		});

		it("documents an answer for every action of the table and an example for every body, which the action's own validation accepts", async () => {
			const api = shop.broker.getLocalService("api").schema;
			for (const route of ROUTES) {
				expect({ action: route.action, answer: ANSWERS[route.action] !== undefined }).toEqual({ action: route.action, answer: true });
				const op = operationOf(doc, route)!;
				if (!op.requestBody) continue;
				const example = op.requestBody.content["application/json"].example as Record<string, unknown>;
				expect({ action: route.action, example: example !== undefined }).toEqual({ action: route.action, example: true });
				const check = shop.broker.validator!.compile(actionParams([api, ...ROUTED_SERVICES], route.action));
				const params = Object.fromEntries([...route.path.matchAll(/:(\w+)/g)].map(m => [m[1], "an-id"]));
				expect({ action: route.action, valid: await check({ ...example, ...params }) }).toEqual({ action: route.action, valid: true });
			}
		});

		/** Every answer an operation documents, shared ones resolved, with its media types. */
		function documentedAnswers(route: Route): Array<{ where: string; content?: Record<string, { schema: object; example?: unknown }> }> {
			return Object.entries(operationOf(doc, route)!.responses).map(([status, response]) => {
				const ref = (response as { $ref?: string }).$ref;
				const resolved = ref ? doc.components.responses[ref.split("/").pop()!] : response;
				return { where: `${route.method} ${route.path} ${status}`, content: (resolved as { content?: Record<string, { schema: object; example?: unknown }> }).content };
			});
		}

		/** Where a value holds what Swagger UI makes up for a schema without an example: "string", or only zeros. */
		function placeholders(value: unknown, path = ""): string[] {
			if (value === "string") return [path || "/"];
			if (Array.isArray(value)) return value.flatMap((v, i) => placeholders(v, `${path}/${i}`));
			if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => placeholders(v, `${path}/${k}`));
			return [];
		}
		const numbers = (value: unknown): number[] => (typeof value === "number" ? [value] : value && typeof value === "object" ? Object.values(value).flatMap(numbers) : []);

		it("shows a real example of every documented answer, errors included: one of its schema, no placeholder in it", () => {
			let examples = 0;
			for (const route of ROUTES)
				for (const { where, content } of documentedAnswers(route))
					for (const [type, media] of Object.entries(content ?? {})) {
						expect({ where, type, example: media.example !== undefined }).toEqual({ where, type, example: true });
						expect({ where, errors: schemaErrors(media.schema, media.example) }).toEqual({ where, errors: [] });
						expect({ where, placeholders: placeholders(media.example) }).toEqual({ where, placeholders: [] });
						const found = numbers(media.example);
						if (found.length) expect({ where, allZero: found.every(n => n === 0) }).toEqual({ where, allZero: false });
						examples++;
					}
			expect(examples).toBeGreaterThan(ROUTES.length * 3);
		});

		it("types every parameter and body property (no schema Swagger UI would show as `any`), sort included", () => {
			const typed = (schema: JsonSchemaLike): boolean =>
				schema.type !== undefined || schema.const !== undefined || schema.$ref !== undefined || (Array.isArray(schema.anyOf) && schema.anyOf.every(typed));
			for (const route of ROUTES) {
				const op = operationOf(doc, route)!;
				for (const p of op.parameters ?? []) expect({ route: route.action, param: p.name, typed: typed(p.schema) }).toEqual({ route: route.action, param: p.name, typed: true });
				const body = op.requestBody?.content["application/json"].schema as { properties?: Record<string, JsonSchemaLike> } | undefined;
				for (const [name, schema] of Object.entries(body?.properties ?? {}))
					expect({ route: route.action, field: name, typed: typed(schema) }).toEqual({ route: route.action, field: name, typed: true });
			}
			const sort = operationOf(
				doc,
				ROUTES.find(r => r.action === "products.list")!,
			)!.parameters!.find(p => p.name === "sort")!;
			expect(sort.schema).toMatchObject({ type: "string", enum: expect.arrayContaining(["priceCents", "-priceCents", "name", "-createdAt"]) });
		});

		it("signs in, in its example, as an account the seed makes, and registers one the seed does not", () => {
			const body = (action: string) =>
				operationOf(
					doc,
					ROUTES.find(r => r.action === action)!,
				)!.requestBody!.content["application/json"].example as { email: string; password: string };
			expect(SEED_CUSTOMERS.map(c => c.email)).toContain(body("customers.login").email);
			expect(body("customers.login").password).toBe(DEMO_PASSWORD);
			expect(SEED_CUSTOMERS.map(c => c.email)).not.toContain(body("customers.register").email);
		});

		it("fails the gateway's start rather than describe a route whose action or answer is unknown", () => {
			const stray: Route = { method: "GET", path: "/stray", action: "products.stray", access: "public", tag: "Products", summary: "None" };
			expect(() => buildOpenApi([stray], ROUTED_SERVICES, { version: "1", rateLimit: { max: 1, windowMs: 1 } })).toThrow("no service defines");
			expect(() => toJsonSchema({ type: "luhn" })).toThrow("luhn");
			expect(() => exampleOf({ type: "integer" })).toThrow("No example");
			expect(() => exampleOf({ $ref: "#/components/schemas/Unnamed" })).toThrow("No example for the schema 'Unnamed'");
		});
	});

	describe("the rules in fastest-validator's other forms", () => {
		it("reads shorthands, nullable enums, multi rules, dates and defaults", () => {
			expect(toJsonSchema("string|min:3|optional")).toEqual({ type: "string", minLength: 3 });
			expect(toJsonSchema({ type: "enum", values: ["a", "b"], nullable: true })).toEqual({ type: ["string", "null"], enum: ["a", "b", null] });
			expect(toJsonSchema({ type: "enum", values: ["a", 1] })).toEqual({ enum: ["a", 1] });
			expect(toJsonSchema([{ type: "string" }, { type: "number", positive: true }])).toEqual({ anyOf: [{ type: "string" }, { type: "number", exclusiveMinimum: 0 }] });
			expect(toJsonSchema({ type: "date", convert: true })).toEqual({ type: "string", format: "date-time" });
			expect(toJsonSchema({ type: "array", items: "number|integer", unique: true, default: [] })).toEqual({ type: "array", items: { type: "integer" }, uniqueItems: true, default: [] });
		});
	});

	describe("the real API against its description", () => {
		const exercised = new Set<string>();
		const route = (action: string) => ROUTES.find(r => r.action === action)!;
		const example = (action: string) => structuredClone(operationOf(doc, route(action))!.requestBody!.content["application/json"].example) as Record<string, any>;

		/** Sends a request to a route, checks that the answer is one it documents, and returns it. */
		async function call(action: string, opts: { params?: Record<string, string>; query?: string; body?: unknown; token?: string; headers?: Record<string, string> } = {}): Promise<HttpResult> {
			const r = route(action);
			const res = await http.request(r.method, urlOf(r, opts.params) + (opts.query ? `?${opts.query}` : ""), { body: opts.body, token: opts.token, headers: opts.headers });
			expectDocumented(r, res);
			exercised.add(action);
			return res;
		}

		it("accepts the documented examples, and answers every route as documented", async () => {
			const session = await call("customers.register", { body: example("customers.register") });
			expect(session.status).toBe(201);
			// The login example is a seed account: the seed's customer, made as the seed makes it, signs in with it.
			const seeded = SEED_CUSTOMERS.find(c => c.email === example("customers.login").email)!;
			expect((await http.post("/api/auth/register", { name: seeded.name, email: seeded.email, password: DEMO_PASSWORD })).status).toBe(201);
			expect((await call("customers.login", { body: example("customers.login") })).status).toBe(200);
			const customerId = session.body.customer.id as string;
			expect((await call("customers.me", { token: session.body.token })).status).toBe(200);
			// The example changes the password: the answer's fresh token stands in for the earlier ones, which end.
			const updated = await call("customers.updateMe", { token: session.body.token, body: example("customers.updateMe") });
			expect(updated.status).toBe(200);
			const token = updated.body.token as string;

			const product = await call("products.create", { token: adminToken, body: example("products.create") });
			expect(product.status).toBe(201);
			const productId = product.body.id as string;
			expect((await call("products.get", { params: { id: productId } })).status).toBe(200);
			expect((await call("products.list", { query: "search=lamp&page=1&pageSize=10&sort=priceCents" })).body.total).toBe(1);
			expect((await call("products.categories")).status).toBe(200);
			expect((await call("products.update", { token: adminToken, params: { id: productId }, body: example("products.update") })).status).toBe(200);
			expect((await call("products.restock", { token: adminToken, params: { id: productId }, body: example("products.restock") })).status).toBe(200);

			// The example's product id is a placeholder: the product just created stands in for it.
			const orderBody = example("orders.create");
			orderBody.items[0].productId = productId;
			const placed = await call("orders.create", { token, body: orderBody, headers: { "idempotency-key": "docs-example" } });
			expect(placed.status).toBe(201);
			expect((await call("orders.create", { token, body: orderBody, headers: { "idempotency-key": "docs-example" } })).status).toBe(200);
			const orderId = placed.body.id as string;
			expect((await call("orders.get", { token, params: { id: orderId } })).status).toBe(200);
			expect((await call("orders.list", { token, query: "status=confirmed" })).body.total).toBe(1);
			expect((await call("orders.setStatus", { token: adminToken, params: { id: orderId }, body: example("orders.setStatus") })).status).toBe(200);
			const placedAt = "2024-05-01T10:00:00.000Z";
			const onBehalf = await call("orders.create", { token: adminToken, body: orderBody, headers: { "x-on-behalf-of": customerId, "x-placed-at": placedAt } });
			expect(onBehalf.body).toMatchObject({ customerId, createdAt: placedAt });
			expect((await call("orders.create", { token, body: orderBody, headers: { "x-placed-at": placedAt } })).status).toBe(403);
			const second = await call("orders.create", { token, body: orderBody });
			expect((await call("orders.cancel", { token: adminToken, params: { id: second.body.id } })).status).toBe(200);

			// Carts and checkout: a guest's cart, merged into the customer's at sign-in, quoted, checked out.
			const guestCart = await call("carts.create");
			expect(guestCart.status).toBe(201);
			const cartToken = { "x-cart-token": guestCart.body.token as string };
			const item = { ...example("carts.addItem"), productId };
			expect((await call("carts.addItem", { body: item, headers: cartToken })).status).toBe(200);
			expect((await call("carts.setItem", { params: { productId }, body: example("carts.setItem"), headers: cartToken })).status).toBe(200);
			expect((await call("carts.get", { headers: cartToken })).body.lines).toHaveLength(1);
			expect((await call("carts.merge", { token, headers: cartToken })).status).toBe(200);
			const quote = await call("orders.quote", { token, body: example("orders.quote") });
			expect(quote.status).toBe(200);
			const checkedOut = await call("orders.checkout", { token, body: { ...example("orders.checkout"), expectedTotalCents: quote.body.totalCents } });
			expect(checkedOut.body).toMatchObject({ status: "awaiting_payment", totalCents: quote.body.totalCents });
			expect((await call("carts.addItem", { token, body: item })).status).toBe(200);
			expect((await call("carts.removeItem", { token, params: { productId } })).status).toBe(200);
			expect((await call("carts.clear", { token })).status).toBe(200);
			// Payment, fulfilment and a return, on an order of their own.
			const paying = (await call("orders.create", { token, body: orderBody })).body.id as string;
			const payment = await call("payments.get", { token, params: { id: paying } });
			const markPaid = { ...example("payments.markPaid"), reference: payment.body.reference };
			expect((await call("payments.markPaid", { token: adminToken, params: { id: paying }, body: markPaid })).status).toBe(200);
			expect((await call("payments.refund", { token: adminToken, params: { id: paying }, body: example("payments.refund") })).status).toBe(201);
			expect((await call("orders.ship", { token: adminToken, params: { id: paying }, body: example("orders.ship") })).status).toBe(200);
			expect((await call("orders.deliver", { token: adminToken, params: { id: paying } })).status).toBe(200);
			const returned = example("orders.recordReturn");
			returned.items[0].productId = productId;
			expect((await call("orders.recordReturn", { token: adminToken, params: { id: paying }, body: returned })).status).toBe(201);
			// This shop has no stripe keys: the provider is not configured.
			expect((await call("payments.start", { token, params: { id: second.body.id }, body: example("payments.start") })).status).toBe(409);
			expect((await call("payments.stripeWebhook")).status).toBe(404);

			// A product created out of stock raises alerts.
			await call("products.create", { token: adminToken, body: { ...example("products.create"), sku: "EMPTY-1", stock: 0 } });
			const alerts = await waitFor(async () => {
				const res = await http.get("/api/alerts", adminToken);
				return res.body.total > 0 ? res : null;
			});
			expectDocumented(route("alerts.list"), alerts);
			exercised.add("alerts.list");
			expect((await call("alerts.ack", { token: adminToken, params: { id: alerts.body.rows[0].id } })).status).toBe(200);
			expect((await call("analytics.dashboard", { token: adminToken })).status).toBe(200);
			expect((await call("analytics.sales", { token: adminToken, query: "interval=month" })).status).toBe(200);
			expect((await call("api.health")).status).toBe(200);
			expect((await call("api.cluster", { token: adminToken })).status).toBe(200);

			expect((await call("customers.list", { token: adminToken, query: "pageSize=5&search=ada&role=customer" })).status).toBe(200);
			expect((await call("customers.createAdmin", { token: adminToken, body: example("customers.createAdmin") })).status).toBe(201);
			expect((await call("customers.get", { token: adminToken, params: { id: customerId } })).status).toBe(200);
			expect((await call("customers.setAccess", { token: adminToken, params: { id: customerId }, body: example("customers.setAccess") })).status).toBe(200);
			const promoted = (await http.post("/api/auth/login", { email: example("customers.register").email, password: example("customers.updateMe").password })).body.token as string;
			expect((await call("customers.logoutAll", { token: promoted })).status).toBe(204);
			expect((await call("products.remove", { token: adminToken, params: { id: productId } })).status).toBe(200);

			// Webhooks, at a receiver on 127.0.0.1 (allowed in this shop's settings).
			const hook = await call("notifications.createEndpoint", { token: adminToken, body: { ...example("notifications.createEndpoint"), url: receiver.url } });
			expect(hook.status).toBe(201);
			const hookId = hook.body.endpoint.id as string;
			expect((await call("notifications.listEndpoints", { token: adminToken })).body.total).toBe(1);
			expect((await call("notifications.getEndpoint", { token: adminToken, params: { id: hookId } })).status).toBe(200);
			expect((await call("notifications.updateEndpoint", { token: adminToken, params: { id: hookId }, body: example("notifications.updateEndpoint") })).status).toBe(200);
			expect((await call("notifications.ping", { token: adminToken, params: { id: hookId } })).body).toMatchObject({ ok: true, status: 200 });
			expect((await call("notifications.rotateSecret", { token: adminToken, params: { id: hookId } })).body.secret).toMatch(/^whsec_/);
			const placedEvent = eventId(`order.placed:${orderId}:1`);
			await waitFor(async () => (await http.post(`/api/webhooks/${hookId}/redeliver`, { eventId: placedEvent }, adminToken)).status === 202, 10_000, "the order.placed event");
			expect((await call("notifications.redeliver", { token: adminToken, params: { id: hookId }, body: { eventId: placedEvent } })).status).toBe(202);
			await waitFor(() => receiver.received.some(r => r.id === placedEvent), 10_000, "the redelivered event");
			expect((await call("notifications.attempts", { token: adminToken, params: { id: hookId } })).body.total).toBeGreaterThan(0);
			expect((await call("notifications.mailOutbox", { token: adminToken })).body.transport).toBe("outbox");
			expect((await call("notifications.previewTemplate", { token: adminToken, params: { name: "order.shipped" } })).body.subject).toContain("on its way");
			expect((await call("notifications.requestPasswordReset", { body: example("notifications.requestPasswordReset") })).status).toBe(202);
			expect((await call("notifications.resetPassword", { body: example("notifications.resetPassword") })).status).toBe(422);
			expect((await call("notifications.removeEndpoint", { token: adminToken, params: { id: hookId } })).status).toBe(200);

			expect(ROUTES.map(r => r.action).filter(a => !exercised.has(a))).toEqual([]);
		});

		it("refuses with 422, in the documented shape, every body field value that the documented schema refuses", async () => {
			let refused = 0;
			for (const r of ROUTES.filter(takesBody)) {
				const body = operationOf(doc, r)!.requestBody;
				if (!body) continue;
				const { schema, example: sample } = body.content["application/json"] as { schema: { properties: Record<string, object> }; example: Record<string, unknown> };
				for (const field of Object.keys(schema.properties)) {
					for (const value of CANDIDATES) {
						const sent = { ...sample, [field]: value };
						if (schemaErrors(schema, sent).length === 0) continue;
						const res = await http.request(r.method, urlOf(r), { body: sent, token: adminToken });
						expect({ route: r.action, field, value, status: res.status }).toEqual({ route: r.action, field, value, status: 422 });
						expectDocumented(r, res);
						expect(res.body.data).toEqual(expect.arrayContaining([expect.objectContaining({ field: expect.stringMatching(new RegExp(`^${field}`)) })]));
						refused++;
					}
				}
			}
			expect(refused).toBeGreaterThan(50);
		});

		it("refuses a query value out of the documented bounds with 422", async () => {
			for (const query of ["pageSize=101", "pageSize=0", "page=0", "sort=price"]) {
				const res = await http.get(`/api/products?${query}`);
				expect({ query, status: res.status }).toEqual({ query, status: 422 });
			}
		});
	});

	describe("GET /api/openapi.json and the docs page", () => {
		it("is public: a token that does not verify does not keep a client from it", async () => {
			for (const path of ["/api/openapi.json", "/api/docs"]) expect({ path, status: (await http.get(path, "not-a-token")).status }).toEqual({ path, status: 200 });
			expect((await http.get("/api/products", "not-a-token")).status).toBe(401);
		});

		it("counts against the rate limit like any public GET", async () => {
			for (const path of ["/api/openapi.json", "/api/docs"]) {
				const res = await fetch(shop.url + path);
				expect({ path, limit: res.headers.get("x-rate-limit-limit") }).toEqual({ path, limit: "100000" });
			}
		});

		it("serves the page, under a strict CSP, with every script and style it references from the gateway itself", async () => {
			const res = await fetch(`${shop.url}/api/docs`);
			expect(res.status).toBe(200);
			expect(res.headers.get("content-type")).toContain("text/html");
			expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
			const html = await res.text();
			const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map(m => m[1]);
			expect(assets).toEqual(expect.arrayContaining(["/api/docs/swagger-ui.css", "/api/docs/swagger-ui-bundle.js", "/api/docs/init.js"]));
			for (const asset of assets) {
				expect(asset).toMatch(/^\/[^/]/);
				const file = await fetch(shop.url + asset);
				expect({ asset, status: file.status }).toEqual({ asset, status: 200 });
				expect(file.headers.get("content-type")).toMatch(/^(text\/css|text\/javascript|image\/svg\+xml)/);
			}
			const init = await (await fetch(`${shop.url}/api/docs/init.js`)).text();
			expect(init).toContain('"/api/openapi.json"');
		});

		it("answers an unchanged file with 304, compresses for clients that take gzip, and keeps the JSON 404 beside them", async () => {
			const first = await fetch(`${shop.url}/api/openapi.json`);
			const etag = first.headers.get("etag")!;
			expect((await fetch(`${shop.url}/api/openapi.json`, { headers: { "if-none-match": etag } })).status).toBe(304);
			const gzipped = await fetch(`${shop.url}/api/docs/swagger-ui-bundle.js`, { headers: { "accept-encoding": "gzip" } });
			expect(gzipped.status).toBe(200);
			expect(gzipped.headers.get("content-encoding")).toBe("gzip");
			expect(await gzipped.text()).toContain("SwaggerUIBundle");
			for (const path of ["/api/docs/nope.js", "/api/docs/index.html", "/api/openapi.yaml"]) {
				const res = await http.get(path);
				expect({ path, status: res.status, name: res.body?.name }).toEqual({ path, status: 404, name: "NotFoundError" });
			}
		});
	});
});
