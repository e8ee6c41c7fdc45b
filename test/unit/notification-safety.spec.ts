import { parseSettings } from "../../lib/infra/settings";
import { AddressGuard, isForbiddenAddress, type Resolve } from "../../services/notifications/address-guard";
import { Endpoints, type EndpointDoc } from "../../services/notifications/endpoints";
import { decrypt, encrypt } from "../../services/notifications/signing";
import { WebhookSender } from "../../services/notifications/webhook-sender";
import { memoryStore } from "../helpers/stepped-store";
import { WebhookReceiver } from "../helpers/webhook-receiver";

/** Where webhooks may go (SSRF), the https rule, and secrets at rest. */

const KEY = parseSettings({ JWT_SECRET: "safety-spec-secret-0123456789" }).notifications.secretKey;

describe("webhook safety", () => {
	const receiver = new WebhookReceiver();
	beforeAll(() => receiver.start());
	afterAll(() => receiver.stop());

	it("knows loopback, private, link-local, metadata, CGNAT, unique-local and mapped addresses, and lets public ones through", () => {
		for (const a of [
			"127.0.0.1",
			"127.9.9.9",
			"10.1.2.3",
			"172.16.0.1",
			"172.31.255.255",
			"192.168.1.1",
			"169.254.169.254",
			"100.64.0.1",
			"100.100.100.200",
			"0.0.0.0",
			"::1",
			"::",
			"fe80::1",
			"fd00:ec2::254",
			"fc00::1",
			"::ffff:127.0.0.1",
			"::ffff:10.0.0.1",
			"224.0.0.1",
		])
			expect({ a, forbidden: isForbiddenAddress(a) }).toEqual({ a, forbidden: true });
		for (const a of ["93.184.215.14", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"]) expect({ a, forbidden: isForbiddenAddress(a) }).toEqual({ a, forbidden: false });
	});

	it("refuses to register an endpoint that is http (outside development), carries credentials, or resolves to a private address", async () => {
		const resolve: Resolve = host =>
			Promise.resolve(host === "inside.example.com" ? [{ address: "10.0.0.7", family: 4 }] : host === "public.example.com" ? [{ address: "93.184.215.14", family: 4 }] : []);
		const store = await memoryStore<EndpointDoc>("safety-endpoints");
		const endpoints = new Endpoints(store, new AddressGuard([], resolve), { requireHttps: true, secretKey: KEY });
		const refused = async (url: string) =>
			endpoints.create({ url, eventTypes: ["order.placed"] }).then(
				() => null,
				(err: { code: number; type: string; message: string }) => ({ code: err.code, type: err.type }),
			);
		for (const url of [
			"http://public.example.com/hook",
			"https://user:pw@public.example.com/hook",
			"https://inside.example.com/hook",
			"https://nowhere.example.com/hook",
			"https://127.0.0.1/hook",
			"https://[::1]/hook",
			"https://169.254.169.254/latest/meta-data",
			"ftp://public.example.com/",
			"not a url",
		])
			expect({ url, refused: await refused(url) }).toEqual({ url, refused: { code: 422, type: "WEBHOOK_URL_REFUSED" } });
		expect(await store.count({})).toBe(0);
		const { endpoint } = await endpoints.create({ url: "https://public.example.com/hook", eventTypes: ["order.placed"] });
		expect(endpoint.url).toBe("https://public.example.com/hook");
	});

	it("takes a private address the allow-list names", async () => {
		const endpoints = new Endpoints(await memoryStore<EndpointDoc>("allowed-endpoints"), new AddressGuard(["127.0.0.1"]), { requireHttps: false, secretKey: KEY });
		await expect(endpoints.create({ url: receiver.url, eventTypes: ["order.placed"] })).resolves.toBeTruthy();
		const strict = new Endpoints(await memoryStore<EndpointDoc>("strict-endpoints"), new AddressGuard([]), { requireHttps: false, secretKey: KEY });
		await expect(strict.create({ url: receiver.url, eventTypes: ["order.placed"] })).rejects.toMatchObject({ code: 422 });
	});

	it("checks again when connecting: a name that resolved to a public address and now resolves to loopback (DNS rebinding) is not reached", async () => {
		let calls = 0;
		// Public at registration, loopback from then on.
		const rebinding: Resolve = () => Promise.resolve([{ address: ++calls === 1 ? "93.184.215.14" : "127.0.0.1", family: 4 }]);
		const guard = new AddressGuard([], rebinding);
		const port = new URL(receiver.url).port;
		const endpoints = new Endpoints(await memoryStore<EndpointDoc>("rebinding-endpoints"), guard, { requireHttps: false, secretKey: KEY });
		const { endpoint } = await endpoints.create({ url: `http://rebind.example.com:${port}/hook`, eventTypes: ["order.placed"] });
		const before = receiver.received.length;
		const result = await new WebhookSender(guard, { timeoutMs: 2000, maxResponseBytes: 1024 }).send(endpoint.url, {}, "{}");
		expect(result).toMatchObject({ ok: false, status: null, error: expect.stringContaining("127.0.0.1") });
		expect(receiver.received.length).toBe(before);
		// The same name, allowed, connects: the refusal above was the guard's.
		const allowed = await new WebhookSender(new AddressGuard(["rebind.example.com"], rebinding), { timeoutMs: 2000, maxResponseBytes: 1024 }).send(endpoint.url, {}, "{}");
		expect(allowed).toMatchObject({ ok: true, status: 200 });
	});

	it("keeps secrets sealed at rest: the stored endpoint holds no secret, and only the key opens it", async () => {
		const store = await memoryStore<EndpointDoc>("sealed-endpoints");
		const endpoints = new Endpoints(store, new AddressGuard(["127.0.0.1"]), { requireHttps: false, secretKey: KEY });
		const { endpoint, secret } = await endpoints.create({ url: receiver.url, eventTypes: ["order.placed"] });
		const stored = JSON.stringify(await store.findById(endpoint._id));
		expect(stored).not.toContain(secret);
		expect(stored).not.toContain(secret.slice("whsec_".length));
		expect(endpoints.secretOf((await store.findById(endpoint._id))!)).toBe(secret);
		const otherKey = Buffer.alloc(32, 7);
		expect(() => decrypt(otherKey, endpoint.secretSealed)).toThrow();
		const sealed = encrypt(KEY, "plain");
		expect(() => decrypt(KEY, sealed.slice(0, -4) + "AAAA")).toThrow();
		const rotated = await endpoints.rotate(endpoint._id);
		expect(rotated!.secret).not.toBe(secret);
		expect(endpoints.secretOf(rotated!.endpoint)).toBe(rotated!.secret);
	});
});
