/** The one table every run prints, and its record in bench/RESULTS.md. */
import { execFileSync } from "child_process";
import fs from "fs";
import os from "os";
import { settings } from "./config";

export interface Target {
	text: string;
	met: boolean | null;
}

export interface Row {
	scenario: string;
	figure: string;
	system: string;
	/** One value per round (or per sample), as measured. */
	values: number[];
	/** The figure: the median of `values` unless said otherwise. */
	value: number;
	decimals?: number;
	ratio?: string;
	target?: Target;
	notes?: string;
}

export const rows: Row[] = [];
/** The machine's load when the benchmark started: other work skews every figure. */
const startLoad = os
	.loadavg()
	.map(l => l.toFixed(2))
	.join(" ");
export const failures: string[] = [];

export function fmt(n: number, decimals = 0): string {
	if (!Number.isFinite(n)) return "n/a";
	return n.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

export function atLeast(value: number, min: number, text: string): Target {
	return { text, met: Number.isFinite(value) ? value >= min : null };
}

export function below(value: number, max: number, text: string): Target {
	return { text, met: Number.isFinite(value) ? value < max : null };
}

export function atMost(value: number, max: number, text: string): Target {
	return { text, met: Number.isFinite(value) ? value <= max : null };
}

function targetCell(t?: Target): string {
	if (!t) return "";
	return `${t.text}: ${t.met === null ? "n/a" : t.met ? "met" : "NOT met"}`;
}

export function table(): string {
	const header = ["scenario", "figure", "system", settings.rounds > 1 ? "rounds / samples" : "runs", "median", "ratio", "target", "notes"];
	const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
	for (const r of rows) {
		const d = r.decimals ?? 0;
		const cells = [r.scenario, r.figure, r.system, r.values.map(v => fmt(v, d)).join(" · "), r.values.length ? fmt(r.value, d) : "", r.ratio ?? "", targetCell(r.target), r.notes ?? ""];
		lines.push(`| ${cells.map(c => c.replace(/\|/g, "\\|")).join(" | ")} |`);
	}
	return lines.join("\n");
}

/** How this run was started, to be run again: the BENCH_* variables set and the scenarios named. */
export function commandLine(args: string[]): string {
	const vars = Object.entries(process.env)
		.filter(([k]) => k.startsWith("BENCH_") && k !== "BENCH_RESULTS")
		.map(([k, v]) => `${k}=${v}`)
		.sort();
	const cmd = process.env.npm_lifecycle_event === "bench" ? `npm run bench${args.length ? ` -- ${args.join(" ")}` : ""}` : `node dist/bench/run.js${args.length ? ` ${args.join(" ")}` : ""}`;
	return [...vars, cmd].join(" ");
}

export function summary(args: string[], wallSeconds: number): string {
	const lines = [
		`## ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}`,
		"",
		`- nproc: ${nproc()}, Node ${process.version}, ${os.cpus()[0]?.model?.trim() ?? "cpu unknown"}, load average before the run: ${startLoad}`,
		`- command: \`${commandLine(args)}\``,
		`- ${settings.duration} s per run after a ${settings.warmup} s warm-up, ${settings.rounds} interleaved rounds, ${settings.connections} connections; wall time ${fmt(wallSeconds)} s`,
		"",
		table(),
	];
	if (failures.length) lines.push("", ...failures.map(f => `- FAILED: ${f}`));
	return lines.join("\n");
}

function nproc(): string {
	try {
		return execFileSync("nproc", { encoding: "utf8" }).trim();
	} catch {
		return `${os.availableParallelism()} (os.availableParallelism)`;
	}
}

export function appendResults(text: string): string | null {
	if (!settings.resultsFile) return null;
	fs.appendFileSync(settings.resultsFile, `\n${text}\n`);
	return settings.resultsFile;
}
