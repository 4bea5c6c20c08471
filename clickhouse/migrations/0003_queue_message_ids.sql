-- Exactly once through the queue (docs/scale-out.md, "Delivery guarantees"): each row the queue
-- consumer inserts carries the id of the queue message it came in (`<export id>:<part>`), so that a
-- message delivered again after its rows were inserted — the receipt write in libSQL failed, or the
-- consumer stopped between the two — is found in ClickHouse and not inserted twice. Rows written
-- directly (not through the queue) have ''. A bloom filter finds a batch's ids in the few granules
-- that hold them, within the org and time range of the batch's rows (the sort key).
ALTER TABLE logs ADD COLUMN IF NOT EXISTS queue_message_id String DEFAULT '' CODEC(ZSTD(1));

ALTER TABLE logs ADD INDEX IF NOT EXISTS idx_queue_message_id queue_message_id TYPE bloom_filter(0.001) GRANULARITY 1;

ALTER TABLE spans ADD COLUMN IF NOT EXISTS queue_message_id String DEFAULT '' CODEC(ZSTD(1));

ALTER TABLE spans ADD INDEX IF NOT EXISTS idx_queue_message_id queue_message_id TYPE bloom_filter(0.001) GRANULARITY 1;

ALTER TABLE metric_points ADD COLUMN IF NOT EXISTS queue_message_id String DEFAULT '' CODEC(ZSTD(1));

ALTER TABLE metric_points ADD INDEX IF NOT EXISTS idx_queue_message_id queue_message_id TYPE bloom_filter(0.001) GRANULARITY 1;
