import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * OTLP telemetry: spans, logs, metric points and schema discovery (the OTLP ingest issue;
 * docs/otlp.md). Rows are written by src/ingest/writer.ts with raw multi-row INSERTs.
 *
 * Telemetry times are integer **nanoseconds** since the Unix epoch (not milliseconds as elsewhere):
 * OTLP's own unit, kept exact. Such values exceed 2^53, so a reader must not let the libSQL client
 * turn them into JS numbers (its default `intMode: "number"` throws RangeError on them): select
 * `timestamp / 1000000` (ms), `CAST(timestamp AS TEXT)`, or bind/compare with BigInt parameters.
 *
 * Attribute columns hold JSON objects `{"key": value}`: strings, booleans, integers (exact int64),
 * doubles (non-finite ones as the strings "NaN", "Infinity", "-Infinity"), bytes as base64 strings,
 * arrays and nested objects. Read them with `json_extract(attributes, '$."http.route"')`.
 * `id` is the rowid: the tie-breaker of (timestamp, id) keyset cursors.
 */

export const SPAN_KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"] as const;
export type SpanKind = (typeof SPAN_KINDS)[number];
export const SPAN_STATUS_CODES = ["unset", "ok", "error"] as const;
export type SpanStatusCode = (typeof SPAN_STATUS_CODES)[number];
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
export const METRIC_KINDS = ["gauge", "sum", "histogram", "exponential_histogram", "summary"] as const;
export type MetricKind = (typeof METRIC_KINDS)[number];
export const TELEMETRY_SOURCES = ["spans", "logs", "metrics"] as const;
export type TelemetrySource = (typeof TELEMETRY_SOURCES)[number];
/** Where an attribute key was seen: OQL's `resource['k']`, the scope's, or the record's `attributes['k']`. */
export const ATTRIBUTE_NAMESPACES = ["resource", "scope", "attributes"] as const;
export type AttributeNamespace = (typeof ATTRIBUTE_NAMESPACES)[number];

export const spans = sqliteTable(
	"spans",
	{
		id: integer("id").primaryKey(),
		orgId: text("org_id").notNull(),
		/** Start time, ns. */
		timestamp: integer("timestamp").notNull(),
		/** End minus start, ns (never negative). */
		durationNs: integer("duration_ns").notNull(),
		/** 32 lower-case hex characters. */
		traceId: text("trace_id").notNull(),
		/** 16 lower-case hex characters. */
		spanId: text("span_id").notNull(),
		/** Null for a root span. */
		parentSpanId: text("parent_span_id"),
		name: text("name").notNull(),
		kind: text("kind", { enum: SPAN_KINDS }).notNull(),
		statusCode: text("status_code", { enum: SPAN_STATUS_CODES }).notNull(),
		statusMessage: text("status_message"),
		/** Resource attribute `service.name`. */
		service: text("service"),
		/** Resource attribute `host.name`. */
		host: text("host"),
		scopeName: text("scope_name"),
		scopeVersion: text("scope_version"),
		resourceAttributes: text("resource_attributes").notNull(),
		scopeAttributes: text("scope_attributes"),
		attributes: text("attributes").notNull(),
		/** JSON `[{"timestamp": ns, "name", "attributes": {…}}]`, or null. */
		events: text("events"),
		/** JSON `[{"trace_id", "span_id", "trace_state"?, "attributes": {…}}]`, or null. */
		links: text("links"),
	},
	(t) => [
		index("spans_org_time_idx").on(t.orgId, t.timestamp),
		index("spans_org_service_time_idx").on(t.orgId, t.service, t.timestamp),
		index("spans_org_host_time_idx").on(t.orgId, t.host, t.timestamp),
		index("spans_org_trace_idx").on(t.orgId, t.traceId),
		/** The traces list: root spans newest first (queries must say `parent_span_id IS NULL`). */
		index("spans_org_root_time_idx").on(t.orgId, t.timestamp).where(sql`${t.parentSpanId} IS NULL`),
	],
);

export const logs = sqliteTable(
	"logs",
	{
		id: integer("id").primaryKey(),
		orgId: text("org_id").notNull(),
		/** `time_unix_nano`, else `observed_time_unix_nano`, else the time it was received; ns. */
		timestamp: integer("timestamp").notNull(),
		/** `observed_time_unix_nano`, else the time it was received; ns. */
		observedTimestamp: integer("observed_timestamp").notNull(),
		/** OTLP SeverityNumber 1–24; null when unspecified. */
		severityNumber: integer("severity_number"),
		severityText: text("severity_text"),
		/** trace|debug|info|warn|error|fatal from the severity number, else the lower-cased severity text. */
		level: text("level"),
		/** A string body as it is; any other body as JSON. */
		body: text("body"),
		traceId: text("trace_id"),
		spanId: text("span_id"),
		eventName: text("event_name"),
		service: text("service"),
		host: text("host"),
		scopeName: text("scope_name"),
		scopeVersion: text("scope_version"),
		resourceAttributes: text("resource_attributes").notNull(),
		scopeAttributes: text("scope_attributes"),
		attributes: text("attributes").notNull(),
	},
	(t) => [
		index("logs_org_time_idx").on(t.orgId, t.timestamp),
		index("logs_org_service_time_idx").on(t.orgId, t.service, t.timestamp),
		index("logs_org_level_time_idx").on(t.orgId, t.level, t.timestamp),
		index("logs_org_host_time_idx").on(t.orgId, t.host, t.timestamp),
		index("logs_org_trace_idx").on(t.orgId, t.traceId).where(sql`${t.traceId} IS NOT NULL`),
	],
);

