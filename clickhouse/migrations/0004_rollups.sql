-- Rollups in ClickHouse: the libSQL rollups' tables (src/db/schema-telemetry.ts, `*_rollups_1m` /
-- `*_rollups_1h`, `span_latency_*`) with the same names, dimensions and value columns, kept by
-- materialized views at insert instead of by the writer (docs/scale-out.md, "Rollups"):
-- * raw table → `*_1m` (an MV per target: each INSERT into spans, logs or metric_points is grouped
--   per org, minute and key as it is written), then `*_1m` → `*_1h` (an MV over the minute rows).
-- * AggregatingMergeTree with SimpleAggregateFunction columns: a key may have one row per insert
--   until merges combine them; readers always aggregate (sum of `count`, max of `last_ts`, …), so
--   an answer never depends on whether parts have merged.
-- * `org_id` leads the sort key, then the bucket (epoch ms, the bucket's start, as in libSQL).
-- * The span latency histogram `hist` is a Map(bucket index → spans), merged with sumMap, instead
--   of libSQL's JSON object (src/ingest/rollups.ts `histogramIndex`: floor(8·log2(ns)) + 1, 0
--   below 1 ns).
-- * TTL like the raw rows, from the end of the bucket (the libSQL sweep's rule: a bucket goes once
--   all of it is past the cutoff), with the org's retention (`retention_days`, the largest of the
--   bucket's rows).
-- * Rows already stored are rolled up once here (the INSERT … SELECTs below, before the views
--   exist): run this migration while ingest is stopped, or rows that arrive in between are missed
--   by the rollups (the app's runner migrates at start, before it serves).

CREATE TABLE IF NOT EXISTS span_rollups_1m (
	org_id LowCardinality(String),
	bucket Int64 CODEC(Delta(8), ZSTD(1)),
	service LowCardinality(Nullable(String)),
	host LowCardinality(Nullable(String)),
	name LowCardinality(String),
	kind LowCardinality(String),
	is_root UInt8,
	status_code LowCardinality(String),
	count SimpleAggregateFunction(sum, UInt64),
	duration_sum_ns SimpleAggregateFunction(sum, Int64),
	duration_min_ns SimpleAggregateFunction(min, Int64),
	duration_max_ns SimpleAggregateFunction(max, Int64),
	last_ts SimpleAggregateFunction(max, Int64),
	retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(intDiv(bucket, 1000))
ORDER BY (org_id, bucket, service, host, name, kind, is_root, status_code)
TTL toDateTime(intDiv(bucket, 1000) + 60) + toIntervalDay(retention_days)
SETTINGS allow_nullable_key = 1;

CREATE TABLE IF NOT EXISTS span_rollups_1h AS span_rollups_1m
ENGINE = AggregatingMergeTree
PARTITION BY toDate(intDiv(bucket, 1000))
ORDER BY (org_id, bucket, service, host, name, kind, is_root, status_code)
TTL toDateTime(intDiv(bucket, 1000) + 3600) + toIntervalDay(retention_days)
SETTINGS allow_nullable_key = 1;

CREATE TABLE IF NOT EXISTS span_latency_1m (
	org_id LowCardinality(String),
	bucket Int64 CODEC(Delta(8), ZSTD(1)),
	service LowCardinality(Nullable(String)),
	name LowCardinality(String),
	kind LowCardinality(String),
	is_root UInt8,
	count SimpleAggregateFunction(sum, UInt64),
	error_count SimpleAggregateFunction(sum, UInt64),
	duration_sum_ns SimpleAggregateFunction(sum, Int64),
	duration_min_ns SimpleAggregateFunction(min, Int64),
	duration_max_ns SimpleAggregateFunction(max, Int64),
	hist SimpleAggregateFunction(sumMap, Map(UInt16, UInt64)),
	last_ts SimpleAggregateFunction(max, Int64),
	retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(intDiv(bucket, 1000))
ORDER BY (org_id, bucket, service, name, kind, is_root)
TTL toDateTime(intDiv(bucket, 1000) + 60) + toIntervalDay(retention_days)
SETTINGS allow_nullable_key = 1;

CREATE TABLE IF NOT EXISTS span_latency_1h AS span_latency_1m
ENGINE = AggregatingMergeTree
PARTITION BY toDate(intDiv(bucket, 1000))
ORDER BY (org_id, bucket, service, name, kind, is_root)
TTL toDateTime(intDiv(bucket, 1000) + 3600) + toIntervalDay(retention_days)
SETTINGS allow_nullable_key = 1;

CREATE TABLE IF NOT EXISTS log_rollups_1m (
	org_id LowCardinality(String),
	bucket Int64 CODEC(Delta(8), ZSTD(1)),
	service LowCardinality(Nullable(String)),
	host LowCardinality(Nullable(String)),
	level LowCardinality(Nullable(String)),
	count SimpleAggregateFunction(sum, UInt64),
	last_ts SimpleAggregateFunction(max, Int64),
	retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(intDiv(bucket, 1000))
ORDER BY (org_id, bucket, service, host, level)
TTL toDateTime(intDiv(bucket, 1000) + 60) + toIntervalDay(retention_days)
SETTINGS allow_nullable_key = 1;

CREATE TABLE IF NOT EXISTS log_rollups_1h AS log_rollups_1m
ENGINE = AggregatingMergeTree
PARTITION BY toDate(intDiv(bucket, 1000))
ORDER BY (org_id, bucket, service, host, level)
TTL toDateTime(intDiv(bucket, 1000) + 3600) + toIntervalDay(retention_days)
SETTINGS allow_nullable_key = 1;

CREATE TABLE IF NOT EXISTS metric_rollups_1m (
	org_id LowCardinality(String),
	bucket Int64 CODEC(Delta(8), ZSTD(1)),
	host LowCardinality(Nullable(String)),
	service LowCardinality(Nullable(String)),
	metric_name LowCardinality(String),
	count SimpleAggregateFunction(sum, UInt64),
	value_count SimpleAggregateFunction(sum, UInt64),
	value_sum SimpleAggregateFunction(sum, Float64),
	value_min SimpleAggregateFunction(min, Nullable(Float64)),
	value_max SimpleAggregateFunction(max, Nullable(Float64)),
	last_ts SimpleAggregateFunction(max, Int64),
	retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(intDiv(bucket, 1000))
ORDER BY (org_id, bucket, host, service, metric_name)
TTL toDateTime(intDiv(bucket, 1000) + 60) + toIntervalDay(retention_days)
SETTINGS allow_nullable_key = 1;

CREATE TABLE IF NOT EXISTS metric_rollups_1h AS metric_rollups_1m
ENGINE = AggregatingMergeTree
PARTITION BY toDate(intDiv(bucket, 1000))
ORDER BY (org_id, bucket, host, service, metric_name)
TTL toDateTime(intDiv(bucket, 1000) + 3600) + toIntervalDay(retention_days)
SETTINGS allow_nullable_key = 1;

-- The minute rows of the raw tables (floor of the ns time to the minute, as epoch ms).

INSERT INTO span_rollups_1m
SELECT org_id, intDiv(timestamp - positiveModulo(timestamp, 60000000000), 1000000) AS bucket,
	service, host, name, kind, toUInt8(parent_span_id IS NULL) AS is_root, status_code,
	count() AS count, sum(duration_ns) AS duration_sum_ns, min(duration_ns) AS duration_min_ns,
	max(duration_ns) AS duration_max_ns, max(timestamp) AS last_ts, max(retention_days) AS retention_days
FROM spans
GROUP BY org_id, bucket, service, host, name, kind, is_root, status_code;

INSERT INTO span_latency_1m
SELECT org_id, intDiv(timestamp - positiveModulo(timestamp, 60000000000), 1000000) AS bucket,
	service, name, kind, toUInt8(parent_span_id IS NULL) AS is_root,
	count() AS count, countIf(status_code = 'error') AS error_count, sum(duration_ns) AS duration_sum_ns,
	min(duration_ns) AS duration_min_ns, max(duration_ns) AS duration_max_ns,
	sumMap(map(toUInt16(if(duration_ns < 1, 0, toInt64(floor(log2(duration_ns) * 8)) + 1)), toUInt64(1))) AS hist,
	max(timestamp) AS last_ts, max(retention_days) AS retention_days
FROM spans
GROUP BY org_id, bucket, service, name, kind, is_root;

INSERT INTO log_rollups_1m
SELECT org_id, intDiv(timestamp - positiveModulo(timestamp, 60000000000), 1000000) AS bucket,
	service, host, level, count() AS count, max(timestamp) AS last_ts, max(retention_days) AS retention_days
FROM logs
GROUP BY org_id, bucket, service, host, level;

INSERT INTO metric_rollups_1m
SELECT org_id, intDiv(timestamp - positiveModulo(timestamp, 60000000000), 1000000) AS bucket,
	host, service, metric_name, count() AS count,
	countIf(kind IN ('gauge', 'sum') AND value IS NOT NULL) AS value_count,
	sumIf(assumeNotNull(value), kind IN ('gauge', 'sum') AND value IS NOT NULL) AS value_sum,
	minIf(value, kind IN ('gauge', 'sum')) AS value_min,
	maxIf(value, kind IN ('gauge', 'sum')) AS value_max,
	max(timestamp) AS last_ts, max(retention_days) AS retention_days
FROM metric_points
GROUP BY org_id, bucket, host, service, metric_name;

-- The hour rows of the minute rows.

INSERT INTO span_rollups_1h
SELECT org_id, bucket - positiveModulo(bucket, 3600000) AS hour, service, host, name, kind, is_root,
	status_code, sum(count), sum(duration_sum_ns), min(duration_min_ns), max(duration_max_ns),
	max(last_ts), max(retention_days)
FROM span_rollups_1m
GROUP BY org_id, hour, service, host, name, kind, is_root, status_code;

INSERT INTO span_latency_1h
SELECT org_id, bucket - positiveModulo(bucket, 3600000) AS hour, service, name, kind, is_root,
	sum(count), sum(error_count), sum(duration_sum_ns), min(duration_min_ns), max(duration_max_ns),
	sumMap(hist), max(last_ts), max(retention_days)
FROM span_latency_1m
GROUP BY org_id, hour, service, name, kind, is_root;

INSERT INTO log_rollups_1h
SELECT org_id, bucket - positiveModulo(bucket, 3600000) AS hour, service, host, level, sum(count),
	max(last_ts), max(retention_days)
FROM log_rollups_1m
GROUP BY org_id, hour, service, host, level;

INSERT INTO metric_rollups_1h
SELECT org_id, bucket - positiveModulo(bucket, 3600000) AS hour, host, service, metric_name,
	sum(count), sum(value_count), sum(value_sum), min(value_min), max(value_max), max(last_ts),
	max(retention_days)
FROM metric_rollups_1m
GROUP BY org_id, hour, host, service, metric_name;

-- The views: from now on every insert keeps the rollups.

CREATE MATERIALIZED VIEW IF NOT EXISTS span_rollups_1m_mv TO span_rollups_1m AS
SELECT org_id, intDiv(timestamp - positiveModulo(timestamp, 60000000000), 1000000) AS bucket,
	service, host, name, kind, toUInt8(parent_span_id IS NULL) AS is_root, status_code,
	count() AS count, sum(duration_ns) AS duration_sum_ns, min(duration_ns) AS duration_min_ns,
	max(duration_ns) AS duration_max_ns, max(timestamp) AS last_ts, max(retention_days) AS retention_days
FROM spans
GROUP BY org_id, bucket, service, host, name, kind, is_root, status_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS span_latency_1m_mv TO span_latency_1m AS
SELECT org_id, intDiv(timestamp - positiveModulo(timestamp, 60000000000), 1000000) AS bucket,
	service, name, kind, toUInt8(parent_span_id IS NULL) AS is_root,
	count() AS count, countIf(status_code = 'error') AS error_count, sum(duration_ns) AS duration_sum_ns,
	min(duration_ns) AS duration_min_ns, max(duration_ns) AS duration_max_ns,
	sumMap(map(toUInt16(if(duration_ns < 1, 0, toInt64(floor(log2(duration_ns) * 8)) + 1)), toUInt64(1))) AS hist,
	max(timestamp) AS last_ts, max(retention_days) AS retention_days
FROM spans
GROUP BY org_id, bucket, service, name, kind, is_root;

CREATE MATERIALIZED VIEW IF NOT EXISTS log_rollups_1m_mv TO log_rollups_1m AS
SELECT org_id, intDiv(timestamp - positiveModulo(timestamp, 60000000000), 1000000) AS bucket,
	service, host, level, count() AS count, max(timestamp) AS last_ts, max(retention_days) AS retention_days
FROM logs
GROUP BY org_id, bucket, service, host, level;

CREATE MATERIALIZED VIEW IF NOT EXISTS metric_rollups_1m_mv TO metric_rollups_1m AS
SELECT org_id, intDiv(timestamp - positiveModulo(timestamp, 60000000000), 1000000) AS bucket,
	host, service, metric_name, count() AS count,
	countIf(kind IN ('gauge', 'sum') AND value IS NOT NULL) AS value_count,
	sumIf(assumeNotNull(value), kind IN ('gauge', 'sum') AND value IS NOT NULL) AS value_sum,
	minIf(value, kind IN ('gauge', 'sum')) AS value_min,
	maxIf(value, kind IN ('gauge', 'sum')) AS value_max,
	max(timestamp) AS last_ts, max(retention_days) AS retention_days
FROM metric_points
GROUP BY org_id, bucket, host, service, metric_name;

CREATE MATERIALIZED VIEW IF NOT EXISTS span_rollups_1h_mv TO span_rollups_1h AS
SELECT org_id, bucket - positiveModulo(bucket, 3600000) AS bucket, service, host, name, kind, is_root,
	status_code, sum(count) AS count, sum(duration_sum_ns) AS duration_sum_ns,
	min(duration_min_ns) AS duration_min_ns, max(duration_max_ns) AS duration_max_ns,
	max(last_ts) AS last_ts, max(retention_days) AS retention_days
FROM span_rollups_1m
GROUP BY org_id, bucket, service, host, name, kind, is_root, status_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS span_latency_1h_mv TO span_latency_1h AS
SELECT org_id, bucket - positiveModulo(bucket, 3600000) AS bucket, service, name, kind, is_root,
	sum(count) AS count, sum(error_count) AS error_count, sum(duration_sum_ns) AS duration_sum_ns,
	min(duration_min_ns) AS duration_min_ns, max(duration_max_ns) AS duration_max_ns,
	sumMap(hist) AS hist, max(last_ts) AS last_ts, max(retention_days) AS retention_days
FROM span_latency_1m
GROUP BY org_id, bucket, service, name, kind, is_root;

CREATE MATERIALIZED VIEW IF NOT EXISTS log_rollups_1h_mv TO log_rollups_1h AS
SELECT org_id, bucket - positiveModulo(bucket, 3600000) AS bucket, service, host, level,
	sum(count) AS count, max(last_ts) AS last_ts, max(retention_days) AS retention_days
FROM log_rollups_1m
GROUP BY org_id, bucket, service, host, level;

CREATE MATERIALIZED VIEW IF NOT EXISTS metric_rollups_1h_mv TO metric_rollups_1h AS
SELECT org_id, bucket - positiveModulo(bucket, 3600000) AS bucket, host, service, metric_name,
	sum(count) AS count, sum(value_count) AS value_count, sum(value_sum) AS value_sum,
	min(value_min) AS value_min, max(value_max) AS value_max, max(last_ts) AS last_ts,
	max(retention_days) AS retention_days
FROM metric_rollups_1m
GROUP BY org_id, bucket, host, service, metric_name;
