import Redis from "ioredis";
import { Errors, ServiceBroker, type ServiceSchema } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import { namespacePrefix } from "../../lib/infra/redis";
import { settings } from "../../lib/infra/settings";
import CustomersService from "../../services/customers.service";
import { MAIL_TEMPLATES } from "../../lib/contracts/notifications";
import { Resets, type ResetDoc } from "../../services/notifications/resets";
import { sha256 } from "../../services/notifications/signing";
import { createTestBroker, waitFor } from "../helpers/broker";
import { notificationsWith } from "../helpers/notifications";
import { SmtpSink } from "../helpers/smtp-sink";
import { memoryStore } from "../helpers/stepped-store";

/** The password reset flow, and mail without SMTP, on in-process brokers; mail received by a real SMTP server. */

const tokenIn = (text: string) => /reset-password\?token=([A-Za-z0-9_-]+)/.exec(text)?.[1];

describe("password reset", () => {
	let broker: ServiceBroker;
	const smtp = new SmtpSink();

	beforeAll(async () => {
		const smtpUrl = await smtp.start();
		broker = createTestBroker();
		broker.createService(CustomersService);
		broker.createService(notificationsWith({ smtpUrl, retryScheduleMs: [50, 50, 50, 50] }));
		await broker.start();
		await broker.call("customers.register", { name: "Ada", email: "ada@reset.test", password: "old-password-1" });
		await broker.call("customers.register", { name: "Bob", email: "bob@reset.test", password: "old-password-1" });
	});
	afterAll(async () => {
		await broker.stop();
		await smtp.stop();
	});

	const request = (email: string) => broker.call<any, object>("notifications.requestPasswordReset", { email });
	const reset = (token: string | undefined, password: string) => broker.call("notifications.resetPassword", { token, password });
	const login = (email: string, password: string) =>
		broker.call("customers.login", { email, password }).then(
			() => "ok",
			(err: { code: number }) => err.code,
		);
	const mailedToken = async (email: string, count: number) => {
		await waitFor(() => smtp.to(email).length >= count, 10_000, `reset mail ${count} to ${email}`);
		return tokenIn(smtp.to(email)[count - 1].decoded);
	};

	it("answers the same whether or not the email has an account, and mails only an account's owner", async () => {
		const known = await request("ada@reset.test");
		const unknown = await request("nobody@reset.test");
		expect(unknown).toEqual(known);
		const token = await mailedToken("ada@reset.test", 1);
		expect(token).toBeTruthy();
		expect(smtp.to("ada@reset.test")[0]).toMatchObject({ subject: "Reset your password" });
		expect(smtp.to("ada@reset.test")[0].decoded).toContain(`https://shop.example.com/reset-password?token=${token}`);
		expect(smtp.to("nobody@reset.test")).toEqual([]);
	});

	it("sets the new password once: the token is single-use, the old password and earlier sign-ins end", async () => {
		const token = await mailedToken("ada@reset.test", 1);
		const before = (await broker.call<any, object>("customers.login", { email: "ada@reset.test", password: "old-password-1" })).customer;
		const version = (await broker.call<any, object>("customers.tokenVersion", { id: before.id })).version;
		await expect(reset(token, "new-password-1")).resolves.toBeNull();
		expect(await login("ada@reset.test", "new-password-1")).toBe("ok");
		expect(await login("ada@reset.test", "old-password-1")).toBe(401);
		expect((await broker.call<any, object>("customers.tokenVersion", { id: before.id })).version).toBe(version + 1);
		await expect(reset(token, "third-password-1")).rejects.toMatchObject({ code: 422, type: "RESET_TOKEN_INVALID" });
		expect(await login("ada@reset.test", "new-password-1")).toBe("ok");
	});

	it("keeps only the token's hash, and ends a customer's earlier token when a new one is asked for", async () => {
		await request("bob@reset.test");
		const first = await mailedToken("bob@reset.test", 1);
		await request("bob@reset.test");
		const second = await mailedToken("bob@reset.test", 2);
		const store = (broker.getLocalService("notifications") as unknown as { resets: { store: { find(q: object): Promise<ResetDoc[]> } } }).resets.store;
		const docs = JSON.stringify(await store.find({}));
		expect(docs).not.toContain(first);
		expect(docs).not.toContain(second);
		expect(docs).toContain(sha256(second!));
		await expect(reset(first, "bobs-new-password")).rejects.toMatchObject({ code: 422 });
		await expect(reset(second, "bobs-new-password")).resolves.toBeNull();
	});

	it("limits requests per email, the same for an email without an account", async () => {
		await broker.call("customers.register", { name: "Eve", email: "eve@reset.test", password: "old-password-1" });
		for (const email of ["limit@reset.test", "eve@reset.test"]) {
			const codes = [];
			for (let i = 0; i < 6; i++)
				codes.push(
					await request(email).then(
						() => 202,
						(err: { code: number }) => err.code,
					),
				);
			expect({ email, codes: codes.slice(-2) }).toEqual({ email, codes: [202, 429] });
		}
	});

	it("refuses bad input with 422 and changes nothing", async () => {
		await expect(reset("short", "new-password-1")).rejects.toMatchObject({ code: 422 });
		await expect(reset("x".repeat(43), "short")).rejects.toMatchObject({ code: 422 });
		await expect(reset("a".repeat(43), "new-password-2")).rejects.toMatchObject({ code: 422, type: "RESET_TOKEN_INVALID" });
		await expect(broker.call("notifications.requestPasswordReset", { email: "not-an-email" })).rejects.toMatchObject({ code: 422 });
		expect(await login("ada@reset.test", "new-password-1")).toBe("ok");
	});

	it("retries mail the SMTP server refuses, and sends it once when it takes it", async () => {
		smtp.refusing = true;
		await broker.call("customers.register", { name: "Cy", email: "cy@reset.test", password: "old-password-1" });
		await request("cy@reset.test");
		await new Promise(r => setTimeout(r, 150));
		expect(smtp.to("cy@reset.test")).toEqual([]);
		smtp.refusing = false;
		await mailedToken("cy@reset.test", 1);
		await new Promise(r => setTimeout(r, 300));
		expect(smtp.to("cy@reset.test")).toHaveLength(1);
	});
});

