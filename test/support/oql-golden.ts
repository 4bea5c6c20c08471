/**
 * The OQL golden answers: what each query of oql-golden-queries.ts returns over the generated data
 * set of org A, on Node and in workerd alike (everything but meta.elapsed_ms). Recorded once from the
 * executor, reviewed by hand, and cross-checked against a recomputation in JavaScript for the
 * counts, percentiles, distinct counts and buckets (test/node/oql-api.test.ts, "oracle").
 */
import { expect } from "vitest";
import { PERCENTILE_RELATIVE_ERROR } from "../../src/ingest/rollups.js";
import type { OqlResult } from "../../src/oql/execute.js";

export type GoldenAnswer = Omit<OqlResult, "meta"> & {
	meta: Omit<OqlResult["meta"], "elapsed_ms" | "source">;
};

const W = { from: "2026-11-01T00:00:00.000Z", to: "2026-11-01T06:00:00.000Z" } as const;

export const GOLDEN: Record<string, GoldenAnswer> = {
	"count all logs": {
		columns: [{ name: "count(*)", type: "number" }],
		rows: [[3000]],
		meta: { ...W, row_count: 1, truncated: false },
	},
	"count by level": {
		columns: [
			{ name: "level", type: "string" },
			{ name: "count(*)", type: "number" },
		],
		rows: [
			["debug", 532],
			["error", 70],
			["fatal", 10],
			["info", 1857],
			["notice", 59],
			["trace", 213],
			["warn", 259],
		],
		meta: { ...W, row_count: 7, truncated: false },
	},
	"errors in the last hour of data": {
		columns: [{ name: "count(*)", type: "number" }],
		rows: [[11]],
		meta: {
			from: "2026-11-01T05:00:00.000Z",
			to: "2026-11-01T06:00:00.000Z",
			row_count: 1,
			truncated: false,
		},
	},
	"errors per minute by service": {
		columns: [
			{ name: "service", type: "string" },
			{ name: "errors", type: "number" },
			{ name: "per_minute", type: "number" },
		],
		rows: [
			["checkout", 25, 0.06944444444444445],
			["api", 9, 0.025],
			["search", 7, 0.019444444444444445],
			["worker", 5, 0.013888888888888888],
			["billing", 3, 0.008333333333333333],
			["web", 2, 0.005555555555555556],
		],
		meta: { ...W, row_count: 6, truncated: false },
	},
	"p95 by route, hourly": {
		columns: [
			{ name: "timestamp", type: "time" },
			{ name: "attributes['http.route']", type: "any" },
			{ name: "p95(duration_ms)", type: "number" },
		],
		rows: [
			["2026-11-01T00:00:00.000Z", "/api/users/:id", 44.10435225],
			["2026-11-01T02:00:00.000Z", "/api/users/:id", 49.512604],
			["2026-11-01T04:00:00.000Z", "/api/users/:id", 41.94553449999997],
			["2026-11-01T00:00:00.000Z", "/api/orders", 152.2957815],
			["2026-11-01T02:00:00.000Z", "/api/orders", 172.41858295000003],
			["2026-11-01T04:00:00.000Z", "/api/orders", 123.87023724999999],
			["2026-11-01T00:00:00.000Z", "/api/search", 362.4364840999999],
			["2026-11-01T02:00:00.000Z", "/api/search", 267.2750777499999],
			["2026-11-01T04:00:00.000Z", "/api/search", 312.114346],
		],
		meta: { ...W, row_count: 9, truncated: true },
	},
	"top hosts": {
		columns: [
			{ name: "host", type: "string" },
			{ name: "n", type: "number" },
		],
		rows: [
			["api-02", 316],
			["api-01", 302],
			["api-03", 273],
			["web-01", 204],
			["web-02", 191],
		],
		meta: { ...W, row_count: 5, truncated: true },
	},
	"attribute filter": {
		columns: [{ name: "count(*)", type: "number" }],
		rows: [[10]],
		meta: { ...W, row_count: 1, truncated: false },
	},
	"LIKE search, first rows": {
		columns: [
			{ name: "timestamp", type: "time" },
			{ name: "service", type: "string" },
			{ name: "body", type: "string" },
		],
		rows: [
			["2026-11-01T00:03:32.214Z", "checkout", "timeout after 317ms calling checkout"],
			["2026-11-01T00:06:03.091Z", "auth", "timeout after 227ms calling checkout"],
			["2026-11-01T03:01:36.859Z", "billing", "timeout after 106ms calling worker"],
		],
		meta: { ...W, row_count: 3, truncated: true },
	},
	"distinct users": {
		columns: [
			{ name: "users", type: "number" },
			{ name: "with_user", type: "number" },
		],
		rows: [[494, 2098]],
		meta: { ...W, row_count: 1, truncated: false },
	},
	"percentiles of one route": {
		columns: [
			{ name: "p50(duration_ms)", type: "number" },
			{ name: "p90(duration_ms)", type: "number" },
			{ name: "p99(duration_ms)", type: "number" },
			{ name: "p999", type: "number" },
		],
		rows: [[127.444767, 294.1838482, 478.65820919999976, 511.06813024200017]],
		meta: { ...W, row_count: 1, truncated: false },
	},
	"latest fatal per service": {
		columns: [
			{ name: "service", type: "string" },
			{ name: "last_body", type: "string" },
			{ name: "at", type: "time" },
		],
		rows: [
			["api", "panic: out of memory in api worker pool", "2026-11-01T05:20:04.809Z"],
			["billing", "panic: out of memory in billing worker pool", "2026-11-01T01:59:06.100Z"],
			["checkout", "panic: out of memory in checkout worker pool", "2026-11-01T04:41:42.552Z"],
			["web", "panic: out of memory in web worker pool", "2026-11-01T02:46:08.084Z"],
		],
		meta: { ...W, row_count: 4, truncated: true },
	},
	"sparse timeseries, zero-filled": {
		columns: [
			{ name: "timestamp", type: "time" },
			{ name: "count(*)", type: "number" },
			{ name: "avg_ms", type: "number" },
			{ name: "twice", type: "number" },
		],
		rows: [
			["2026-11-01T00:00:00.000Z", 0, null, 0],
			["2026-11-01T00:30:00.000Z", 0, null, 0],
			["2026-11-01T01:00:00.000Z", 1, 1194.099877, 2],
			["2026-11-01T01:30:00.000Z", 1, 4.115346, 2],
			["2026-11-01T02:00:00.000Z", 1, 11.435704, 2],
			["2026-11-01T02:30:00.000Z", 1, 10.405046, 2],
			["2026-11-01T03:00:00.000Z", 0, null, 0],
			["2026-11-01T03:30:00.000Z", 3, 194.83964133333333, 6],
			["2026-11-01T04:00:00.000Z", 0, null, 0],
			["2026-11-01T04:30:00.000Z", 0, null, 0],
			["2026-11-01T05:00:00.000Z", 1, 28.985321, 2],
			["2026-11-01T05:30:00.000Z", 0, null, 0],
		],
		meta: { ...W, row_count: 12, truncated: false },
	},
	"top series by row count": {
		columns: [
			{ name: "timestamp", type: "time" },
			{ name: "service", type: "string" },
			{ name: "count(*)", type: "number" },
		],
		rows: [
			["2026-11-01T00:00:00.000Z", "api", 45],
			["2026-11-01T03:00:00.000Z", "api", 40],
			["2026-11-01T00:00:00.000Z", "checkout", 39],
			["2026-11-01T03:00:00.000Z", "checkout", 29],
		],
		meta: { ...W, row_count: 4, truncated: true },
	},
	"rows with booleans and attributes": {
		columns: [
			{ name: "timestamp", type: "time" },
			{ name: "name", type: "string" },
			{ name: "slow", type: "bool" },
			{ name: "code", type: "any" },
		],
		rows: [
			["2026-11-01T03:53:37.952Z", "POST /api/payments", true, 200],
			["2026-11-01T04:17:26.419Z", "POST /api/login", true, 500],
			["2026-11-01T04:33:17.422Z", "POST /api/payments", true, 200],
		],
		meta: { ...W, row_count: 3, truncated: true },
	},
	"star with JSON maps": {
		columns: [
			{ name: "timestamp", type: "time" },
			{ name: "service", type: "string" },
			{ name: "host", type: "string" },
			{ name: "trace_id", type: "string" },
			{ name: "span_id", type: "string" },
			{ name: "parent_span_id", type: "string" },
			{ name: "name", type: "string" },
			{ name: "kind", type: "string" },
			{ name: "duration_ms", type: "number" },
			{ name: "status", type: "string" },
			{ name: "status_message", type: "string" },
			{ name: "attributes", type: "json" },
			{ name: "resource", type: "json" },
		],
		rows: [
			[
				"2026-11-01T04:17:26.419Z",
				"checkout",
				"checkout-01",
				"10d5d6695b302787b5ab86d2d8f19cff",
				"b0260ff6853aa1e9",
				null,
				"POST /api/login",
				"server",
				1225.759634,
				"error",
				"internal error",
				{ "http.route": "/api/login", "http.method": "POST", "http.status_code": 500, "user.id": "u463" },
				{
					"service.name": "checkout",
					"host.name": "checkout-01",
					"k8s.pod.name": "checkout-01-7d9f",
					"deployment.environment": "production",
				},
			],
		],
		meta: { ...W, row_count: 1, truncated: true },
	},
	"metrics by name": {
		columns: [
			{ name: "name", type: "string" },
			{ name: "count(*)", type: "number" },
			{ name: "avg(value)", type: "number" },
			{ name: "sum(value)", type: "number" },
			{ name: "max(value)", type: "number" },
		],
		rows: [
			["http.server.request.count", 109, 92.66055045871559, 10100, 193],
			["system.cpu.utilization", 91, 0.4929120879120879, 44.855, 0.994],
		],
		meta: { ...W, row_count: 2, truncated: false },
	},
	"heartbeats by monitor": {
		columns: [
			{ name: "monitor", type: "string" },
			{ name: "pings", type: "number" },
			{ name: "worst", type: "number" },
			{ name: "avg_ms", type: "number" },
		],
		rows: [
			["hourly-report", 48, 3, 26259.268292682926],
			["nightly-backup", 44, 3, 31271.52380952381],
			["queue-drain", 28, 2, 34037.791666666664],
		],
		meta: { ...W, row_count: 3, truncated: false },
	},
	"annotations by environment": {
		columns: [
			{ name: "environment", type: "string" },
			{ name: "count(*)", type: "number" },
		],
		rows: [
			["production", 10],
			["staging", 2],
		],
		meta: { ...W, row_count: 2, truncated: false },
	},
	"regular expression": {
		columns: [{ name: "count(*)", type: "number" }],
		rows: [[3]],
		meta: { ...W, row_count: 1, truncated: false },
	},
	"null severities": {
		columns: [
			{ name: "level", type: "string" },
			{ name: "severity_text", type: "string" },
			{ name: "count(*)", type: "number" },
		],
		rows: [["notice", "notice", 59]],
		meta: { ...W, row_count: 1, truncated: false },
	},
	"arithmetic over aggregates": {
		columns: [
			{ name: "mean", type: "number" },
			{ name: "avg", type: "number" },
		],
		rows: [[71.84580690545455, 71.84580690545455]],
		meta: { ...W, row_count: 1, truncated: false },
	},
	"resource attribute groups": {
		columns: [
			{ name: "pod", type: "any" },
			{ name: "count(*)", type: "number" },
		],
		rows: [
			["billing-01-7d9f", 41],
			["billing-02-7d9f", 72],
			["billing-03-7d9f", 45],
		],
		meta: { ...W, row_count: 3, truncated: false },
	},
	"empty result": {
		columns: [
			{ name: "count(*)", type: "number" },
			{ name: "avg(duration_ms)", type: "number" },
		],
		rows: [[0, null]],
		meta: { ...W, row_count: 1, truncated: false },
	},
	"empty rows": {
		columns: [
			{ name: "timestamp", type: "time" },
			{ name: "body", type: "string" },
		],
		rows: [],
		meta: { ...W, row_count: 0, truncated: false },
	},
};

