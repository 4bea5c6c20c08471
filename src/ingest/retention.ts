import type { Database } from "../db/client.js";
import { orgs } from "../db/schema.js";
import { libsqlClientOf } from "./writer.js";

/**
 * Telemetry retention, run by the sweep: rows older than their org's `retention_days` are deleted in
 * batches of RETENTION_BATCH_ROWS (each a short write transaction found through the org + time
 * index), at most MAX_BATCHES per table and org per sweep, so one sweep stays bounded however much
 * is due; the rest goes on the next minute. Rollup buckets go once they end before the cutoff (not
 * counted in the number returned, which is raw rows). Discovery entries not seen within the retention
 * go in sweepDiscoveryRetention (libSQL whichever store holds the rows: src/telemetry/store.ts).
 */
export const RETENTION_BATCH_ROWS = 5_000;
export const RETENTION_MAX_BATCHES = 20;
const TELEMETRY_TABLES = ["spans", "logs", "metric_points"] as const;
/** Rollups (src/ingest/rollups.ts) with their bucket width: a bucket goes once all of it is past the cutoff. */
const ROLLUP_TABLES = [
	...(["span_rollups", "span_latency", "log_rollups", "metric_rollups"] as const).flatMap((t) => [
		{ table: `${t}_1m`, widthMs: 60_000 },
		{ table: `${t}_1h`, widthMs: 3_600_000 },
	]),
];
const DAY_MS = 86_400_000;

export async function sweepTelemetryRetention(
	db: Database,
	nowMs: number,
	limits = { batchRows: RETENTION_BATCH_ROWS, maxBatches: RETENTION_MAX_BATCHES },
): Promise<number> {
	const client = libsqlClientOf(db);
	const orgRows = await orgRetentions(db);
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
		for (const { table, widthMs } of ROLLUP_TABLES) {
			for (let batch = 0; batch < limits.maxBatches; batch++) {
				const result = await client.execute({
					sql: `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE org_id = ? AND bucket <= ? LIMIT ?)`,
					args: [org.id, cutoffMs - widthMs, limits.batchRows],
				});
				if (result.rowsAffected < limits.batchRows) break;
			}
		}
	}
	return deleted;
}

/** Every org's retention in days. */
export function orgRetentions(db: Database): Promise<{ id: string; retentionDays: number }[]> {
	return db.select({ id: orgs.id, retentionDays: orgs.retentionDays }).from(orgs);
}

/** Schema discovery (attribute keys, metric names) not seen within each org's retention. */
export async function sweepDiscoveryRetention(db: Database, nowMs: number): Promise<void> {
	const client = libsqlClientOf(db);
	for (const org of await orgRetentions(db)) {
		const cutoffMs = nowMs - org.retentionDays * DAY_MS;
		await client.batch(
			[
				{ sql: "DELETE FROM attribute_keys WHERE org_id = ? AND last_seen < ?", args: [org.id, cutoffMs] },
				{ sql: "DELETE FROM metric_names WHERE org_id = ? AND last_seen < ?", args: [org.id, cutoffMs] },
			],
			"write",
		);
	}
}
