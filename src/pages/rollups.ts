import {
	HISTOGRAM_BUCKETS_PER_DOUBLING,
	type Histogram,
	HistogramSum,
	HOUR_MS,
	histogramIndex,
	MINUTE_MS,
} from "../ingest/rollups.js";
import type { PageResult } from "./backend.js";
import { ERROR_RULES, type Statement, timeValue } from "./store.js";
import type { PageWindow } from "./window.js";

/**
 * Reading the rollups (src/ingest/rollups.ts) for a window: whole hours from `*_rollups_1h`, the
 * whole minutes around them from `*_rollups_1m`, and the partial minutes at both edges from the raw
 * rows — so an answer over any window equals the answer over the raw rows (exactly for counts, sums,
 * minima, maxima and last-seen times; percentiles within the histogram's bound). Plain SQL with
 * bound parameters: it runs on any connection. ClickHouse has the same tables, kept by materialized
 * views (clickhouse/migrations/0004_rollups.sql), where a key may have several rows until parts
 * merge — every reader here aggregates anyway; its latency histogram is a Map, summed per bucket in
 * the engine (`PageSql.latencyRollupRows`). Without rollups (`PageSql.rollups` false) the raw rows
 * answer the whole window, with the same columns.
 */

/** `operations`: spans per operation (the latency rollup, `span_latency_*`): fewer keys, with errors. */
export type RollupSource = "spans" | "operations" | "logs" | "metrics";

/** `[fromMs, toMs)` */
export type Range = readonly [number, number];

export interface WindowParts {
	/** Partial minutes at the edges: raw rows. */
	raw: Range[];
	minutes: Range[];
	hours: Range[];
}

const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit;
const ceilTo = (ms: number, unit: number) => Math.ceil(ms / unit) * unit;

/** The window as the engine answers it: pieces from the rollups, or all of it from raw rows. */
function windowParts(statement: Statement, window: PageWindow): WindowParts {
	return statement.sql.rollups
		? splitWindow(window)
		: { raw: [[window.fromMs, window.toMs]], minutes: [], hours: [] };
}

export function splitWindow(window: PageWindow): WindowParts {
	const { fromMs, toMs } = window;
	const minuteFrom = ceilTo(fromMs, MINUTE_MS);
	const minuteTo = floorTo(toMs, MINUTE_MS);
	if (minuteFrom >= minuteTo) return { raw: [[fromMs, toMs]], minutes: [], hours: [] };
	const raw: Range[] = [];
	if (fromMs < minuteFrom) raw.push([fromMs, minuteFrom]);
	if (minuteTo < toMs) raw.push([minuteTo, toMs]);
	const hourFrom = ceilTo(minuteFrom, HOUR_MS);
	const hourTo = floorTo(minuteTo, HOUR_MS);
	if (hourFrom >= hourTo) return { raw, minutes: [[minuteFrom, minuteTo]], hours: [] };
	const minutes: Range[] = [];
	if (minuteFrom < hourFrom) minutes.push([minuteFrom, hourFrom]);
	if (hourTo < minuteTo) minutes.push([hourTo, minuteTo]);
	return { raw, minutes, hours: [[hourFrom, hourTo]] };
}

const RAW_TABLE = { spans: "spans", operations: "spans", logs: "logs", metrics: "metric_points" } as const;
const ROLLUP_TABLE = {
	spans: "span_rollups",
	operations: "span_latency",
	logs: "log_rollups",
	metrics: "metric_rollups",
} as const;

/** What the latency rollup (`span_latency_*`) is keyed by: an operation. */
export const LATENCY_DIMENSIONS = ["service", "name", "kind", "is_root"] as const;

/** The key columns of each source's rollup, named as in the raw table (`is_root` is derived there). */
export const ROLLUP_DIMENSIONS = {
	spans: ["service", "host", "name", "kind", "is_root", "status_code"],
	operations: LATENCY_DIMENSIONS,
	logs: ["service", "host", "level"],
	metrics: ["host", "service", "metric_name"],
} as const;

