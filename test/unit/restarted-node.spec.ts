import { ServiceBroker } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import { parseSettings } from "../../lib/infra/settings";

interface RegistryView {
	nodes: {
		processNodeInfo(payload: object): { lastHeartbeatTime: number; available: boolean };
		get(id: string): { lastHeartbeatTime: number; available: boolean } | undefined;
	};
	discoverer: { checkRemoteNodes(): void };
	hasService(name: string): boolean;
}

/** The INFO a products node sends when it starts; each start is a new instance. */
const productsInfo = (instanceID: string) => ({
	sender: "shop-products",
	instanceID,
	seq: 1,
	ipList: ["10.0.0.2"],
	hostname: "products",
	client: { type: "nodejs", version: "0.14.36", langVersion: process.version },
	config: {},
	metadata: {},
	services: [{ name: "products", fullName: "products", settings: {}, metadata: {}, actions: { "products.get": { name: "products.get", rawName: "get" } }, events: {} }],
});

/**
 * A node killed without a word (SIGKILL, a crashed container) and started
 * again under the same node ID, as a container keeps its hostname, before
 * the others noticed it die: its new instance must not be dropped as the
 * dead one at the next heartbeat check (calls to it would answer 503).
 */
describe("a node restarted under the same node ID", () => {
	const HEARTBEAT_TIMEOUT_S = 8;
	let broker: ServiceBroker;
	let registry: RegistryView;
	// Moleculer keeps heartbeat times in whole seconds of process.uptime(), and 0 means "none yet": a fixed clock keeps the test off that edge.
	const NOW_S = 1000;

	beforeEach(() => {
		jest.spyOn(process, "uptime").mockReturnValue(NOW_S);
		broker = new ServiceBroker({ ...brokerOptions(parseSettings({ LOG_LEVEL: "silent" })), nodeID: "shop-gateway", heartbeatTimeout: HEARTBEAT_TIMEOUT_S });
		registry = broker.registry as unknown as RegistryView;
	});
	afterEach(async () => {
		await broker.stop();
		jest.restoreAllMocks();
	});

	it("stays in the registry at the next heartbeat check: its INFO is a sign of life", () => {
		registry.nodes.processNodeInfo(productsInfo("first"));
		// The first instance's last heartbeat is older than the timeout: it died, and the check has not run yet.
		registry.nodes.get("shop-products")!.lastHeartbeatTime = NOW_S - HEARTBEAT_TIMEOUT_S - 2;
		registry.nodes.processNodeInfo(productsInfo("second"));
		registry.discoverer.checkRemoteNodes();
		expect(registry.nodes.get("shop-products")!.available).toBe(true);
		expect(registry.hasService("products")).toBe(true);
	});

	it("is dropped once its new instance misses its own heartbeats", () => {
		registry.nodes.processNodeInfo(productsInfo("first"));
		registry.nodes.processNodeInfo(productsInfo("second"));
		registry.nodes.get("shop-products")!.lastHeartbeatTime = NOW_S - HEARTBEAT_TIMEOUT_S - 2;
		registry.discoverer.checkRemoteNodes();
		expect(registry.nodes.get("shop-products")!.available).toBe(false);
		expect(registry.hasService("products")).toBe(false);
	});
});
