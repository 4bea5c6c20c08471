import type { Database } from "../db/client.js";
import { orgs } from "../db/schema.js";
import { libsqlClientOf } from "./writer.js";

/**
 * Telemetry retention, run by the sweep: rows older than their org's `retention_days` are deleted in
 * batches of RETENTION_BATCH_ROWS (each a short write transaction found through the org + time
 * index), at most MAX_BATCHES per table and org per sweep, so one sweep stays bounded however much
 * is due; the rest goes on the next minute. Discovery entries not seen within the retention go too.
 */
export const RETENTION_BATCH_ROWS = 5_000;
export const RETENTION_MAX_BATCHES = 20;
const TELEMETRY_TABLES = ["spans", "logs", "metric_points"] as const;
const DAY_MS = 86_400_000;

export async function sweepTelemetryRetention(
	db: Database,
	nowMs: number,
	limits = { batchRows: RETENTION_BATCH_ROWS, maxBatches: RETENTION_MAX_BATCHES },
): Promise<number> {
	const client = libsqlClientOf(db);
	const orgRows = await db.select({ id: orgs.id, retentionDays: orgs.retentionDays }).from(orgs);
	let deleted = 0;
	for (const org of orgRows) {
		const cutoffMs = nowMs - org.retentionDays * DAY_MS;
		const cutoffNs = BigInt(cutoffMs) * 1_000_000n;
		for (const table of TELEMETRY_TABLES) {
			for (let batch = 0; batch < limits.maxBatches; batch++) {
				const result = await client.execute({
					sql: `DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE org_id = ? AND timestamp < ? LIMIT ?)`,
					args: [org.id, cutoffNs, limits.batchRows],
				});
				deleted += result.rowsAffected;
				if (result.rowsAffected < limits.batchRows) break;
			}
		}
		await client.batch(
			[
				{ sql: "DELETE FROM attribute_keys WHERE org_id = ? AND last_seen < ?", args: [org.id, cutoffMs] },
				{ sql: "DELETE FROM metric_names WHERE org_id = ? AND last_seen < ?", args: [org.id, cutoffMs] },
			],
			"write",
		);
	}
	return deleted;
}