/**
 * The golden queries the rollup planner answers (src/oql/rollup-planner.ts), on libSQL and on
 * ClickHouse alike; the others read raw rows.
 */
export const ROLLUP_SOURCES: Record<string, OqlResult["meta"]["source"]> = {
	"count all logs": "rollup_1h",
	"count by level": "rollup_1h",
	"errors in the last hour of data": "rollup_1h",
	"errors per minute by service": "rollup_1h",
	"percentiles of one route": "rollup_1h",
	"top hosts": "rollup_1h",
	"sparse timeseries, zero-filled": "rollup_1m",
	"top series by row count": "rollup_1h",
	"empty result": "rollup_1h",
};

/** Recorded over raw rows (exact); answered from the rollups' histograms, so within their bound. */
const APPROXIMATE = new Set(["percentiles of one route"]);

/** An answer (without `meta.elapsed_ms`) against its golden one: the same, percentiles within the bound. */
export function expectGolden(
	name: string,
	answer: { columns: unknown; rows: unknown[][]; meta: Record<string, unknown> },
): void {
	const golden = GOLDEN[name] as GoldenAnswer;
	const { source, ...meta } = answer.meta;
	expect(source).toBe(ROLLUP_SOURCES[name] ?? "raw");
	if (!APPROXIMATE.has(name)) {
		expect({ ...answer, meta }).toEqual(golden);
		return;
	}
	expect({ ...answer, meta, rows: undefined }).toEqual({ ...golden, rows: undefined });
	expect(answer.rows.length).toBe(golden.rows.length);
	for (const [i, row] of answer.rows.entries()) {
		for (const [j, value] of row.entries()) {
			const exact = golden.rows[i]?.[j] as number;
			expect(Math.abs((value as number) - exact) / exact).toBeLessThanOrEqual(PERCENTILE_RELATIVE_ERROR);
		}
	}
}
