/**
 * moleculer-runner with one change: the broker options come only from
 * moleculer.config.ts. Stock moleculer-runner overwrites any option whose
 * upper-cased name is an environment variable, so `TRANSPORTER=amqp://…`
 * would replace the tuned AMQP transporter with an untuned one.
 */
import path from "path";
import { Runner as MoleculerRunner } from "moleculer";

class Runner extends (MoleculerRunner as unknown as new () => { start(args: string[]): Promise<unknown> }) {
	overwriteFromEnv(obj: unknown) {
		return obj;
	}
}

const root = path.resolve(__dirname, "..");
const args = [...process.argv];
// `npm run repl` inside a cluster (TRANSPORTER set, no SERVICES) is a console node: it runs no services of its own.
const consoleNode = args.includes("--repl") && !!process.env.TRANSPORTER && !process.env.SERVICES;
if (!consoleNode) process.env.SERVICEDIR ||= path.join(root, "services");
if (!args.includes("--config") && !args.includes("-c")) args.push("--config", path.join(root, "moleculer.config.js"));

new Runner().start(args);
