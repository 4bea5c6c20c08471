/**
 * Shared by the benchmarks: CPU accounting from Linux /proc (CPU per request of the serving process
 * and of the database process, so a generator-bound figure can be told from a server-bound one),
 * percentiles, and the arguments that start bench servers.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

const CLOCK_TICKS = (() => {
	try {
		return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
	} catch {
		return 100;
	}
})();

/** User + system CPU seconds of a process, or null where /proc is not available. */
export function processCpuSeconds(pid: number | undefined): number | null {
	if (pid === undefined) return null;
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
	} catch {
		return null;
	}
}

/** The p-th percentile (0–100, nearest rank) of `values` (sorted here), NaN when empty. */
export function percentile(values: ArrayLike<number>, p: number): number {
	if (values.length === 0) return Number.NaN;
	const sorted = Float64Array.from(values).sort();
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** The workerd process Miniflare spawned (a direct child of this process). */
export function findWorkerdPid(): number | undefined {
	try {
		for (const entry of readdirSync("/proc")) {
			if (!/^\d+$/.test(entry)) continue;
			try {
				const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
				const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
				const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
				if (comm === "workerd" && ppid === process.pid) return Number(entry);
			} catch {
				// the process went away meanwhile
			}
		}
	} catch {
		// not Linux
	}
	return undefined;
}

/**
 * The arguments that start a bench server script under tsx, with BENCH_CHILD_NODE_ARGS (extra Node
 * flags for the servers only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) in front.
 */
export function tsxChildArgs(script: string): string[] {
	const extra = process.env.BENCH_CHILD_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
	return [...extra, "--import", "tsx", script];
}
