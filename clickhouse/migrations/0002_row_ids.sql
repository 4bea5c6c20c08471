-- Row ids for the built-in pages (src/pages/*): libSQL numbers its rows (`id`, the rowid), and the
-- pages use it to break ties between rows of the same nanosecond (newest-first order, keyset
-- cursors `[timestamp, id]`) and to name a log record. ClickHouse has no row numbers, so `id` is
-- an ALIAS column — computed when read, never stored, nothing for a writer to send: a hash of the
-- row's content, cut to 53 bits so that it is a safe JSON integer. Equal rows (the same record
-- sent twice) share an id; a cursor between two of them skips the second (docs/scale-out.md).
ALTER TABLE logs ADD COLUMN IF NOT EXISTS id UInt64 ALIAS bitAnd(cityHash64(tuple(timestamp, observed_timestamp, severity_number, severity_text, level, body, trace_id, span_id, event_name, service, host, scope_name, scope_version, resource_attributes, scope_attributes, attributes)), 9007199254740991);

ALTER TABLE spans ADD COLUMN IF NOT EXISTS id UInt64 ALIAS bitAnd(cityHash64(tuple(timestamp, duration_ns, trace_id, span_id, parent_span_id, name, kind, status_code, status_message, service, host, scope_name, scope_version, resource_attributes, scope_attributes, attributes, events, links)), 9007199254740991);

ALTER TABLE metric_points ADD COLUMN IF NOT EXISTS id UInt64 ALIAS bitAnd(cityHash64(tuple(timestamp, start_timestamp, metric_name, kind, value, count, sum, service, host, resource_attributes, attributes)), 9007199254740991);