export const metricPoints = sqliteTable(
	"metric_points",
	{
		id: integer("id").primaryKey(),
		orgId: text("org_id").notNull(),
		/** `time_unix_nano`, ns. */
		timestamp: integer("timestamp").notNull(),
		/** `start_time_unix_nano`, ns; null when absent. */
		startTimestamp: integer("start_timestamp"),
		metricName: text("metric_name").notNull(),
		kind: text("kind", { enum: METRIC_KINDS }).notNull(),
		unit: text("unit"),
		/** Sums and histograms: delta | cumulative; null when unspecified or not applicable. */
		temporality: text("temporality", { enum: ["delta", "cumulative"] }),
		isMonotonic: integer("is_monotonic", { mode: "boolean" }),
		/** Gauges and sums (integers as REAL); null when the point has no recorded value. */
		value: real("value"),
		/** Histograms and summaries. */
		count: integer("count"),
		sum: real("sum"),
		min: real("min"),
		max: real("max"),
		/** Explicit-bucket histograms: JSON arrays; `bucket_counts` has one more entry than the bounds. */
		bucketCounts: text("bucket_counts"),
		explicitBounds: text("explicit_bounds"),
		/** Exponential histograms: JSON `{"scale","zero_count","zero_threshold","positive":{"offset","bucket_counts"},"negative":{…}}`. */
		exponentialBuckets: text("exponential_buckets"),
		/** Summaries: JSON `[{"quantile","value"}]`. */
		quantiles: text("quantiles"),
		service: text("service"),
		host: text("host"),
		scopeName: text("scope_name"),
		scopeVersion: text("scope_version"),
		resourceAttributes: text("resource_attributes").notNull(),
		scopeAttributes: text("scope_attributes"),
		attributes: text("attributes").notNull(),
	},
	(t) => [
		index("metric_points_org_time_idx").on(t.orgId, t.timestamp),
		index("metric_points_org_name_time_idx").on(t.orgId, t.metricName, t.timestamp),
		index("metric_points_org_service_time_idx").on(t.orgId, t.service, t.timestamp),
	],
);

/**
 * Schema discovery: the attribute keys seen per org, source and namespace. Bounded per org
 * (src/ingest/discovery.ts) and written at most once per key per few minutes per isolate.
 */
export const attributeKeys = sqliteTable(
	"attribute_keys",
	{
		orgId: text("org_id").notNull(),
		source: text("source", { enum: TELEMETRY_SOURCES }).notNull(),
		namespace: text("namespace", { enum: ATTRIBUTE_NAMESPACES }).notNull(),
		key: text("key").notNull(),
		/** A bit set of value types (VALUE_TYPE_BITS in src/ingest/attributes.ts). */
		valueTypes: integer("value_types").notNull(),
		/** JSON array of up to 5 example values as strings. */
		examples: text("examples").notNull(),
		/** ms since the epoch, like every time outside the telemetry rows. */
		firstSeen: integer("first_seen").notNull(),
		lastSeen: integer("last_seen").notNull(),
	},
	(t) => [primaryKey({ columns: [t.orgId, t.source, t.namespace, t.key] })],
);

/** Schema discovery: metric names with their kind, unit and description. Bounded per org. */
export const metricNames = sqliteTable(
	"metric_names",
	{
		orgId: text("org_id").notNull(),
		name: text("name").notNull(),
		kind: text("kind", { enum: METRIC_KINDS }).notNull(),
		unit: text("unit"),
		description: text("description"),
		/** ms since the epoch. */
		firstSeen: integer("first_seen").notNull(),
		lastSeen: integer("last_seen").notNull(),
	},
	(t) => [primaryKey({ columns: [t.orgId, t.name] })],
);

