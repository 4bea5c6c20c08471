/**
 * The ClickHouse dialect's statements, without the engine (the answers are compared with libSQL's in
 * test/clickhouse/differential.test.ts when the engine is installed): the same safety invariants as
 * SQLite's — the org and time guard first on the one read of the table, values only in typed query
 * parameters, identifiers only from the storage map — and what each construct compiles to.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileOqlForClickHouse, queryParamsOf } from "../../src/clickhouse/oql.js";
import type { AppConfig } from "../../src/config.js";
import { clickhouseDialect } from "../../src/oql/clickhouse-dialect.js";
import type { CompiledQuery } from "../../src/oql/compiler.js";
import type { SqlParam } from "../../src/oql/dialect.js";
import { OqlError } from "../../src/oql/errors.js";
import { prepareOql } from "../../src/oql/index.js";
import { printString } from "../../src/oql/printer.js";
import { sqliteDialect } from "../../src/oql/sqlite-dialect.js";
import { anySourceQuery, expectGuardFirst, hostile } from "../support/oql-arbitraries.js";
import { NOW } from "./oql-support.js";

const ORG = "org_a";
const prepare = (text: string, orgId = ORG) =>
	prepareOql(text, { orgId, now: NOW, dialect: clickhouseDialect });

function typeOf(value: SqlParam): string {
	if (value === null) return "Nullable(String)";
	if (typeof value === "bigint") return "Int64";
	if (typeof value === "number") return "Float64";
	return "String";
}

/** Every placeholder names a bound parameter with the type of its value. */
function expectTypedPlaceholders(compiled: { sql: string; params: SqlParam[] }): void {
	for (const match of compiled.sql.matchAll(/\{p(\d+):([^}]+)\}/g)) {
		const index = Number(match[1]);
		expect(index).toBeGreaterThanOrEqual(1);
		expect(index).toBeLessThanOrEqual(compiled.params.length);
		expect(match[2]).toBe(typeOf(compiled.params[index - 1] as SqlParam));
	}
	expect(compiled.sql).not.toMatch(/\?\d/);
}

