import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The Cloudflare Queues path between edge ingest and storage (src/ingest/queue.ts,
 * docs/scale-out.md). Both tables stay empty on Node and on a Worker without a queue binding.
 */

/**
 * One row per queue message whose rows are stored, written in the same transaction as the rows: a
 * message delivered again (Queues deliver at least once) finds its receipt and is acknowledged
 * without being stored twice. Pruned by the sweep once no redelivery can come
 * (QUEUE_RECEIPT_TTL_MS, above the longest queue retention).
 */
export const queueReceipts = sqliteTable(
	"queue_receipts",
	{
		messageId: text("message_id").primaryKey(),
		storedAt: integer("stored_at").notNull(),
	},
	(t) => [index("queue_receipts_stored_at").on(t.storedAt)],
);

/**
 * Messages the dead-letter queue delivered (they were not stored after the consumer's retries):
 * parked here to be listed and replayed with `hexcovery queue dead-letters` / `queue replay`.
 * `body` is the message as sent (JSON text); `org_id` is null when the body does not even say.
 */
export const queueDeadLetters = sqliteTable(
	"queue_dead_letters",
	{
		messageId: text("message_id").primaryKey(),
		orgId: text("org_id"),
		queue: text("queue").notNull(),
		body: text("body").notNull(),
		attempts: integer("attempts").notNull(),
		reason: text("reason").notNull(),
		parkedAt: integer("parked_at").notNull(),
	},
	(t) => [index("queue_dead_letters_parked_at").on(t.parkedAt)],
);
