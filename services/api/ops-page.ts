import fs from "fs";
import type { IncomingMessage, ServerResponse } from "http";
import path from "path";
import type { Context } from "moleculer";
import type { Server as SocketIOServer } from "socket.io";
import type { Dependencies } from "../../lib/contracts/health-report";
import { dependencyStates } from "../../lib/infra/dependencies";
import type { GatewaySettings } from "../../lib/infra/settings";
import { contentSecurityPolicy, fileOnDisk, findUp, sendStaticFile, type StaticFile } from "../../lib/infra/static-files";
import { registryOf } from "../../lib/infra/registry";
import { defineMixin, state } from "../../lib/contracts/types";

/**
 * The live operations page for the gateway (api service): the static page
 * in public/ at `/`, the few browser files it needs from node_modules under
 * `/vendor/`, the `api.cluster` action, and a `cluster.changed` push to
 * admins whenever a node joins, changes or leaves.
 *
 * Mixed into services/api.service.ts after moleculer-web and moleculer-io.
 */

/** The only node_modules files the browser may fetch, by the path it asks for. */
const VENDOR_FILES: Readonly<Record<string, string>> = {
	"/vendor/uPlot.esm.js": "uplot/dist/uPlot.esm.js",
	"/vendor/uPlot.min.css": "uplot/dist/uPlot.min.css",
};
const NODE_UPTIME_TIMEOUT_MS = 1000;

interface RegistryNode {
	id: string;
	hostname?: string;
	local: boolean;
	available?: boolean;
	/** Moleculer's: this process's uptime (s) when the node went offline. */
	offlineSince?: number | null;
	cpu?: number | null;
	services?: Array<{ name: string; fullName?: string }>;
}

export interface ClusterNode {
	id: string;
	hostname: string | null;
	local: boolean;
	/** False once the node left or stopped answering heartbeats: it stays listed, offline, until Moleculer forgets it (10 minutes). */
	available: boolean;
	/** When it went offline (ISO), or null. */
	offlineSince: string | null;
	cpu: number | null;
	services: string[];
	uptimeSeconds: number | null;
}

export interface ClusterView {
	nodes: ClusterNode[];
	/** As this gateway node sees them. */
	dependencies: Dependencies;
	checkedAt: string;
}

/** Every file under `dir`, by its URL path below `prefix`. */
function filesUnder(dir: string, prefix: string): Array<[string, string]> {
	return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry): Array<[string, string]> => {
		const full = path.join(dir, entry.name);
		if (entry.isDirectory()) return filesUnder(full, `${prefix}${entry.name}/`);
		return entry.isFile() ? [[`${prefix}${entry.name}`, full]] : [];
	});
}

/**
 * The page's files and the vendor files, read once at start: only these
 * paths are served, so nothing else on disk (node_modules least of all) can be reached.
 */
function loadPageFiles(): Map<string, StaticFile> {
	const publicDir = path.dirname(findUp("public/index.html"));
	const files = new Map<string, StaticFile>();
	// public/api-docs/ is the API documentation's, served under /api/docs (./docs.ts).
	for (const [urlPath, file] of filesUnder(publicDir, "/")) if (!urlPath.startsWith("/api-docs/")) files.set(urlPath, fileOnDisk(file));
	for (const [urlPath, module] of Object.entries(VENDOR_FILES)) files.set(urlPath, fileOnDisk(require.resolve(module)));
	files.set("/", files.get("/index.html")!);
	return files;
}

/**
 * A catch-all route for the page: moleculer-web sorts it after /api, serves
 * a known file from its middleware, and answers anything else with its JSON
 * 404 (the route maps to no action). Not `settings.assets`: moleculer-web
 * hands it requests that a restricted route such as /api left unmatched, with
 * the route's prefix cut off, so `/api/index.html` would have served the page.
 */
function pageRoute(files: Map<string, StaticFile>, csp: string): object {
	return {
		name: "ops-page",
		path: "/",
		mappingPolicy: "restrict",
		autoAliases: false,
		whitelist: [],
		authentication: false,
		authorization: false,
		use: [
			(req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: () => void) => {
				const file = req.method === "GET" || req.method === "HEAD" ? files.get((req.originalUrl ?? req.url ?? "").split("?")[0]) : undefined;
				if (file) sendStaticFile(req, res, file, { csp });
				else next();
			},
		],
	};
}