describe("the ClickHouse dialect", () => {
	it("puts the org and time guard first on the one read of the table, with typed parameters", () => {
		let compiledCount = 0;
		fc.assert(
			fc.property(anySourceQuery, fc.string({ minLength: 1, maxLength: 20 }), ({ source, text }, orgId) => {
				let compiled: CompiledQuery;
				try {
					compiled = prepare(text, orgId);
				} catch (err) {
					expect(err).toBeInstanceOf(OqlError);
					return;
				}
				compiledCount++;
				expectGuardFirst(compiled, source, text, orgId, ["{p1:String}", "{p2:Int64}", "{p3:Int64}"]);
				expectTypedPlaceholders(compiled);
				if (compiled.regexCost) expectTypedPlaceholders(compiled.regexCost);
			}),
			{ numRuns: 1_000 },
		);
		expect(compiledCount).toBeGreaterThan(500);
	});

	it("keeps string values, keys and patterns out of the SQL text", () => {
		const shape = (a: string, b: string, c: string) =>
			prepare(
				`SELECT count(*) FROM logs WHERE body = ${printString(a)} OR service LIKE ${printString(b)} OR attributes['k'] MATCHES ${printString(c)}`,
			);
		const reference = shape("x", "y", "z");
		fc.assert(
			fc.property(hostile, hostile, fc.stringMatching(/^[a-z0-9.^$|*+?()-]{1,20}$/), (a, b, c) => {
				fc.pre(new Set([a, b, c, "k", "\\", ORG]).size === 6);
				let compiled: CompiledQuery;
				try {
					compiled = shape(a, b, c);
				} catch (err) {
					expect(err).toBeInstanceOf(OqlError);
					return;
				}
				expect(compiled.sql).toBe(reference.sql);
				expect(compiled.params).toEqual(expect.arrayContaining([a, b, c]));
			}),
			{ numRuns: 300 },
		);
	});

	it("binds parameters by name: p1, p2, … in order", () => {
		expect(queryParamsOf(["org", 5n, 1.5, null])).toEqual({ p1: "org", p2: 5n, p3: 1.5, p4: null });
	});

	it("compiles each construct to ClickHouse's functions", () => {
		const sql = (text: string) => prepare(text).sql;
		expect(sql("SELECT count(*) FROM logs WHERE body LIKE '%a%' LAST 1h")).toContain(
			`("t"."body" ILIKE {p4:String})`,
		);
		expect(sql("SELECT count(*) FROM logs WHERE body CONTAINS 'a' LAST 1h")).toContain(
			`(position("t"."body", {p4:String}) > 0)`,
		);
		expect(sql("SELECT count(*) FROM logs WHERE body MATCHES 'a+' LAST 1h")).toContain(
			`match("t"."body", {p4:String})`,
		);
		expect(sql("SELECT count(*) FROM spans WHERE attributes['http.route'] = '/a' LAST 1h")).toContain(
			`(if(mapContains("t"."attributes", {p4:String}), "t"."attributes"[{p4:String}], NULL) = {p5:String})`,
		);
		// Compared with a number, an attribute reads as one (its JSON text converted; true/false as 1/0).
		expect(sql("SELECT count(*) FROM spans WHERE attributes['code'] >= 500 LAST 1h")).toContain(
			`toFloat64OrNull(if(mapContains("t"."attributes", {p4:String}), "t"."attributes"[{p4:String}], NULL))) >= {p5:Float64})`,
		);
		expect(sql("SELECT p95(duration_ms) FROM spans LAST 1h")).toContain(
			"quantileExactInclusive({p4:Float64})(",
		);
		expect(sql("SELECT latest(body) FROM logs LAST 1h")).toContain(`argMax("a0", ("ts", "a0"))`);
		expect(sql("SELECT count_distinct(host) FROM logs LAST 1h")).toContain(`uniqExact("a0")`);
		expect(sql("SELECT count(*) FROM logs TIMESERIES 5m LAST 1h")).toContain(
			`(intDiv("t"."timestamp" - {p5:Int64}, {p4:Int64}) * {p4:Int64} + {p5:Int64}) AS "b"`,
		);
		expect(sql("SELECT avg(duration_ms) FROM spans LAST 1h")).toContain(
			`("t"."duration_ns" / nullIf(1000000, 0))`,
		);
	});

	it("leaves the SQLite statement as it was where ClickHouse reads an attribute as a number", () => {
		const sqlite = prepareOql(
			"SELECT avg(attributes['x']), count_distinct(attributes['x']) FROM spans WHERE attributes['y'] >= 5 LAST 1h",
			{
				orgId: ORG,
				now: NOW,
				dialect: sqliteDialect,
			},
		);
		// One projection of the attribute for both aggregates, json_extract compared as it is.
		expect(sqlite.sql).toContain(`json_extract("t"."attributes", ?6) AS "a0"`);
		expect(sqlite.sql).not.toContain(`AS "a1"`);
		expect(sqlite.sql).toContain(`(json_extract("t"."attributes", ?4) >= ?5)`);
		const clickhouse = prepare(
			"SELECT avg(attributes['x']), count_distinct(attributes['x']) FROM spans WHERE attributes['y'] >= 5 LAST 1h",
		);
		// On ClickHouse the number and the text are two projections.
		expect(clickhouse.sql).toContain(`AS "a0"`);
		expect(clickhouse.sql).toContain(`AS "a1"`);
	});

	it("refuses RE2's unsupported forms before the engine, with oql_invalid_query", () => {
		for (const pattern of ["(a)\\1", "a(?=b)", "a(?!b)", "(?<=a)b"]) {
			let error: unknown;
			try {
				prepare(`SELECT count(*) FROM logs WHERE body MATCHES ${printString(pattern)} LAST 1h`);
			} catch (err) {
				error = err;
			}
			expect(error, pattern).toBeInstanceOf(OqlError);
			expect((error as OqlError).code).toBe("oql_invalid_query");
		}
	});

	it("compiles rollup-shaped aggregates from ClickHouse's rollup tables, with ClickHouse's functions", () => {
		const deps = {
			clock: { now: () => NOW },
			config: { oql: { maxRangeDays: 31, timeoutMs: 10_000 } } as AppConfig,
		};
		// NOW is on a whole hour: LAST 24h is whole hours.
		const count = compileOqlForClickHouse(deps, ORG, "SELECT count(*) FROM logs LAST 24h");
		expect(count.source).toBe("rollup_1h");
		expect(count.sql).toContain("FROM log_rollups_1h WHERE org_id = {p1:String} AND bucket >= {p2:Int64}");
		expectTypedPlaceholders(count);
		const raw = compileOqlForClickHouse(deps, ORG, "SELECT count(*) FROM logs LAST 24h", { rollups: false });
		expect(raw.source).toBeUndefined();
		expect(raw.sql).toContain(`FROM "logs" AS "t"`);

		// An unaligned window: raw edges, their time truncated to whole ms and bucketed with intDiv.
		const series = compileOqlForClickHouse(
			deps,
			ORG,
			"SELECT service, count(*), avg(duration_ms) FROM spans GROUP BY service TIMESERIES 5m SINCE '2026-11-28T10:00:30Z' UNTIL '2026-11-28T11:00:00Z'",
		);
		expect(series.source).toBe("rollup_1m");
		expectTypedPlaceholders(series);
		expect(series.sql).toMatch(
			/\(intDiv\(intDiv\(timestamp, 1000000\) - \{p\d+:Int64\}, \{p\d+:Int64\}\) \* /,
		);
		expect(series.sql).toMatch(/\(intDiv\(bucket - \{p\d+:Int64\}, \{p\d+:Int64\}\) \* /);
		expect(series.sql).toContain('FROM "spans" WHERE org_id = {p');
		expect(series.sql).toContain("FROM span_latency_1m WHERE org_id = {p");
		expect(series.sql).not.toMatch(/\?\d/);

		// Percentiles: the Maps summed in the engine.
		const percentiles = compileOqlForClickHouse(
			deps,
			ORG,
			"SELECT name, p95(duration_ms) FROM spans GROUP BY name ORDER BY name LAST 2h",
		);
		expect(percentiles.source).toBe("rollup_1h");
		expect(percentiles.sql).toContain("sumMap(hist)");
		expect(percentiles.columns[1]?.histogramPercentile).toEqual({ percent: 95, divisor: 1_000_000 });
		expectTypedPlaceholders(percentiles);
	});
});