export type RollupDimension = (typeof ROLLUP_DIMENSIONS)[RollupSource][number];

/**
 * A condition on the dimensions, the same SQL on raw rows and rollups; `isRoot` is the expression
 * for `is_root` (a column of the rollup, `parent_span_id IS NULL` on raw spans).
 */
export type DimensionFilter = (isRoot: string) => string;

/**
 * One subquery over the window: per key of `source` (ROLLUP_DIMENSIONS), `n` rows and `last` (the
 * newest ns); spans and operations also `dur_sum`, `dur_min`, `dur_max` (ns), operations `errors`
 * (spans of status error). Rows of one key may repeat (one per
 * piece): aggregate over it. `keys`: the dimensions the caller reads (in its select list, grouping
 * or conditions outside `where`); an engine without rollups groups its raw rows by those alone —
 * the same sums per caller's key, with fewer groups, and no durations — while the rollups keep
 * every dimension.
 */
export function rollupRows(
	statement: Statement,
	source: RollupSource,
	orgId: string,
	window: PageWindow,
	where?: DimensionFilter,
	keys?: readonly RollupDimension[],
): string {
	const parts = windowParts(statement, window);
	const dims = ROLLUP_DIMENSIONS[source];
	const org = statement.param(orgId);
	const pieces: string[] = [];
	const keyed = keys !== undefined && !statement.sql.rollups;
	// No caller reads the durations through `keys` (they are there for the rollups' union).
	const spans = source === "spans" || source === "operations";
	const durations = spans && !keyed;
	const errors = source === "operations";
	const rawSource = source === "operations" ? "spans" : source;
	for (const [level, ranges] of [
		["1h", parts.hours],
		["1m", parts.minutes],
	] as const) {
		for (const [from, to] of ranges) {
			const extra = where ? ` AND (${where("is_root")})` : "";
			pieces.push(
				`SELECT ${dims.join(", ")}, count AS n, last_ts AS last` +
					(durations
						? ", duration_sum_ns AS dur_sum, duration_min_ns AS dur_min, duration_max_ns AS dur_max"
						: "") +
					(errors ? ", error_count AS errors" : "") +
					` FROM ${ROLLUP_TABLE[source]}_${level} WHERE org_id = ${org}` +
					` AND bucket >= ${statement.param(from)} AND bucket < ${statement.param(to)}${extra}`,
			);
		}
	}
	const grouped: readonly string[] = keyed ? keys : dims;
	for (const [from, to] of parts.raw) {
		const isRoot = "(parent_span_id IS NULL)";
		const columns = grouped.map((d) => (d === "is_root" ? `${isRoot} AS is_root, ` : `${d}, `));
		const extra = where ? ` AND (${where(isRoot)})` : "";
		pieces.push(
			`SELECT ${columns.join("")}count(*) AS n, max(timestamp) AS last` +
				(durations
					? ", sum(duration_ns) AS dur_sum, min(duration_ns) AS dur_min, max(duration_ns) AS dur_max"
					: "") +
				(errors
					? `, sum(CASE WHEN status_code = ${statement.param(ERROR_RULES.spans.values[0])} THEN 1 ELSE 0 END) AS errors`
					: "") +
				` FROM ${statement.sql.dialect.narrowTimeScan(RAW_TABLE[source])} WHERE org_id = ${org}` +
				` AND timestamp >= ${statement.param(timeValue(statement.sql, rawSource, from))} AND timestamp < ${statement.param(timeValue(statement.sql, rawSource, to))}${extra}` +
				(grouped.length === 0
					? ""
					: ` GROUP BY ${grouped.map((d) => (d === "is_root" ? isRoot : d)).join(", ")}`),
		);
	}
	if (pieces.length === 0) throw new Error("internal: a window without parts");
	return `(${pieces.join(" UNION ALL ")})`;
}

