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
const isMapColumn = (column: string) =>
	column === "attributes" || column === "resource_attributes" || column === "scope_attributes";

/**
 * A stored attribute object (JSON text) as a ClickHouse Map(String, String): strings as they are,
 * other values as their JSON text. Text that parses to an object of strings is used as parsed (the
 * queue consumer converts three maps a row: no copy when nothing changes). A key named `__proto__`
 * stays a key.
 */
export function attributeMap(json: unknown): Record<string, string> {
	if (json === null || json === undefined || json === "") return {};
	const parsed = typeof json === "string";
	const object = parsed ? parseJsonExact(json) : json;
	if (object === null || typeof object !== "object" || Array.isArray(object)) return {};
	const entries = Object.entries(object);
	if (parsed && entries.every(([, value]) => typeof value === "string"))
		return object as Record<string, string>;
	const map: Record<string, string> = {};
	for (const [key, value] of entries) {
		const text = typeof value === "string" ? value : JSON.stringify(value);
		if (key === "__proto__")
			Object.defineProperty(map, key, { value: text, enumerable: true, writable: true, configurable: true });
		else map[key] = text;
	}
	return map;
}

/**
 * Attribute maps already converted, by their JSON text: the rows of one batch share a few resource
 * and scope attribute texts (and often `{}`), converted once. The maps are shared between rows and
 * only read (serialized) afterwards.
 */
export type AttributeMaps = Map<string, Record<string, string>>;

/** One column's value as the ClickHouse table takes it (see the module's comment). */
function clickHouseValue(column: string, value: unknown, maps?: AttributeMaps): unknown {
	if (isMapColumn(column)) {
		if (!maps || typeof value !== "string") return attributeMap(value);
		let map = maps.get(value);
		if (!map) {
			map = attributeMap(value);
			maps.set(value, map);
		}
		return map;
	}
	if (typeof value === "bigint") return value.toString();
	if (column === "is_monotonic" && typeof value === "number") return value !== 0;
	return value ?? null;
}

/**
 * One row, given as its values in `columns` order from `values[offset]` on (as the ingest batches and
 * the queue's messages hold them), as a JSONEachRow object for the ClickHouse table; `maps` shares
 * the attribute maps of the rows converted with it.
 */
export function clickHouseRowOf(
	table: TelemetryTable,
	columns: readonly string[],
	values: ArrayLike<unknown>,
	offset: number,
	retentionDays: number,
	maps?: AttributeMaps,
): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	for (let i = 0; i < columns.length; i++) {
		const column = columns[i] as string;
		if (column !== "id") out[column] = clickHouseValue(column, values[offset + i], maps);
	}
	for (const column of MAP_COLUMNS) out[column] ??= {};
	if (table === "logs") out.body ??= "";
	out.retention_days = retentionDays;
	return out;
}

/** One libSQL-shaped row (column → value) as a JSONEachRow object for the ClickHouse table. */
export function toClickHouseRow(
	table: TelemetryTable,
	row: Readonly<Record<string, unknown>>,
	retentionDays: number,
): Record<string, unknown> {
	return clickHouseRowOf(table, Object.keys(row), Object.values(row), 0, retentionDays);
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
