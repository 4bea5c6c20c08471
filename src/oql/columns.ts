import type { SourceName } from "./fields.js";

/**
 * ===================================================================================================
 *  STORAGE MAP — the one place that says how each OQL field is stored.
 *
 *  The compiler reads only this table (through the dialect) to name tables and columns: no name in
 *  the SQL ever comes from the query text. Every source is `final`: it follows the migrated schemas
 *  (src/db/schema-telemetry.ts + drizzle/0003_telemetry.sql for logs, spans and metric points;
 *  src/db/schema-heartbeats.ts + drizzle/0002_heartbeats.sql for pings; annotations from 0000).
 *  When a schema changes, adjust the names here (and nothing else). `test/node/oql-compiler.test.ts`
 *  checks that every field of fields.ts has an entry here and that every table here has the columns
 *  named here in the migrated database (a final source whose table is missing fails it).
 * ===================================================================================================
 */

/** The unit of a source's integer timestamps. */
export type TimeUnit = "ms" | "ns";

/** A column of the source's table, or of a joined table named in `joins`. */
export interface ColumnRef {
	column: string;
	join?: string;
}

/** How a field is computed from stored columns. Kept structural so every dialect can render it. */
export type ColumnExpr =
	| ({ kind: "column" } & ColumnRef)
	/** `column / divisor` as a float (e.g. nanoseconds to milliseconds). */
	| ({ kind: "scaled"; divisor: number } & ColumnRef);

export interface SourceStorage {
	/** `final`: the table exists in the migrations; `expected`: names guessed until it does. */
	status: "final" | "expected";
	table: string;
	/** The column every query is filtered on: `= :org` is added by the compiler, always. */
	orgColumn: string;
	/** The column the time range and TIMESERIES buckets use, an integer in `timeUnit`. */
	timeColumn: string;
	timeUnit: TimeUnit;
	/** Tables joined on demand (LEFT JOIN … ON joined.key = main.column), only when a field needs them. */
	joins: Record<string, { table: string; key: string; column: string }>;
	fields: Record<string, ColumnExpr>;
	/** JSON object columns behind `attributes['…']` and `resource['…']`, where the source has them. */
	attributesColumn: string | null;
	resourceColumn: string | null;
}

const column = (name: string, join?: string): ColumnExpr =>
	join ? { kind: "column", column: name, join } : { kind: "column", column: name };

export const STORAGE: Record<SourceName, SourceStorage> = {
	logs: {
		status: "final",
		table: "logs",
		orgColumn: "org_id",
		timeColumn: "timestamp",
		timeUnit: "ns",
		joins: {},
		fields: {
			timestamp: column("timestamp"),
			service: column("service"),
			host: column("host"),
			// Stored by the ingest from severity_number, else the lower-cased severity_text.
			level: column("level"),
			severity: column("severity_number"),
			severity_text: column("severity_text"),
			body: column("body"),
			trace_id: column("trace_id"),
			span_id: column("span_id"),
		},
		attributesColumn: "attributes",
		resourceColumn: "resource_attributes",
	},
	spans: {
		status: "final",
		table: "spans",
		orgColumn: "org_id",
		timeColumn: "timestamp",
		timeUnit: "ns",
		joins: {},
		fields: {
			timestamp: column("timestamp"),
			service: column("service"),
			host: column("host"),
			trace_id: column("trace_id"),
			span_id: column("span_id"),
			parent_span_id: column("parent_span_id"),
			name: column("name"),
			kind: column("kind"),
			duration_ms: { kind: "scaled", column: "duration_ns", divisor: 1_000_000 },
			status: column("status_code"),
			status_message: column("status_message"),
		},
		attributesColumn: "attributes",
		resourceColumn: "resource_attributes",
	},
	metrics: {
		status: "final",
		table: "metric_points",
		orgColumn: "org_id",
		timeColumn: "timestamp",
		timeUnit: "ns",
		joins: {},
		fields: {
			timestamp: column("timestamp"),
			service: column("service"),
			host: column("host"),
			name: column("metric_name"),
			value: column("value"),
			unit: column("unit"),
		},
		attributesColumn: "attributes",
		resourceColumn: "resource_attributes",
	},
	annotations: {
		status: "final",
		table: "annotations",
		orgColumn: "org_id",
		timeColumn: "time",
		timeUnit: "ms",
		joins: {},
		fields: {
			timestamp: column("time"),
			time_end: column("time_end"),
			title: column("title"),
			text: column("text"),
			tags: column("tags"),
			service: column("service"),
			environment: column("environment"),
			version: column("version"),
			url: column("url"),
			external_id: column("external_id"),
			author: column("created_by_name"),
		},
		attributesColumn: null,
		resourceColumn: null,
	},
	heartbeats: {
		// monitor_pings(org_id, at, kind, …) with monitor_id → monitors(id, slug), drizzle/0002.
		status: "final",
		table: "monitor_pings",
		orgColumn: "org_id",
		timeColumn: "at",
		timeUnit: "ms",
		joins: { monitor: { table: "monitors", key: "id", column: "monitor_id" } },
		fields: {
			timestamp: column("at"),
			monitor: column("slug", "monitor"),
			kind: column("kind"),
			exit_code: column("exit_code"),
			run_id: column("rid"),
			duration_ms: column("duration_ms"),
			body: column("body"),
		},
		attributesColumn: null,
		resourceColumn: null,
	},
};