function serviceNames(node: RegistryNode): string[] {
	const names = (node.services ?? []).map(s => s.fullName ?? s.name).filter(name => typeof name === "string" && !name.startsWith("$"));
	return [...new Set(names)].sort();
}

/** Moleculer notes when a node went offline as this process's uptime then: as a time. */
function offlineAt(uptimeThen: number | null | undefined): string | null {
	if (typeof uptimeThen !== "number") return null;
	return new Date(Date.now() - (process.uptime() - uptimeThen) * 1000).toISOString();
}

const OpsPageMixin = defineMixin({
	// moleculer-web supplies addRoute; moleculer-io the server.
	needs: state<{ io?: SocketIOServer | null; addRoute(opts: object, toBottom?: boolean): unknown }>(),
	/** lastServices: what each node ran when last seen with services (a node that stops gracefully announces none before it leaves). */
	state: state<{ pageFiles: Map<string, StaticFile>; lastServices: Map<string, string[]> }>(),

	actions: {
		/** Every node, offline ones too, the services it runs and its uptime; admins only (lib/contracts/routes.ts). */
		cluster: {
			async handler(ctx: Context): Promise<ClusterView> {
				const nodes = await ctx.call<RegistryNode[], object>("$node.list", { onlyAvailable: false, withServices: true });
				// Moleculer forgets an offline node after a while: so does this list.
				for (const id of this.lastServices.keys()) if (!nodes.some(n => n.id === id)) this.lastServices.delete(id);
				return {
					nodes: await Promise.all(nodes.map(node => this.describeNode(ctx, node))),
					dependencies: dependencyStates(this.broker),
					checkedAt: new Date().toISOString(),
				};
			},
		},
	},

	events: {
		"$node.connected"(ctx: Context<{ node?: RegistryNode }>) {
			this.rememberServices(ctx.params?.node);
			this.announceClusterChange();
		},
		// A node whose services change (one started or stopped) sends a new INFO.
		"$node.updated"(ctx: Context<{ node?: RegistryNode }>) {
			this.rememberServices(ctx.params?.node);
			this.announceClusterChange();
		},
		"$node.disconnected"() {
			this.announceClusterChange();
		},
	},

	methods: {
		rememberServices(node: RegistryNode | undefined): void {
			const names = node?.id ? serviceNames(node) : [];
			if (names.length) this.lastServices.set(node!.id, names);
			// Bounded by the registry: a node Moleculer has forgotten (restarted under a new id, say) is forgotten here too.
			const known = registryOf(this.broker).nodes;
			for (const id of this.lastServices.keys()) if (!known.get(id)) this.lastServices.delete(id);
		},

		async describeNode(ctx: Context, node: RegistryNode): Promise<ClusterNode> {
			const available = node.available !== false;
			const known = serviceNames(node);
			this.rememberServices(node);
			return {
				id: node.id,
				hostname: node.hostname ?? null,
				local: node.local,
				available,
				offlineSince: available ? null : offlineAt(node.offlineSince),
				cpu: available && typeof node.cpu === "number" ? node.cpu : null,
				services: known.length || available ? known : (this.lastServices.get(node.id) ?? []),
				uptimeSeconds: available ? await this.nodeUptime(ctx, node.id) : null,
			};
		},

		/** The node's process uptime, or null when it does not answer in time. */
		async nodeUptime(ctx: Context, nodeID: string): Promise<number | null> {
			try {
				const health = await ctx.call<{ process: { uptime: number } }, object>("$node.health", {}, { nodeID, timeout: NODE_UPTIME_TIMEOUT_MS, retries: 0 });
				return Math.round(health.process.uptime);
			} catch {
				return null;
			}
		},

		/**
		 * Every gateway node sees every node change itself, so each tells only
		 * its own sockets (`local`): with the Redis adapter an admin would
		 * otherwise get one copy per gateway.
		 */
		announceClusterChange() {
			this.io?.local.to("admins").emit("cluster.changed", { at: new Date().toISOString() });
		},
	},

	created() {
		this.pageFiles = loadPageFiles();
		this.lastServices = new Map();
	},

	started() {
		// Added here, not in settings.routes: mixins merge route arrays index by index.
		const gateway = (this.settings as { gateway?: Partial<GatewaySettings> }).gateway;
		this.addRoute(pageRoute(this.pageFiles, contentSecurityPolicy(gateway?.imageOrigins ?? [])));
	},
});

export default OpsPageMixin;
