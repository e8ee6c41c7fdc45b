import fs from "fs";
import path from "path";
import type { Middleware, Service, ServiceBroker } from "moleculer";
import { defineMiddleware } from "../lib/contracts/schema";

/** The project's own files: what is not under node_modules, in the project's folder. */
const ROOT = path.resolve(__dirname, "..");
const isProjectFile = (file: string) => file.startsWith(ROOT + path.sep) && !file.includes(`${path.sep}node_modules${path.sep}`);

/** Changes closer together than this are one change (an editor's save fires several events). */
const SETTLE_MS = 300;

/**
 * `npm run dev`'s hot reload, in place of Moleculer's. Moleculer's watches
 * the files of the services that are loaded: after a syntax error, the
 * services that failed to load (customers, and the gateway, which loads
 * customers' schema through services/api/routed-services.ts) are no longer
 * loaded, so mending the file brought back only the service whose own file
 * it was, and the gateway stayed down until a restart. It also watched each
 * file, and an editor that saves by renaming over the file left it
 * watching the old one.
 *
 * Here each service file keeps the project files it loaded the last time
 * it loaded, failed loads included, and their folders are watched; a
 * change reloads every service file whose files include the changed one,
 * as soon as it compiles, however many tries that takes.
 */
export function HotReloadMiddleware(): Middleware {
	let broker: ServiceBroker;
	/** Per service file, the project files it loaded last time it did (itself included). */
	const trees = new Map<string, Set<string>>();
	/** Per project file, the project files it requires. */
	const imports = new Map<string, Set<string>>();
	const watchers = new Map<string, fs.FSWatcher>();
	const changed = new Set<string>();
	let settle: NodeJS.Timeout | undefined;
	let reloading = Promise.resolve();

	/** The service file's project files, from the module tree Node keeps. */
	function record(file: string): void {
		const tree = new Set<string>();
		const visit = (mod: NodeJS.Module | undefined) => {
			if (!mod || tree.has(mod.filename) || !isProjectFile(mod.filename)) return;
			tree.add(mod.filename);
			imports.set(mod.filename, new Set(mod.children.map(c => c.filename).filter(isProjectFile)));
			mod.children.forEach(visit);
		};
		visit(require.cache[file]);
		if (tree.size) trees.set(file, tree);
		for (const f of tree) watch(path.dirname(f));
	}

	function watch(dir: string): void {
		if (watchers.has(dir)) return;
		// The folder, not the file: a save that renames a new file over the old one is seen too.
		const watcher = fs.watch(dir, (_event, name) => name && noticed(path.join(dir, name.toString())));
		watcher.on("error", () => undefined);
		watchers.set(dir, watcher);
	}

	function noticed(file: string): void {
		if (![...trees.values()].some(tree => tree.has(file))) return;
		changed.add(file);
		clearTimeout(settle);
		settle = setTimeout(() => {
			reloading = reloading.then(reload).catch((err: Error) => broker.logger.error("Hot reload failed:", err));
		}, SETTLE_MS);
	}

	/** The modules that must be read again: the changed ones and every project module that requires one of them. */
	function stale(files: Set<string>): Set<string> {
		const out = new Set(files);
		for (let grew = true; grew;) {
			grew = false;
			for (const [file, deps] of imports)
				if (!out.has(file) && [...deps].some(d => out.has(d))) {
					out.add(file);
					grew = true;
				}
		}
		return out;
	}

	async function reload(): Promise<void> {
		const files = new Set(changed);
		changed.clear();
		const affected = [...trees].filter(([, tree]) => [...files].some(f => tree.has(f))).map(([file]) => file);
		if (!affected.length) return;
		for (const file of stale(files)) delete require.cache[file];
		broker.logger.info(`Changed: ${[...files].map(f => path.relative(ROOT, f)).join(", ")}; reloading ${affected.map(f => path.basename(f)).join(", ")}`);
		for (const file of affected) for (const svc of broker.services.filter(s => (s as Service & { __filename?: string }).__filename === file)) await broker.destroyService(svc);
		for (const file of affected) {
			try {
				broker.loadService(file);
			} catch (err) {
				// Node has dropped the modules that failed; the ones read before the error stay, so they are dropped too for the next try.
				for (const f of stale(files)) delete require.cache[f];
				broker.logger.error(`Failed to load service '${path.relative(ROOT, file)}'; it loads again once its files compile:`, (err as Error).message);
			}
		}
	}

	return defineMiddleware({
		name: "HotReload",
		created(b: ServiceBroker) {
			broker = b;
		},
		started() {
			for (const svc of broker.services) {
				const file = (svc as Service & { __filename?: string }).__filename;
				if (file) record(file);
			}
		},
		serviceStarted(svc: Service & { __filename?: string }) {
			if (svc.__filename && broker.started) record(svc.__filename);
		},
		stopped() {
			clearTimeout(settle);
			for (const watcher of watchers.values()) watcher.close();
			watchers.clear();
		},
	});
}