/**
 * Latency histograms of spans per `group` columns (of LATENCY_DIMENSIONS; `where` over them too),
 * for `readHistograms`: the latency rollup's rows (`span_latency_*`) as they are, each with its
 * histogram as JSON in `h` (merged by the reader: cheaper than unnesting them in SQL), and from the
 * raw edges each span's `duration_ns` as `d` — or, where the engine buckets durations itself
 * (`PageSql.histogramIndex`, ClickHouse), `k` (bucket index) and `n` per bucket from raw rows.
 */
export function histogramRows(
	statement: Statement,
	orgId: string,
	window: PageWindow,
	group: readonly string[],
	where?: DimensionFilter,
): string {
	const parts = windowParts(statement, window);
	const org = statement.param(orgId);
	const pieces: string[] = [];
	const keys = group.join(", ");
	for (const [level, ranges] of [
		["1h", parts.hours],
		["1m", parts.minutes],
	] as const) {
		for (const [from, to] of ranges) {
			const extra = where ? ` AND (${where("is_root")})` : "";
			const condition = `org_id = ${org} AND bucket >= ${statement.param(from)} AND bucket < ${statement.param(to)}${extra}`;
			pieces.push(statement.sql.latencyRollupRows(`span_latency_${level}`, keys, condition));
		}
	}
	const bucket = statement.sql.histogramIndex;
	for (const [from, to] of parts.raw) {
		const extra = where ? ` AND (${where("(parent_span_id IS NULL)")})` : "";
		const range =
			` FROM ${statement.sql.dialect.narrowTimeScan("spans")} WHERE org_id = ${org}` +
			` AND timestamp >= ${statement.param(timeValue(statement.sql, "spans", from))} AND timestamp < ${statement.param(timeValue(statement.sql, "spans", to))}${extra}`;
		pieces.push(
			bucket
				? `SELECT ${keys}, ${bucket("duration_ns", HISTOGRAM_BUCKETS_PER_DOUBLING)} AS k, count(*) AS n, NULL AS d, NULL AS h${range} GROUP BY ${keys}, k`
				: `SELECT ${keys}, NULL AS k, 1 AS n, duration_ns AS d, NULL AS h${range}`,
		);
	}
	return pieces.join(" UNION ALL ");
}

/** Rows `readHistograms` merges between two turns of the event loop (about a millisecond's work). */
const ROWS_PER_TURN = 256;

/** Lets the requests waiting on the event loop run (Node's setImmediate; elsewhere a microtask). */
function nextTurn(): Promise<void> {
	return typeof setImmediate === "function"
		? new Promise((resolve) => setImmediate(resolve))
		: Promise.resolve();
}

/**
 * Merges `histogramRows` results into one histogram per group key (the group values as JSON). A 24 h
 * overview merges thousands of rows on the server's event loop, so it gives way to other requests
 * every ROWS_PER_TURN rows: a ping or an export waits at most about a millisecond behind it.
 */
export async function readHistograms(
	result: PageResult | undefined,
	group: readonly string[],
): Promise<Map<string, Histogram>> {
	// Rows are found by their group values joined, each with its length in front (cheap per row, and
	// unambiguous whatever the values hold); keyed by their JSON at the end.
	const byValues = new Map<string, { values: unknown[]; sum: HistogramSum }>();
	let merged = 0;
	for (const row of result?.rows ?? []) {
		if (++merged % ROWS_PER_TURN === 0) await nextTurn();
		let joined = "";
		for (const g of group) {
			const value = row[g];
			const text = value === null || value === undefined ? "" : String(value);
			joined += value === null || value === undefined ? "-;" : `${text.length}:${text}`;
		}
		let entry = byValues.get(joined);
		if (!entry) {
			entry = { values: group.map((g) => row[g] ?? null), sum: new HistogramSum() };
			byValues.set(joined, entry);
		}
		if (row.h !== null && row.h !== undefined) entry.sum.addJson(String(row.h));
		else entry.sum.add(row.k === null ? histogramIndex(Number(row.d)) : Number(row.k), Number(row.n));
	}
	const out = new Map<string, Histogram>();
	for (const { values, sum } of byValues.values()) out.set(JSON.stringify(values), sum.histogram());
	return out;
}