/**
 * Rollups (docs/performance.md "Rollups"): per-org aggregates per minute (`*_1m`) and per hour
 * (`*_1h`, merged from the same per-minute aggregates), written by the ingest path in the same
 * transaction as the raw rows — pre-aggregated per request, one upsert per key
 * (src/ingest/rollups.ts). `bucket` is the bucket's start in epoch **ms**; `last_ts` the newest raw
 * timestamp in it (ns). `dims` is the key's dimensions as one JSON array, so that a null dimension
 * still matches on conflict (SQLite never finds two NULLs equal in a UNIQUE key).
 *
 * Spans are rolled up twice: `span_rollups_*` by every span dimension (host and status included)
 * for counts and durations, and `span_latency_*` by operation (service, name, kind, root) with
 * error counts and a mergeable latency histogram `hist` — a JSON object `{"<index>": count}` over
 * log-scale buckets of the duration in ns (index 0: 0 ns; index i ≥ 1: [γ^(i-1), γ^i) with
 * γ = 2^(1/8)); src/ingest/rollups.ts documents the percentile error bound. Fewer keys keep the
 * histograms cheap to merge over long windows.
 */
const spanRollupColumns = {
	orgId: text("org_id").notNull(),
	bucket: integer("bucket").notNull(),
	dims: text("dims").notNull(),
	service: text("service"),
	host: text("host"),
	name: text("name").notNull(),
	kind: text("kind", { enum: SPAN_KINDS }).notNull(),
	/** 1 when the spans have no parent (trace roots). */
	isRoot: integer("is_root").notNull(),
	statusCode: text("status_code", { enum: SPAN_STATUS_CODES }).notNull(),
	count: integer("count").notNull(),
	durationSumNs: integer("duration_sum_ns").notNull(),
	durationMinNs: integer("duration_min_ns").notNull(),
	durationMaxNs: integer("duration_max_ns").notNull(),
	lastTs: integer("last_ts").notNull(),
};

const spanLatencyColumns = {
	orgId: text("org_id").notNull(),
	bucket: integer("bucket").notNull(),
	dims: text("dims").notNull(),
	service: text("service"),
	name: text("name").notNull(),
	kind: text("kind", { enum: SPAN_KINDS }).notNull(),
	isRoot: integer("is_root").notNull(),
	count: integer("count").notNull(),
	/** Spans with status `error`. */
	errorCount: integer("error_count").notNull(),
	durationSumNs: integer("duration_sum_ns").notNull(),
	durationMinNs: integer("duration_min_ns").notNull(),
	durationMaxNs: integer("duration_max_ns").notNull(),
	hist: text("hist").notNull(),
	lastTs: integer("last_ts").notNull(),
};

const logRollupColumns = {
	orgId: text("org_id").notNull(),
	bucket: integer("bucket").notNull(),
	dims: text("dims").notNull(),
	service: text("service"),
	host: text("host"),
	level: text("level"),
	count: integer("count").notNull(),
	lastTs: integer("last_ts").notNull(),
};

/** Metric points per host, service and metric name; value statistics over gauge and sum points. */
const metricRollupColumns = {
	orgId: text("org_id").notNull(),
	bucket: integer("bucket").notNull(),
	dims: text("dims").notNull(),
	host: text("host"),
	service: text("service"),
	metricName: text("metric_name").notNull(),
	count: integer("count").notNull(),
	/** Gauge and sum points with a value: how many, and their sum, min and max. */
	valueCount: integer("value_count").notNull(),
	valueSum: real("value_sum"),
	valueMin: real("value_min"),
	valueMax: real("value_max"),
	lastTs: integer("last_ts").notNull(),
};

export const spanRollups1m = sqliteTable("span_rollups_1m", spanRollupColumns, (t) => [
	primaryKey({ columns: [t.orgId, t.bucket, t.dims] }),
]);
export const spanRollups1h = sqliteTable("span_rollups_1h", spanRollupColumns, (t) => [
	primaryKey({ columns: [t.orgId, t.bucket, t.dims] }),
]);
export const spanLatency1m = sqliteTable("span_latency_1m", spanLatencyColumns, (t) => [
	primaryKey({ columns: [t.orgId, t.bucket, t.dims] }),
]);
export const spanLatency1h = sqliteTable("span_latency_1h", spanLatencyColumns, (t) => [
	primaryKey({ columns: [t.orgId, t.bucket, t.dims] }),
]);
export const logRollups1m = sqliteTable("log_rollups_1m", logRollupColumns, (t) => [
	primaryKey({ columns: [t.orgId, t.bucket, t.dims] }),
]);
export const logRollups1h = sqliteTable("log_rollups_1h", logRollupColumns, (t) => [
	primaryKey({ columns: [t.orgId, t.bucket, t.dims] }),
]);
export const metricRollups1m = sqliteTable("metric_rollups_1m", metricRollupColumns, (t) => [
	primaryKey({ columns: [t.orgId, t.bucket, t.dims] }),
]);
export const metricRollups1h = sqliteTable("metric_rollups_1h", metricRollupColumns, (t) => [
	primaryKey({ columns: [t.orgId, t.bucket, t.dims] }),
]);
