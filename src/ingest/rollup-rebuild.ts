import type { Client, InValue } from "@libsql/client";
import { LOG_COLUMNS, METRIC_POINT_COLUMNS, SPAN_COLUMNS } from "./batch.js";
import { RollupCollector } from "./rollups.js";

/**
 * Rebuilds an org's rollups from its raw rows: for data written before the rollups existed (the
 * migration that adds them starts them empty; `applyMigrations` backfills once) and for rows written
 * around the ingest path (test and bench fixtures). Reads the raw rows in rowid order, a page at a
 * time, and upserts each page's aggregates: the same code as ingest, so the same answers.
 */
const PAGE_ROWS = 20_000;
const ROLLUP_TABLES = ["span_rollups", "span_latency", "log_rollups", "metric_rollups"].flatMap((t) => [
	`${t}_1m`,
	`${t}_1h`,
]);

const SOURCES = [
	{
		table: "spans",
		columns: SPAN_COLUMNS,
		read: ["timestamp", "duration_ns", "parent_span_id", "name", "kind", "status_code", "service", "host"],
		add: (c: RollupCollector, args: InValue[]) => c.addSpan(args, 0),
	},
	{
		table: "logs",
		columns: LOG_COLUMNS,
		read: ["timestamp", "level", "service", "host"],
		add: (c: RollupCollector, args: InValue[]) => c.addLog(args, 0),
	},
	{
		table: "metric_points",
		columns: METRIC_POINT_COLUMNS,
		read: ["timestamp", "metric_name", "kind", "value", "service", "host"],
		add: (c: RollupCollector, args: InValue[]) => c.addMetricPoint(args, 0),
	},
] as const;

/** Integers that may exceed 2^53 (ns) are read as text and turned back into BigInt. */
const EXACT = new Set(["timestamp", "duration_ns"]);

export async function rebuildRollups(client: Client, orgId: string): Promise<void> {
	await client.batch(
		ROLLUP_TABLES.map((table) => ({ sql: `DELETE FROM ${table} WHERE org_id = ?`, args: [orgId] })),
		"write",
	);
	for (const source of SOURCES) {
		const select = source.read.map((c) => (EXACT.has(c) ? `CAST(${c} AS TEXT) AS ${c}` : c)).join(", ");
		let after = 0;
		for (;;) {
			const page = await client.execute({
				sql: `SELECT id, ${select} FROM ${source.table} WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?`,
				args: [orgId, after, PAGE_ROWS],
			});
			if (page.rows.length === 0) break;
			const collector = new RollupCollector(orgId);
			const args: InValue[] = new Array(source.columns.length).fill(null);
			for (const row of page.rows) {
				for (const column of source.read) {
					const value = row[column] as InValue;
					args[source.columns.indexOf(column as never)] =
						EXACT.has(column) && value !== null ? BigInt(String(value)) : (value ?? null);
				}
				source.add(collector, args);
			}
			await client.batch(collector.statements(), "write");
			after = Number(page.rows.at(-1)?.id);
			if (page.rows.length < PAGE_ROWS) break;
		}
	}
}

/** Once, after the migration that adds the rollups: orgs with raw rows and no rollup yet get theirs. */
export async function backfillRollups(client: Client): Promise<void> {
	const orgs = await client.execute(
		"SELECT id FROM orgs WHERE (EXISTS (SELECT 1 FROM spans WHERE org_id = orgs.id) OR EXISTS (SELECT 1 FROM logs WHERE org_id = orgs.id) OR EXISTS (SELECT 1 FROM metric_points WHERE org_id = orgs.id))" +
			" AND NOT EXISTS (SELECT 1 FROM span_rollups_1h WHERE org_id = orgs.id) AND NOT EXISTS (SELECT 1 FROM log_rollups_1h WHERE org_id = orgs.id) AND NOT EXISTS (SELECT 1 FROM metric_rollups_1h WHERE org_id = orgs.id)",
	);
	for (const row of orgs.rows) await rebuildRollups(client, String(row.id));
}
