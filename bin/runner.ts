/**
 * moleculer-runner, with the node's settings from lib/infra/settings.ts:
 * - `.env` in the working directory is loaded first; the environment wins over it;
 * - the broker options come from moleculer.config.ts, and of the
 *   environment overrides moleculer-runner knows only `MOL_*` ones apply
 *   (stock moleculer-runner also overwrites any option whose upper-cased
 *   name is a variable, so `TRANSPORTER=amqp://…` replaced the tuned AMQP
 *   transporter), and never to the transporter;
 * - SERVICES names services (`products,orders`), not folders: the service
 *   files sit beside folders of the same name (services/products/).
 */
import type { AddressInfo } from "net";
import os from "os";
import path from "path";
import _ from "lodash";
import { Runner as MoleculerRunner, type ServiceBroker } from "moleculer";
import type * as SettingsModule from "../lib/infra/settings";
import { lockHolder, recordApi } from "../lib/db/data-dir-lock";
import { loadDotEnv } from "./lib/processes";
import { BACKEND_SERVICES } from "../lib/contracts/services";
import { DEFAULT_DATA_DIR } from "../lib/infra/env-defaults";

type Options = Record<string, unknown>;

// Moleculer's typings leave the runner's start and overwriteFromEnv out.
class Runner extends (MoleculerRunner as unknown as new () => { start(args: string[]): Promise<unknown>; overwriteFromEnv(obj: Options, prefix?: string): Options }) {
	overwriteFromEnv(obj: Options): Options {
		// With no keys of its own to look at, moleculer-runner reads only the MOL_* variables.
		const overrides = super.overwriteFromEnv({});
		delete overrides.transporter;
		return _.merge(obj, overrides);
	}
}

/** The settings, or a clear message and exit code 1. */
function loadSettings(): typeof SettingsModule {
	try {
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		return require("../lib/infra/settings") as typeof SettingsModule;
	} catch (err) {
		if ((err as Error).name === "SettingsError") {
			console.error((err as Error).message);
			process.exit(1);
		}
		throw err;
	}
}

/**
 * `npm run repl` on the embedded default (not `npm run dev`) runs the services without a
 * gateway (a REPL needs no HTTP port, and `npm start` may hold it), and
 * never on the data directory a running node holds: it then works on an
 * empty in-memory store and says so.
 */
function prepareEmbeddedRepl(): void {
	if (!process.argv.includes("--repl") || process.argv.includes("--hot") || process.env.TRANSPORTER || process.env.TRANSPORTER_FILE) return;
	process.env.SERVICES ||= BACKEND_SERVICES.join(",");
	const dataDir = process.env.DATA_DIR || DEFAULT_DATA_DIR;
	const holder = dataDir === ":memory:" ? undefined : lockHolder(dataDir);
	if (holder === undefined) return;
	console.warn(
		`A node (pid ${holder}) is running on ${dataDir}: this REPL starts its own services on an empty in-memory store. To work with that node's data, run both in one cluster (TRANSPORTER=amqp://…, see the README), or stop it first.`,
	);
	process.env.DATA_DIR = ":memory:";
}

/** A console node of a cluster runs no services: its name says so in `nodes`. */
function nameConsoleNode(): void {
	if (process.argv.includes("--repl") && (process.env.TRANSPORTER || process.env.TRANSPORTER_FILE) && !process.env.SERVICES)
		process.env.NODE_ID ||= `${os.hostname().toLowerCase()}-repl-${process.pid}`;
}

loadDotEnv();
prepareEmbeddedRepl();
nameConsoleNode();
const { settings } = loadSettings();
const codeRoot = path.resolve(__dirname, "..");
const ext = path.extname(__filename);
const args = [...process.argv];
// `npm run repl` inside a cluster (a transporter, no SERVICES) is a console node: it runs no services of its own.
const consoleNode = args.includes("--repl") && !!settings.transporter && !process.env.SERVICES;
process.env.SERVICES = consoleNode ? "" : settings.services.map(name => path.join(codeRoot, "services", `${name}.service${ext}`)).join(",");
if (!args.includes("--config") && !args.includes("-c")) args.push("--config", path.join(codeRoot, `moleculer.config${ext}`));

/**
 * The node holding its data directory says in the lock where its gateway
 * answers, once it listens: the seed sends the admin's credentials there,
 * never to whatever answers on PORT.
 */
function recordGateway(broker: unknown, s: SettingsModule.Settings): void {
	// Moleculer's typings leave moleculer-web's HTTP server off the service.
	const api = (broker as ServiceBroker | undefined)?.getLocalService("api") as unknown as { server?: { address(): AddressInfo | string | null } } | undefined;
	const address = api?.server?.address();
	if (!address || typeof address === "string" || s.storage.mongoUri || s.storage.dataDir === ":memory:") return;
	const host = ["0.0.0.0", "::"].includes(s.gateway.host) ? "127.0.0.1" : s.gateway.host;
	recordApi(s.storage.dataDir, `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`);
}

void new Runner().start(args).then(broker => recordGateway(broker, settings));