describe("a reset whose password change did not answer", () => {
	let broker: ServiceBroker;
	/** What the stand-in for customers does with the next change: applies it and loses the answer, is never reached, or refuses it. */
	let next: "applied, answer lost" | "not reached" | "refused" = "applied, answer lost";
	const changed: string[] = [];

	beforeAll(async () => {
		broker = createTestBroker();
		broker.createService({
			name: "customers",
			actions: {
				setPasswordByReset(ctx: { params: { id: string } }) {
					if (next === "not reached") throw new Errors.ServiceNotAvailableError({ action: "customers.setPasswordByReset", nodeID: "customers-node" });
					if (next === "refused") throw new Errors.MoleculerClientError("No such customer", 404, "NOT_FOUND");
					changed.push(ctx.params.id);
					throw new Errors.RequestTimeoutError({ action: "customers.setPasswordByReset", nodeID: "customers-node" });
				},
			},
		});
		broker.createService(notificationsWith());
		await broker.start();
	});
	afterAll(() => broker.stop());

	const resets = () => (broker.getLocalService("notifications") as unknown as { resets: Resets }).resets;
	const reset = (token: string) => broker.call("notifications.resetPassword", { token, password: "new-password-1" });

	it("keeps the token used when the change may have been made (its answer was lost): the link does not work twice", async () => {
		next = "applied, answer lost";
		const token = await resets().issue("c-lost");
		await expect(reset(token)).rejects.toMatchObject({ code: 504 });
		expect(changed).toEqual(["c-lost"]);
		await expect(reset(token)).rejects.toMatchObject({ code: 422, type: "RESET_TOKEN_INVALID" });
		expect(changed).toEqual(["c-lost"]);
	});

	it("gives the token back when the change never reached customers: the link works once it can", async () => {
		next = "not reached";
		const token = await resets().issue("c-away");
		await expect(reset(token)).rejects.toMatchObject({ type: "SERVICE_NOT_AVAILABLE" });
		next = "applied, answer lost";
		await expect(reset(token)).rejects.toMatchObject({ code: 504 });
		expect(changed).toContain("c-away");
	});

	it("gives the token back when customers refused the change (a 4xx: nothing was changed)", async () => {
		next = "refused";
		const token = await resets().issue("c-refused");
		await expect(reset(token)).rejects.toMatchObject({ code: 404 });
		next = "applied, answer lost";
		await expect(reset(token)).rejects.toMatchObject({ code: 504 });
		expect(changed).toContain("c-refused");
	});
});

