import { parseJsonExact } from "../http/json-exact.js";

/**
 * Telemetry rows as the ClickHouse schema stores them (clickhouse/migrations/0001_telemetry.sql),
 * from rows as libSQL stores them (src/db/schema-telemetry.ts): attribute JSON objects become
 * Map(String, String) (strings as they are, any other value as its JSON text, integers past 2^53
 * exact), a missing log body becomes '', integers that are bigints travel as decimal text (JSON has
 * no int64; ClickHouse reads quoted numbers), and every row carries its org's retention in days.
 */

export type TelemetryTable = "logs" | "spans" | "metric_points";

const MAP_COLUMNS = ["resource_attributes", "scope_attributes", "attributes"] as const;

/** A stored attribute object (JSON text) as a ClickHouse Map(String, String). */
export function attributeMap(json: unknown): Record<string, string> {
	if (json === null || json === undefined || json === "") return {};
	const object = typeof json === "string" ? parseJsonExact(json) : json;
	if (object === null || typeof object !== "object" || Array.isArray(object)) return {};
	const map: Record<string, string> = {};
	for (const [key, value] of Object.entries(object)) {
		map[key] = typeof value === "string" ? value : JSON.stringify(value);
	}
	return map;
}

/** One libSQL-shaped row (column → value) as a JSONEachRow object for the ClickHouse table. */
export function toClickHouseRow(
	table: TelemetryTable,
	row: Readonly<Record<string, unknown>>,
	retentionDays: number,
): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	for (const [column, value] of Object.entries(row)) {
		if (column === "id") continue;
		if ((MAP_COLUMNS as readonly string[]).includes(column)) out[column] = attributeMap(value);
		else if (typeof value === "bigint") out[column] = value.toString();
		else if (column === "is_monotonic" && typeof value === "number") out[column] = value !== 0;
		else out[column] = value ?? null;
	}
	for (const column of MAP_COLUMNS) out[column] ??= {};
	if (table === "logs") out.body ??= "";
	out.retention_days = retentionDays;
	return out;
}

/** What inserting needs of a ClickHouse client (both official clients have it). */
export interface InsertClickHouseClient {
	insert(params: {
		table: string;
		values: Record<string, unknown>[];
		format: "JSONEachRow";
	}): Promise<unknown>;
}

/** Inserts rows in batches of `batchRows` (ClickHouse wants few, large inserts). Returns the rows written. */
export async function insertTelemetry(
	client: InsertClickHouseClient,
	table: TelemetryTable,
	rows: Iterable<Readonly<Record<string, unknown>>>,
	options: { retentionDays: number; batchRows?: number },
): Promise<number> {
	const batchRows = options.batchRows ?? 100_000;
	let batch: Record<string, unknown>[] = [];
	let written = 0;
	const flush = async () => {
		if (batch.length === 0) return;
		await client.insert({ table, values: batch, format: "JSONEachRow" });
		written += batch.length;
		batch = [];
	};
	for (const row of rows) {
		batch.push(toClickHouseRow(table, row, options.retentionDays));
		if (batch.length >= batchRows) await flush();
	}
	await flush();
	return written;
}
