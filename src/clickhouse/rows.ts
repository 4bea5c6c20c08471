import { parseJsonExact } from "../http/json-exact.js";

/**
 * Telemetry rows as the ClickHouse schema stores them (clickhouse/migrations/0001_telemetry.sql),
 * from rows as libSQL stores them (src/db/schema-telemetry.ts): attribute JSON objects become
 * Map(String, String) (strings as they are, any other value as its JSON text, integers past 2^53
 * exact), a missing log body becomes '', integers that are bigints travel as decimal text (JSON has
 * no int64; ClickHouse reads quoted numbers), and every row carries its org's retention in days.
 * Rows travel as arrays of values with the INSERT's column list (JSONCompactEachRow), not as objects.
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

/** How a table's INSERT columns are filled from the stored columns: an index, or a default. */
interface Layout {
	/** The INSERT's columns: the stored ones but `id`, missing maps and log body, `retention_days`. */
	columns: readonly string[];
	/** Per INSERT column but the last (retention_days): its stored column's index, or -1 (a default). */
	sources: readonly number[];
	/** The log body's INSERT column ('' for none: its token index needs a String), or -1. */
	bodyAt: number;
}

const layouts = new WeakMap<readonly string[], Map<TelemetryTable, Layout>>();

function layoutOf(table: TelemetryTable, columns: readonly string[]): Layout {
	let byTable = layouts.get(columns);
	if (!byTable) {
		byTable = new Map();
		layouts.set(columns, byTable);
	}
	let layout = byTable.get(table);
	if (!layout) {
		const out: string[] = [];
		const sources: number[] = [];
		columns.forEach((column, i) => {
			if (column === "id") return;
			out.push(column);
			sources.push(i);
		});
		const missing = [...MAP_COLUMNS, ...(table === "logs" ? ["body"] : [])].filter(
			(c) => !columns.includes(c),
		);
		for (const column of missing) {
			out.push(column);
			sources.push(-1);
		}
		out.push("retention_days");
		layout = { columns: out, sources, bodyAt: table === "logs" ? out.indexOf("body") : -1 };
		byTable.set(table, layout);
	}
	return layout;
}

/**
 * The columns of a table's INSERT (JSONCompactEachRow), in the order clickHouseRowOf gives a row's
 * values: the stored `columns` but `id`, any attribute map (and for logs the body) they lack, then
 * `retention_days`. The same array for the same table and `columns` array.
 */
export function clickHouseColumns(table: TelemetryTable, columns: readonly string[]): readonly string[] {
	return layoutOf(table, columns).columns;
}

/**
 * One row, given as its values in `columns` order from `values[offset]` on (as the ingest batches and
 * the queue's messages hold them), as the ClickHouse table takes it: its values in the order of
 * clickHouseColumns(table, columns) — ClickHouse reads such rows (JSONCompactEachRow) with less work
 * than objects (docs/performance.md). `maps` shares the attribute maps of the rows converted with it.
 */
export function clickHouseRowOf(
	table: TelemetryTable,
	columns: readonly string[],
	values: ArrayLike<unknown>,
	offset: number,
	retentionDays: number,
	maps?: AttributeMaps,
): unknown[] {
	const { columns: names, sources, bodyAt } = layoutOf(table, columns);
	const out: unknown[] = new Array(sources.length + 1);
	for (let i = 0; i < sources.length; i++) {
		const source = sources[i] as number;
		const value = source < 0 ? {} : clickHouseValue(names[i] as string, values[offset + source], maps);
		out[i] = i === bodyAt && (source < 0 || value === null) ? "" : value;
	}
	out[sources.length] = retentionDays;
	return out;
}

/** What inserting needs of a ClickHouse client (both official clients have it). */
export interface InsertClickHouseClient {
	insert(params: {
		table: string;
		values: unknown[][];
		columns: [string, ...string[]];
		format: "JSONCompactEachRow";
	}): Promise<unknown>;
}

/** A table's INSERT columns as the clients take them (a non-empty list). */
export function insertColumns(columns: readonly string[]): [string, ...string[]] {
	return columns as [string, ...string[]];
}

/**
 * Inserts rows (objects of stored columns, all of one shape: the first's keys) in batches of
 * `batchRows` (ClickHouse wants few, large inserts). Returns the rows written.
 */
export async function insertTelemetry(
	client: InsertClickHouseClient,
	table: TelemetryTable,
	rows: Iterable<Readonly<Record<string, unknown>>>,
	options: { retentionDays: number; batchRows?: number },
): Promise<number> {
	const batchRows = options.batchRows ?? 100_000;
	let keys: readonly string[] | undefined;
	let batch: unknown[][] = [];
	let maps: AttributeMaps = new Map();
	let written = 0;
	const flush = async () => {
		if (batch.length === 0 || !keys) return;
		const columns = insertColumns(clickHouseColumns(table, keys));
		await client.insert({ table, values: batch, columns, format: "JSONCompactEachRow" });
		written += batch.length;
		batch = [];
		maps = new Map();
	};
	for (const row of rows) {
		keys ??= Object.keys(row);
		batch.push(
			clickHouseRowOf(
				table,
				keys,
				keys.map((key) => row[key]),
				0,
				options.retentionDays,
				maps,
			),
		);
		if (batch.length >= batchRows) await flush();
	}
	await flush();
	return written;
}
