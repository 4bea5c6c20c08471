/**
 * Rows as the ClickHouse tables take them (src/clickhouse/rows.ts): attribute maps, bigints, booleans,
 * defaults, as arrays of values in the order of their INSERT's columns (JSONCompactEachRow).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
	attributeMap,
	clickHouseColumns,
	clickHouseRowOf,
	type TelemetryTable,
} from "../../src/clickhouse/rows.js";
import { parseJsonExact } from "../../src/http/json-exact.js";
import { QUEUE_TABLES } from "../../src/ingest/queue.js";

describe("attribute maps for ClickHouse", () => {
	it("keeps strings, writes other values as their JSON text, integers past 2^53 exact", () => {
		expect(
			attributeMap('{"a":"x","n":1.5,"b":true,"z":null,"arr":[1,"2"],"o":{"k":1},"big":9007199254740993}'),
		).toEqual({
			a: "x",
			n: "1.5",
			b: "true",
			z: "null",
			arr: '[1,"2"]',
			o: '{"k":1}',
			big: "9007199254740993",
		});
	});

	it("keeps a key named __proto__ as a key", () => {
		for (const text of ['{"__proto__":"x"}', '{"__proto__":1,"a":"b"}']) {
			const map = attributeMap(text);
			expect(Object.keys(map)).toContain("__proto__");
			expect(Object.getPrototypeOf(map)).toBe(Object.prototype);
			expect(JSON.stringify(map)).toBe(JSON.stringify(Object.fromEntries(Object.entries(map))));
		}
		expect(JSON.parse(JSON.stringify(attributeMap('{"__proto__":1,"a":"b"}')))).toEqual(
			JSON.parse('{"__proto__":"1","a":"b"}'),
		);
	});

	it("gives {} for no attributes or anything that is not an object", () => {
		for (const value of [null, undefined, "", "[]", '"text"', "3", {}])
			expect(attributeMap(value)).toEqual({});
	});

	it("maps any JSON object as each value's text (property)", () => {
		fc.assert(
			fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
				const text = JSON.stringify(object);
				const expected = Object.fromEntries(
					Object.entries(parseJsonExact(text) as object).map(([key, value]) => [
						key,
						typeof value === "string" ? value : JSON.stringify(value),
					]),
				);
				expect(JSON.stringify(attributeMap(text))).toBe(JSON.stringify(expected));
			}),
		);
	});
});

/** A row's values by their INSERT column. */
function named(
	table: TelemetryTable,
	columns: readonly string[],
	values: unknown[],
): Record<string, unknown> {
	const names = clickHouseColumns(table, columns);
	expect(values).toHaveLength(names.length);
	return Object.fromEntries(names.map((name, i) => [name, values[i]]));
}

describe("rows for ClickHouse", () => {
	it("convert bigints, booleans and maps, from any offset, with the org's retention last", () => {
		const columns = QUEUE_TABLES.metric_points as readonly string[];
		const values = columns.map((column, i) =>
			column === "org_id"
				? "org_a"
				: column === "timestamp"
					? 1_700_000_000_000_000_123n
					: column === "is_monotonic"
						? 1
						: column.endsWith("attributes")
							? '{"k":2}'
							: i % 2 === 0
								? null
								: `v${i}`,
		);
		const row = named(
			"metric_points",
			columns,
			clickHouseRowOf("metric_points", columns, [0, ...values], 1, 7),
		);
		expect(clickHouseColumns("metric_points", columns)).toEqual([
			...columns.filter((c) => c !== "id"),
			"retention_days",
		]);
		expect(row.org_id).toBe("org_a");
		expect(row.timestamp).toBe("1700000000000000123");
		expect(row.is_monotonic).toBe(true);
		expect(row.attributes).toEqual({ k: "2" });
		expect(row.retention_days).toBe(7);
	});

	it("share the attribute maps of one batch: each text converted once, the rows the same as without", () => {
		const columns = ["org_id", "timestamp", "body", "resource_attributes", "attributes"];
		const rowsOf = (n: number) => [
			["org_a", BigInt(n), `line ${n}`, '{"service.name":"api","n":1}', `{"i":${n}}`],
		];
		const maps = new Map<string, Record<string, string>>();
		const shared = [0, 1, 2].map((n) =>
			named("logs", columns, clickHouseRowOf("logs", columns, rowsOf(n)[0] as unknown[], 0, 30, maps)),
		);
		const alone = [0, 1, 2].map((n) =>
			named("logs", columns, clickHouseRowOf("logs", columns, rowsOf(n)[0] as unknown[], 0, 30)),
		);
		expect(shared).toEqual(alone);
		expect(shared[0]?.resource_attributes).toBe(shared[2]?.resource_attributes);
		expect(shared[0]?.resource_attributes).toEqual({ "service.name": "api", n: "1" });
		expect(shared[0]?.attributes).not.toBe(shared[1]?.attributes);
		expect(maps.size).toBe(4);
	});

	it("drop the libSQL id, fill missing maps with {} and a missing log body with ''", () => {
		const columns = ["id", "org_id", "timestamp", "body"];
		const row = named("logs", columns, clickHouseRowOf("logs", columns, [5, "org_a", 1n, null], 0, 30));
		expect(row).toEqual({
			org_id: "org_a",
			timestamp: "1",
			body: "",
			resource_attributes: {},
			scope_attributes: {},
			attributes: {},
			retention_days: 30,
		});
	});

	it("fill a log without a body column with '' (and the columns say so)", () => {
		const columns = ["org_id", "timestamp"];
		expect(clickHouseColumns("logs", columns)).toEqual([
			"org_id",
			"timestamp",
			"resource_attributes",
			"scope_attributes",
			"attributes",
			"body",
			"retention_days",
		]);
		expect(clickHouseRowOf("logs", columns, ["org_a", 2n], 0, 3)).toEqual(["org_a", "2", {}, {}, {}, "", 3]);
		// Spans have no body.
		expect(clickHouseColumns("spans", columns)).not.toContain("body");
	});
});
