import { count, eq } from "drizzle-orm";
import { MONITOR_STATUSES, type MonitorStatus, monitors } from "../db/schema-heartbeats.js";
import { type Histogram, histogramPercentile } from "../ingest/rollups.js";
import { metadataStatement, type PageSql } from "./backend.js";
import { type DimensionFilter, histogramRows, readHistograms, rollupRows } from "./rollups.js";
import { ERROR_RULES, type PageReader, ratio, readBatch, Statement, text } from "./store.js";
import type { PageWindow } from "./window.js";

export const OVERVIEW_TOP = 10;

export interface OverviewJson {
	logs: { count: number; errors: number; error_rate: number | null };
	spans: { count: number; errors: number; error_rate: number | null };
	metric_points: { count: number };
	/** (error logs + error spans) / (logs + spans); null without either. */
	error_rate: number | null;
	top_services: { service: string | null; errors: number; log_errors: number; span_errors: number }[];
	slowest_operations: { service: string | null; name: string; p95_ms: number; spans: number }[];
	heartbeats: Record<MonitorStatus | "total", number>;
}

const ENTRY: DimensionFilter = (isRoot) => `kind IN ('server', 'consumer') OR ${isRoot}`;
const ENTRY_GROUP = ["service", "name"] as const;

/**
 * Per service and level (logs), per service with errors (spans, from the per-operation rollup: fewer
 * keys than the per-host one), metric points: all from rollups.
 */
function volumesStatement(sql: PageSql, orgId: string, window: PageWindow) {
	const statement = new Statement(sql);
	const logs = rollupRows(statement, "logs", orgId, window, undefined, ["service", "level"]);
	const spans = rollupRows(statement, "operations", orgId, window, undefined, ["service"]);
	const metrics = rollupRows(statement, "metrics", orgId, window, undefined, []);
	return statement.done(
		`SELECT 'logs' AS source, service, level AS what, sum(n) AS n, NULL AS errors FROM ${logs} GROUP BY service, level` +
			` UNION ALL SELECT 'spans', service, NULL, sum(n), sum(errors) FROM ${spans} GROUP BY service` +
			` UNION ALL SELECT 'metrics', NULL, NULL, sum(n), NULL FROM ${metrics}`,
	);
}

/**
 * Entry spans' latency histograms per service and name. Every span is in its operation's histogram
 * (the latency rollup's, or bucketed from the raw edges), so the histograms' counts are also the
 * operations' span counts: one read for both.
 */
function entryHistogramsStatement(sql: PageSql, orgId: string, window: PageWindow) {
	const statement = new Statement(sql);
	return statement.done(histogramRows(statement, orgId, window, ENTRY_GROUP, ENTRY));
}

const byServiceThenNull = (a: string | null, b: string | null) =>
	a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1;

/**
 * The overview over the window, from the rollups (src/pages/rollups.ts; raw rows on ClickHouse):
 * exact counts, and the entry operations' p95 from the latency histograms (within
 * PERCENTILE_RELATIVE_ERROR of the exact p95 that OQL computes over raw rows; docs/oql.md). Both
 * engines bucket durations alike, so they give the same p95.
 */
export async function overview(reader: PageReader, orgId: string, window: PageWindow): Promise<OverviewJson> {
	const heartbeats = reader.db
		.select({ status: monitors.status, n: count() })
		.from(monitors)
		.where(eq(monitors.orgId, orgId))
		.groupBy(monitors.status)
		.toSQL();
	const [volumes, histograms, monitorCounts] = await readBatch(reader, [
		volumesStatement(reader.sql, orgId, window),
		entryHistogramsStatement(reader.sql, orgId, window),
		metadataStatement({ sql: heartbeats.sql, args: heartbeats.params as never }),
	]);
	const totals = { logs: 0, log_errors: 0, spans: 0, span_errors: 0, metric_points: 0 };
	const errorsByService = new Map<string | null, { log_errors: number; span_errors: number }>();
	const logErrorLevels = new Set<unknown>(ERROR_RULES.logs.values);
	for (const row of volumes?.rows ?? []) {
		const n = Number(row.n ?? 0);
		const service = text(row, "service");
		if (row.source === "metrics") {
			totals.metric_points += n;
			continue;
		}
		const isLog = row.source === "logs";
		const errors = isLog ? (logErrorLevels.has(row.what) ? n : 0) : Number(row.errors ?? 0);
		if (isLog) totals.logs += n;
		else totals.spans += n;
		if (errors === 0) continue;
		if (isLog) totals.log_errors += errors;
		else totals.span_errors += errors;
		const entry = errorsByService.get(service) ?? { log_errors: 0, span_errors: 0 };
		if (isLog) entry.log_errors += errors;
		else entry.span_errors += errors;
		errorsByService.set(service, entry);
	}
	const latency = await readHistograms(histograms, ENTRY_GROUP);
	const operationCounts = [...latency.entries()].map(([key, histogram]) => {
		const [service, name] = JSON.parse(key) as [string | null, unknown];
		let n = 0;
		for (const count of histogram.values()) n += count;
		return { service, name: String(name), n };
	});
	const slowest = operationCounts.map(({ service, name, n }) => {
		const histogram = latency.get(JSON.stringify([service, name])) as Histogram;
		return { service, name, p95_ms: (histogramPercentile(histogram, 0.95) ?? 0) / 1e6, spans: n };
	});
	slowest.sort(
		(a, b) =>
			b.p95_ms - a.p95_ms ||
			byServiceThenNull(a.service, b.service) ||
			(a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
	);
	const heartbeatCounts = Object.fromEntries([
		["total", 0],
		...MONITOR_STATUSES.map((status) => [status, 0]),
	]) as OverviewJson["heartbeats"];
	for (const row of monitorCounts?.rows ?? []) {
		const status = String(row[0]) as MonitorStatus;
		if (Object.hasOwn(heartbeatCounts, status)) heartbeatCounts[status] += Number(row[1]);
		heartbeatCounts.total += Number(row[1]);
	}
	const t = totals;
	return {
		logs: { count: t.logs, errors: t.log_errors, error_rate: ratio(t.log_errors, t.logs) },
		spans: { count: t.spans, errors: t.span_errors, error_rate: ratio(t.span_errors, t.spans) },
		metric_points: { count: t.metric_points },
		error_rate: ratio(t.log_errors + t.span_errors, t.logs + t.spans),
		top_services: [...errorsByService.entries()]
			.map(([service, e]) => ({ service, errors: e.log_errors + e.span_errors, ...e }))
			.sort((a, b) => b.errors - a.errors || byServiceThenNull(a.service, b.service))
			.slice(0, OVERVIEW_TOP),
		slowest_operations: slowest.slice(0, OVERVIEW_TOP),
		heartbeats: heartbeatCounts,
	};
}
