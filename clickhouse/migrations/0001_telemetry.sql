-- Telemetry in ClickHouse: one MergeTree table per signal, the columns of the libSQL schema
-- (src/db/schema-telemetry.ts) so that OQL's storage map (src/oql/columns.ts) names both.
-- Design (docs/scale-out.md, "ClickHouse"), after the OpenTelemetry Collector's ClickHouse exporter
-- and SigNoz:
-- * `org_id` leads the sort key, then the time: every read is one org's time range, a contiguous
--   slice of each part.
-- * Times stay integer nanoseconds (Int64, as in libSQL and SigNoz's logs), compressed with
--   Delta + ZSTD; durations with T64 + ZSTD.
-- * Daily partitions; per-row TTL from `retention_days` (the org's retention, written with each row):
--   expired rows are removed by merges, and a day whose rows all expired drops as a whole part.
-- * LowCardinality for the few-valued strings (service, host, level, kind, status, names).
-- * Attributes as Map(LowCardinality(String), String): strings as they are, other values as their
--   JSON text (numbers, booleans, arrays, objects); OQL reads them back as numbers where it compares
--   or sums them (src/oql/clickhouse-dialect.ts).
-- * Skip indexes: bloom filters on trace_id and on attribute keys and values, a token bloom filter
--   on log bodies (used by LIKE / CONTAINS on whole words), minmax on span durations.
-- * ClickHouse's token and n-gram indexes need a non-Nullable String: a log without a body is
--   stored with body '' (libSQL stores NULL).
-- Statements are separated by a line that ends with `;` (the runner, src/clickhouse/migrate.ts).

CREATE TABLE IF NOT EXISTS logs (
	org_id LowCardinality(String) CODEC(ZSTD(1)),
	timestamp Int64 CODEC(Delta(8), ZSTD(1)),
	observed_timestamp Int64 CODEC(Delta(8), ZSTD(1)),
	severity_number Nullable(UInt8),
	severity_text LowCardinality(Nullable(String)),
	level LowCardinality(Nullable(String)),
	body String CODEC(ZSTD(1)),
	trace_id Nullable(String) CODEC(ZSTD(1)),
	span_id Nullable(String) CODEC(ZSTD(1)),
	event_name LowCardinality(Nullable(String)),
	service LowCardinality(Nullable(String)),
	host LowCardinality(Nullable(String)),
	scope_name LowCardinality(Nullable(String)),
	scope_version LowCardinality(Nullable(String)),
	resource_attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
	scope_attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
	attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
	retention_days UInt16 DEFAULT 30,
	INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
	INDEX idx_attr_keys mapKeys(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_attr_values mapValues(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_res_attr_keys mapKeys(resource_attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_res_attr_values mapValues(resource_attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_body body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
)
ENGINE = MergeTree
PARTITION BY toDate(fromUnixTimestamp64Nano(timestamp))
ORDER BY (org_id, timestamp)
TTL toDateTime(intDiv(timestamp, 1000000000)) + toIntervalDay(retention_days)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS spans (
	org_id LowCardinality(String) CODEC(ZSTD(1)),
	timestamp Int64 CODEC(Delta(8), ZSTD(1)),
	duration_ns Int64 CODEC(T64, ZSTD(1)),
	trace_id String CODEC(ZSTD(1)),
	span_id String CODEC(ZSTD(1)),
	parent_span_id Nullable(String) CODEC(ZSTD(1)),
	name LowCardinality(String) CODEC(ZSTD(1)),
	kind LowCardinality(String),
	status_code LowCardinality(String),
	status_message Nullable(String) CODEC(ZSTD(1)),
	service LowCardinality(Nullable(String)),
	host LowCardinality(Nullable(String)),
	scope_name LowCardinality(Nullable(String)),
	scope_version LowCardinality(Nullable(String)),
	resource_attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
	scope_attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
	attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
	-- JSON arrays, as in libSQL: read whole with the span, never filtered on.
	events Nullable(String) CODEC(ZSTD(1)),
	links Nullable(String) CODEC(ZSTD(1)),
	retention_days UInt16 DEFAULT 30,
	INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
	INDEX idx_attr_keys mapKeys(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_attr_values mapValues(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_res_attr_keys mapKeys(resource_attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_res_attr_values mapValues(resource_attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_duration duration_ns TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(fromUnixTimestamp64Nano(timestamp))
ORDER BY (org_id, timestamp)
TTL toDateTime(intDiv(timestamp, 1000000000)) + toIntervalDay(retention_days)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS metric_points (
	org_id LowCardinality(String) CODEC(ZSTD(1)),
	timestamp Int64 CODEC(Delta(8), ZSTD(1)),
	start_timestamp Nullable(Int64) CODEC(Delta(8), ZSTD(1)),
	metric_name LowCardinality(String) CODEC(ZSTD(1)),
	kind LowCardinality(String),
	unit LowCardinality(Nullable(String)),
	temporality LowCardinality(Nullable(String)),
	is_monotonic Nullable(Bool),
	value Nullable(Float64) CODEC(Gorilla, ZSTD(1)),
	count Nullable(UInt64) CODEC(T64, ZSTD(1)),
	sum Nullable(Float64) CODEC(ZSTD(1)),
	min Nullable(Float64) CODEC(ZSTD(1)),
	max Nullable(Float64) CODEC(ZSTD(1)),
	-- Histogram and summary details as the JSON text libSQL keeps.
	bucket_counts Nullable(String) CODEC(ZSTD(1)),
	explicit_bounds Nullable(String) CODEC(ZSTD(1)),
	exponential_buckets Nullable(String) CODEC(ZSTD(1)),
	quantiles Nullable(String) CODEC(ZSTD(1)),
	service LowCardinality(Nullable(String)),
	host LowCardinality(Nullable(String)),
	scope_name LowCardinality(Nullable(String)),
	scope_version LowCardinality(Nullable(String)),
	resource_attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
	scope_attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
	attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
	retention_days UInt16 DEFAULT 30,
	INDEX idx_attr_keys mapKeys(attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
	INDEX idx_attr_values mapValues(attributes) TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(fromUnixTimestamp64Nano(timestamp))
ORDER BY (org_id, metric_name, timestamp)
TTL toDateTime(intDiv(timestamp, 1000000000)) + toIntervalDay(retention_days)
SETTINGS index_granularity = 8192;