describe("reset tokens", () => {
	it("expire", async () => {
		let now = 1_000_000;
		const resets = new Resets(await memoryStore<ResetDoc>("expiring"), 60_000, () => now);
		const token = await resets.issue("c1");
		now += 60_001;
		expect(await resets.consume(token)).toBeNull();
		const fresh = await resets.issue("c1");
		now += 59_000;
		expect(await resets.consume(fresh)).toBe("c1");
		expect(await resets.consume(fresh)).toBeNull();
	});
});

describe("mail without SMTP", () => {
	let broker: ServiceBroker;
	beforeAll(async () => {
		broker = createTestBroker();
		broker.createService(CustomersService);
		broker.createService(notificationsWith({}));
		await broker.start();
		await broker.call("customers.register", { name: "Dee", email: "dee@outbox.test", password: "old-password-1" });
	});
	afterAll(() => broker.stop());

	it("keeps mail in the local outbox the Mail panel reads, reset links masked", async () => {
		await broker.call("notifications.requestPasswordReset", { email: "dee@outbox.test" });
		const outbox = await waitFor(async () => {
			const o = await broker.call<any, object>("notifications.mailOutbox", {});
			return o.rows.length ? o : null;
		});
		expect(outbox).toMatchObject({ transport: "outbox", total: 1, rows: [{ to: "dee@outbox.test", template: "password.reset", subject: "Reset your password" }] });
		expect(outbox.rows[0].text).toContain("https://shop.example.com/reset-password?token=••••••••");
		expect(tokenIn(outbox.rows[0].text)).toBeUndefined();
		expect(tokenIn(outbox.rows[0].html)).toBeUndefined();
	});

	it("previews every template with sample data, text and HTML, escaping what it fills into HTML", async () => {
		for (const name of MAIL_TEMPLATES) {
			const preview = await broker.call<any, object>("notifications.previewTemplate", { name });
			expect({
				name,
				subject: preview.subject.length > 0,
				text: preview.text.length > 0,
				html: preview.html.startsWith("<!doctype html>"),
				leftovers: /\{\{/.test(preview.text + preview.html),
			}).toEqual({
				name,
				subject: true,
				text: true,
				html: true,
				leftovers: false,
			});
		}
		await expect(broker.call("notifications.previewTemplate", { name: "nope" })).rejects.toMatchObject({ code: 404 });
	});
});

describe("the reset and sign-in throttles in Redis", () => {
	const namespace = `throttles-${process.pid}`;
	const redisUrl = "redis://127.0.0.1:6379";
	// One long window for both, so that both count in the same window whatever the clock says.
	const windowMs = 24 * 60 * 60_000;
	let broker: ServiceBroker;

	beforeAll(async () => {
		broker = new ServiceBroker({ ...brokerOptions(settings), namespace, logger: false, metrics: { enabled: false } });
		const customers = CustomersService as ServiceSchema & { settings: object };
		broker.createService({ ...customers, settings: { ...customers.settings, loginThrottle: { max: 3, windowMs, redisUrl } } });
		const notifications = notificationsWith({});
		broker.createService({ ...notifications, settings: { ...notifications.settings, resetThrottle: { max: 5, windowMs, redisUrl } } });
		await broker.start();
		await clearNamespace();
		await broker.call("customers.register", { name: "Eve", email: "reset:eve@throttle.test", password: "eves-password-1" });
	});
	afterAll(async () => {
		await clearNamespace();
		await broker.stop();
	});

	async function clearNamespace(): Promise<void> {
		const redis = new Redis(redisUrl);
		const keys = await redis.keys(`${namespacePrefix(namespace)}*`);
		if (keys.length) await redis.del(...keys);
		await redis.quit();
	}
	const outcome = (p: Promise<unknown>) =>
		p.then(
			() => "ok",
			(err: { code: number }) => err.code,
		);

	it("reset requests for one email do not spend another email's sign-in budget", async () => {
		for (let i = 0; i < 3; i++) expect(await outcome(broker.call("notifications.requestPasswordReset", { email: "eve@throttle.test" }))).toBe("ok");
		expect(await outcome(broker.call("customers.login", { email: "reset:eve@throttle.test", password: "eves-password-1" }))).toBe("ok");
	});

	it("sign-in attempts for one email do not spend another email's reset budget", async () => {
		for (let i = 0; i < 3; i++) expect(await outcome(broker.call("customers.login", { email: "reset:zed@throttle.test", password: "wrong-password-1" }))).toBe(401);
		const codes = [];
		for (let i = 0; i < 5; i++) codes.push(await outcome(broker.call("notifications.requestPasswordReset", { email: "zed@throttle.test" })));
		expect(codes).toEqual(["ok", "ok", "ok", "ok", "ok"]);
	});
});
