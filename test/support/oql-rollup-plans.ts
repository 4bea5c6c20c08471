/**
 * Rollup-shaped OQL queries over windows of every kind (whole hours, whole minutes, unaligned), and
 * a fingerprint of the statements the rollup planner compiles them to: test/node/oql-rollup-sql.test.ts
 * pins libSQL's statements byte for byte with it (the planner's SQL for ClickHouse came later, through
 * the dialect, and must not change libSQL's).
 */
import { createHash } from "node:crypto";
import { OQL_BENCH_QUERIES } from "../../bench/oql.js";
import type { CompiledQuery } from "../../src/oql/compiler.js";
import { GOLDEN_QUERIES } from "./oql-golden-queries.js";

/** 2026-11-01T06:00:00Z, the golden data set's end. */
export const PLAN_NOW = Date.UTC(2026, 10, 1, 6, 0, 0);

const WINDOWS = [
	"SINCE '2026-11-01T01:00:00Z' UNTIL '2026-11-01T05:00:00Z'",
	"SINCE '2026-11-01T01:17:00Z' UNTIL '2026-11-01T01:43:00Z'",
	"SINCE '2026-11-01T00:13:00Z' UNTIL '2026-11-01T04:59:00Z'",
	"SINCE '2026-11-01T00:13:27.500Z' UNTIL '2026-11-01T03:41:10.250Z'",
];

/** Shapes the planner answers from the rollups (docs/oql.md, "Rollups"): counts, sums, rates. */
export const ROLLUP_COUNT_SHAPES = [
	"SELECT count(*) FROM logs",
	"SELECT level, count(*), rate(count(*), 1m) FROM logs GROUP BY level ORDER BY level",
	// Errors per service from the latency rollup's error counts.
	"SELECT service, count(*) AS errors, rate(count(*), 1s) AS per_s FROM spans WHERE status = 'error' GROUP BY service",
	"SELECT name, count(*), sum(duration_ms), avg(duration_ms), min(duration_ms), max(duration_ms) FROM spans WHERE kind = 'server' GROUP BY name ORDER BY name",
	// span_rollups_*: host and status.
	"SELECT host, count(*) AS n FROM spans WHERE status != 'ok' AND parent_span_id IS NULL GROUP BY host ORDER BY n DESC LIMIT 3",
	"SELECT rate(sum(duration_ms), 1h) / 2, - count(*) FROM spans WHERE NOT (name = 'job') OR service IS NULL",
	"SELECT count(*), max(duration_ms) FROM spans WHERE service IN ('api', 'web') GROUP BY host TIMESERIES 15m",
	"SELECT count(*) FROM logs WHERE level IN ('warn', 'error') GROUP BY service LIMIT 2 TIMESERIES 1h",
	"SELECT count(*), avg(duration_ms) FROM spans WHERE kind = 'server' TIMESERIES 1m",
	"SELECT count(*), sum(duration_ms) FROM spans WHERE service = 'none'",
];
/** …and percentiles, from the latency histograms. */
export const ROLLUP_PERCENTILE_SHAPES = [
	"SELECT p50(duration_ms), p95(duration_ms), percentile(duration_ms, 99.9) AS p999 FROM spans WHERE name = 'GET /api/search'",
	"SELECT service, p95(duration_ms), count(*) FROM spans WHERE parent_span_id IS NOT NULL GROUP BY service ORDER BY service",
	"SELECT p99(duration_ms) FROM spans WHERE kind = 'server' TIMESERIES 30m",
	"SELECT p90(duration_ms), count(*) FROM spans WHERE service = 'nope'",
];

export const PLAN_QUERIES: string[] = [
	...[...ROLLUP_COUNT_SHAPES, ...ROLLUP_PERCENTILE_SHAPES].flatMap((shape) =>
		WINDOWS.map((window) => `${shape} ${window}`),
	),
	...Object.values(GOLDEN_QUERIES),
	...OQL_BENCH_QUERIES.map((q) => q.oql),
];

/** Each statement's SQL, parameters (with their JS types) and source, hashed. */
export function planFingerprint(plans: CompiledQuery[]): string {
	const text = JSON.stringify(
		plans.map((plan) => ({
			source: plan.source ?? "raw",
			sql: plan.sql,
			params: plan.params.map((p) => `${typeof p}:${String(p)}`),
		})),
	);
	return createHash("sha256").update(text).digest("hex");
}
