import { count, eq } from "drizzle-orm";
import { MONITOR_STATUSES, type MonitorStatus, monitors } from "../db/schema-heartbeats.js";
import {
	compiledStatement,
	compileOql,
	ENTRY_SPANS_OQL,
	ERROR_RULES,
	filterSql,
	type PageReader,
	rangeOql,
	ratio,
	readBatch,
	Statement,
	scope,
	table,
	text,
} from "./store.js";
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

/** Volumes and errors: five counts, each through an (org_id, [level,] timestamp) index. */
function countsStatement(orgId: string, window: PageWindow) {
	const statement = new Statement();
	const l = table("logs", "l");
	const s = table("spans", "s");
	const m = table("metrics", "m");
	const countOf = (t: typeof l, extra = "") =>
		`(SELECT count(*) FROM ${t.from} WHERE ${scope(statement, t, orgId, window)}${extra})`;
	return statement.done(
		`SELECT ${countOf(l)} AS logs, ${countOf(l, ` AND ${filterSql(statement, l, ERROR_RULES.logs)}`)} AS log_errors,` +
			` ${countOf(s)} AS spans, ${countOf(s, ` AND ${filterSql(statement, s, ERROR_RULES.spans)}`)} AS span_errors,` +
			` ${countOf(m)} AS metric_points`,
	);
}

/**
 * Services by error logs + error spans. `GROUP BY +service`: the unary plus keeps the planner on
 * the time (or level) index of the window instead of walking the org's whole service index.
 */
function topServicesStatement(orgId: string, window: PageWindow) {
	const statement = new Statement();
	const part = (source: "logs" | "spans", alias: string, logErrors: string, spanErrors: string) => {
		const t = table(source, alias);
		return (
			`SELECT ${t.field("service")} AS service, ${logErrors} AS log_errors, ${spanErrors} AS span_errors` +
			` FROM ${t.from} WHERE ${scope(statement, t, orgId, window)} AND ${filterSql(statement, t, ERROR_RULES[source])}` +
			` GROUP BY +${t.field("service")}`
		);
	};
	return statement.done(
		`SELECT service, sum(log_errors) AS log_errors, sum(span_errors) AS span_errors FROM (` +
			`${part("logs", "l", "count(*)", "0")} UNION ALL ${part("spans", "s", "0", "count(*)")})` +
			` GROUP BY service ORDER BY sum(log_errors) + sum(span_errors) DESC, service IS NULL, service` +
			` LIMIT ${statement.param(BigInt(OVERVIEW_TOP))}`,
	);
}

export async function overview(reader: PageReader, orgId: string, window: PageWindow): Promise<OverviewJson> {
	// Entry operations by the exact p95 of OQL (interpolated between closest ranks), as /api/v1/dsl
	// computes it. Entry spans only: a p95 over every span of the window costs ~4x more.
	const slowest = compileOql(
		`SELECT service, name, p95(duration_ms) AS p95, count(*) AS spans FROM spans WHERE ${ENTRY_SPANS_OQL}` +
			" GROUP BY service, name" +
			` ORDER BY p95 DESC LIMIT ${OVERVIEW_TOP} ${rangeOql(window)}`,
		orgId,
		window,
	);
	const heartbeats = reader.db
		.select({ status: monitors.status, n: count() })
		.from(monitors)
		.where(eq(monitors.orgId, orgId))
		.groupBy(monitors.status)
		.toSQL();
	const [counts, services, operations, monitorCounts] = await readBatch(reader, [
		countsStatement(orgId, window),
		topServicesStatement(orgId, window),
		compiledStatement(slowest),
		{ sql: heartbeats.sql, args: heartbeats.params as never },
	]);
	const c = counts?.rows[0];
	const n = (column: string) => Number(c?.[column] ?? 0);
	const column = (name: string) => slowest.columns.findIndex((col) => col.name === name);
	const [serviceAt, nameAt, p95At, spansAt] = [
		column("service"),
		column("name"),
		column("p95"),
		column("spans"),
	];
	const heartbeatCounts = Object.fromEntries([
		["total", 0],
		...MONITOR_STATUSES.map((status) => [status, 0]),
	]) as OverviewJson["heartbeats"];
	for (const row of monitorCounts?.rows ?? []) {
		const status = String(row[0]) as MonitorStatus;
		if (Object.hasOwn(heartbeatCounts, status)) heartbeatCounts[status] += Number(row[1]);
		heartbeatCounts.total += Number(row[1]);
	}
	return {
		logs: { count: n("logs"), errors: n("log_errors"), error_rate: ratio(n("log_errors"), n("logs")) },
		spans: { count: n("spans"), errors: n("span_errors"), error_rate: ratio(n("span_errors"), n("spans")) },
		metric_points: { count: n("metric_points") },
		error_rate: ratio(n("log_errors") + n("span_errors"), n("logs") + n("spans")),
		top_services: (services?.rows ?? []).map((row) => ({
			service: text(row, "service"),
			errors: Number(row.log_errors) + Number(row.span_errors),
			log_errors: Number(row.log_errors),
			span_errors: Number(row.span_errors),
		})),
		// OQL asks for one row more (to report truncation); the overview keeps its top ten.
		slowest_operations: (operations?.rows ?? []).slice(0, OVERVIEW_TOP).map((row) => ({
			service: row[serviceAt] === null ? null : String(row[serviceAt]),
			name: String(row[nameAt]),
			p95_ms: Number(row[p95At]),
			spans: Number(row[spansAt]),
		})),
		heartbeats: heartbeatCounts,
	};
}
