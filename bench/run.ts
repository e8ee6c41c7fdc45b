/**
 * Load benchmarks of the shop against its performance budget
 * (docs/design.md, "Performance budget"): each figure measured in
 * interleaved rounds beside what it is compared with, the medians, ratios
 * and targets printed in one table, which is appended to bench/RESULTS.md.
 *
 *   npm run bench                     # read, peer, orders, growth, foreign-keys
 *   npm run bench -- read peer        # some of them (see SCENARIOS)
 *   BENCH_DURATION=10 BENCH_ROUNDS=5 npm run bench -- orders
 *
 * The load generator (autocannon) runs in this process; every system under
 * test runs in child processes as `npm run serve` would start it, and is
 * stopped (its cluster namespace deleted) at the end of its scenario, also
 * on failure or Ctrl-C.
 */
import { performance } from "perf_hooks";
import { closeClient } from "./client";
import { settings } from "./config";
import { sum } from "./load";
import { cleanUp, LOG_DIR, problems } from "./procs";
import { appendResults, failures, fmt, summary } from "./report";
import { foreignKeysScenario } from "./scenarios/foreign-keys";
import { growthScenario } from "./scenarios/growth";
import { hostileScenario } from "./scenarios/hostile";
import { syncScenario } from "./scenarios/sync";
import { stormScenario } from "./scenarios/storm";
import { checkoutScenario } from "./scenarios/checkout";
import { notifyScenario } from "./scenarios/notify";
import { ordersScenario } from "./scenarios/orders";
import { readScenario } from "./scenarios/read";
import fs from "fs";
import path from "path";

const SCENARIOS: Record<string, string> = {
	read: "P1: cached GET /api/products/:id, embedded and cluster, against bare node:http",
	peer: "P1-peer: the same read through an Express gateway proxying with axios to an Express service",
	orders: "P2: POST /api/orders, 50 connections, embedded and one process per service; with P3",
	growth: "orders stored 0 / 10,000 / 50,000: memory, order list pages, restart time",
	hostile: "RSS of the embedded default before and after 1,000 bodies hiding a deep value behind __proto__",
	sync: "P2 on the embedded default with writes answered once synced (STORE_SYNC=on) and before (off)",
	notify: "P2 on the embedded default with three webhook endpoints and mail, beside it without notifications; the delivery lag's p99",
	"foreign-keys": "POST /api/orders on the cluster with and without 500,000 foreign keys in its Redis database",
	storm: "503 share of reads and orders while products is killed and restarted under fresh node ids, heartbeats only vs the dead-node probe",
	checkout: "cart, checkout (and manual payment) on the embedded default, beside P2 in the same rounds",
};
/** Other names accepted for a scenario. */
const ALIASES: Record<string, string> = { p1: "read", "p1-peer": "peer", p2: "orders", p3: "orders", realtime: "orders" };

function usage(): string {
	return `scenarios: ${Object.entries(SCENARIOS)
		.map(([k, v]) => `\n  ${k.padEnd(8)} ${v}`)
		.join("")}\n(also: ${Object.entries(ALIASES)
		.map(([a, k]) => `${a} = ${k}`)
		.join(", ")})`;
}

let interrupted = false;

async function main(): Promise<number> {
	const args = process.argv.slice(2);
	if (args.includes("--help") || args.includes("-h")) {
		console.log(`npm run bench [-- scenario ...]\n${usage()}`);
		return 0;
	}
	const unknown = args.filter(a => !SCENARIOS[a] && !ALIASES[a]);
	if (unknown.length) {
		console.error(`unknown scenario ${unknown.join(", ")}; ${usage()}`);
		return 2;
	}
	const wanted = new Set(args.length ? args.map(a => ALIASES[a] ?? a) : Object.keys(SCENARIOS));
	const started = performance.now();
	console.log(
		`${[...wanted].join(", ")}: ${settings.rounds} interleaved rounds of ${settings.duration} s after a ${settings.warmup} s warm-up, ${settings.connections} connections; child logs in ${LOG_DIR}\n`,
	);

	const plan: Array<[string, () => Promise<void>]> = [];
	if (wanted.has("read") || wanted.has("peer")) plan.push([["read", "peer"].filter(s => wanted.has(s)).join(" + "), () => readScenario({ read: wanted.has("read"), peer: wanted.has("peer") })]);
	if (wanted.has("orders")) plan.push(["orders", ordersScenario]);
	if (wanted.has("growth")) plan.push(["growth", growthScenario]);
	if (wanted.has("hostile")) plan.push(["hostile", hostileScenario]);
	if (wanted.has("sync")) plan.push(["sync", syncScenario]);
	if (wanted.has("notify")) plan.push(["notify", notifyScenario]);
	if (wanted.has("foreign-keys")) plan.push(["foreign-keys", foreignKeysScenario]);
	if (wanted.has("storm")) plan.push(["storm", stormScenario]);
	if (wanted.has("checkout")) plan.push(["checkout", checkoutScenario]);

	for (const [name, run] of plan) {
		if (interrupted) break;
		const t0 = performance.now();
		console.log(`${name}:`);
		try {
			await run();
		} catch (err) {
			failures.push(`${name}: ${(err as Error).message.split("\n")[0]}`);
			console.error(`${name} failed:`, err);
		} finally {
			// Whatever the scenario left (a failure half-way through a start): nothing carries over to the next.
			await cleanUp();
		}
		console.log(`  (${name}: ${fmt((performance.now() - t0) / 1000)} s)\n`);
	}
	closeClient();

	const wall = (performance.now() - started) / 1000;
	const text = summary(args, wall);
	console.log(text);
	const file = interrupted ? null : appendResults(text);
	if (file) console.log(`\nappended to ${path.relative(process.cwd(), file) || file}`);
	reportProblems();
	return failures.length ? 1 : 0;
}

/** Warnings and errors the nodes logged, per log file: the system's own complaints under load. */
function reportProblems(): void {
	const lines: string[] = [];
	for (const file of fs.readdirSync(LOG_DIR).sort()) {
		const found = problems(path.join(LOG_DIR, file));
		if (!found.length) continue;
		lines.push(`  ${file}: ${sum(found.map(f => f.count))} warning/error lines`);
		for (const f of found.slice(0, 3)) lines.push(`    ${String(f.count).padStart(6)} × ${f.message}`);
	}
	console.log(lines.length ? `\nthe nodes logged:\n${lines.join("\n")}\n(full logs in ${LOG_DIR})` : `\nno warnings or errors in the nodes' logs (${LOG_DIR})`);
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
	process.once(signal, () => {
		interrupted = true;
		console.error(`\n${signal}: stopping every child process and deleting the namespaces...`);
		void cleanUp().finally(() => process.exit(130));
	});
}

void main()
	.then(code => cleanUp().then(() => process.exit(code)))
	.catch(err => {
		console.error(err);
		return cleanUp().finally(() => process.exit(1));
	});
