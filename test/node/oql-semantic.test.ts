import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import type { Expr } from "../../src/oql/ast.js";
import { SOURCES } from "../../src/oql/fields.js";
import { parse } from "../../src/oql/parser.js";
import { print } from "../../src/oql/printer.js";
import {
	AGGREGATE_FUNCTIONS,
	type CheckOptions,
	check,
	MAX_BUCKETS,
	parseTimestamp,
} from "../../src/oql/semantic.js";
import { sqliteDialect, validateSqliteRegex } from "../../src/oql/sqlite-dialect.js";
import { bindVariables } from "../../src/oql/variables.js";
import { NOW, oqlError } from "./oql-support.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const run = (text: string, options: Partial<CheckOptions> = {}) =>
	check(parse(text), { now: NOW, regex: sqliteDialect.regex, ...options });
const invalid = (text: string, options: Partial<CheckOptions> = {}) =>
	oqlError(() => run(text, options), "oql_invalid_query");

describe("sources and fields", () => {
	it("accepts the seed example", () => {
		const checked = run("SELECT count(*) FROM logs WHERE level = 'error' LAST 1h");
		expect(checked.source).toBe("logs");
		expect(checked.mode).toBe("aggregate");
		expect(checked.range).toEqual({ fromMs: NOW - HOUR, toMs: NOW });
		expect(checked.columns).toMatchObject([{ name: "count(*)", type: "number", groupKey: false }]);
	});

	it("reads traces as spans, and every source", () => {
		expect(run("SELECT count(*) FROM traces").source).toBe("spans");
		for (const source of ["logs", "spans", "metrics", "annotations", "heartbeats"]) {
			expect(run(`SELECT count(*) FROM ${source}`).source).toBe(source);
		}
	});

	it("refuses an unknown source with the nearest name", () => {
		const error = invalid("SELECT count(*) FROM log");
		expect(error.message).toContain("Unknown source 'log'. Did you mean logs?");
		expect(error.position).toEqual({ line: 1, column: 22 });
		expect(invalid("SELECT count(*) FROM constructor").message).toContain("Unknown source 'constructor'");
		expect(invalid("SELECT count(*) FROM tarces").message).toContain("Did you mean traces?");
	});

	it("refuses an unknown field with the nearest name, or where it lives", () => {
		const error = invalid("SELECT count(*) FROM logs\nWHERE sevrity > 3");
		expect(error.message).toMatch(/^Unknown field 'sevrity' on logs\. Did you mean severity\?/);
		expect(error.position).toEqual({ line: 2, column: 7 });
		expect(invalid("SELECT duraiton_ms FROM spans").message).toContain("Did you mean duration_ms?");
		expect(invalid("SELECT duration_ms FROM logs").message).toContain("It is a field of spans, heartbeats.");
		expect(invalid("SELECT route FROM spans").message).toContain(
			"An attribute is read as attributes['route']",
		);
		expect(invalid("SELECT attributes FROM spans").message).toContain("Read one key as attributes['key']");
		expect(invalid("SELECT toString FROM spans").message).toContain("Unknown field 'tostring'");
	});

	it("reads attributes only where the source has them, with keys SQLite can address", () => {
		expect(run("SELECT attributes['http.route'], resource['k8s.pod.name'] FROM spans").columns).toHaveLength(
			2,
		);
		expect(invalid("SELECT attributes['x'] FROM annotations").message).toContain(
			"annotations has no attributes",
		);
		expect(invalid("SELECT attributes[''] FROM logs").message).toContain("cannot be empty");
		expect(invalid(`SELECT attributes['a"b'] FROM logs`).message).toContain("double quotes");
		expect(invalid("SELECT attributes['a\\b'] FROM logs").message).toContain("backslashes");
		expect(invalid(`SELECT attributes['${"k".repeat(300)}'] FROM logs`).message).toContain("at most 256");
	});

	it("refuses an unknown function with the nearest name or a known synonym", () => {
		expect(invalid("SELECT cuont(*) FROM logs").message).toContain(
			"Unknown function 'cuont'. Did you mean count?",
		);
		expect(invalid("SELECT average(duration_ms) FROM spans").message).toContain("Did you mean avg?");
		expect(invalid("SELECT uniqueCount(host) FROM spans").message).toContain("Did you mean count_distinct?");
		expect(invalid("SELECT p59(duration_ms) FROM spans").message).toContain("Did you mean p50?");
		expect(invalid("SELECT lower(body) FROM logs").message).toContain("Unknown function 'lower'");
	});
});

describe("types", () => {
	it.each([
		["SELECT count(*) FROM logs WHERE service > 5", "Cannot compare service (a string) with 5 (a number)"],
		[
			"SELECT count(*) FROM logs WHERE severity = 'x'",
			"Cannot compare severity (a number) with 'x' (a string)",
		],
		["SELECT service + 1 FROM logs", "'+' needs numbers, but service is a string"],
		["SELECT -body FROM logs", "A minus sign needs numbers"],
		["SELECT count(*) FROM logs WHERE service", "WHERE needs a condition, but service is a string"],
		["SELECT count(*) FROM logs WHERE severity > 1 AND 5", "AND needs a condition"],
		["SELECT count(*) FROM logs WHERE NOT body", "NOT needs a condition"],
		["SELECT count(*) FROM logs WHERE severity LIKE '1%'", "LIKE needs a string, but severity is a number"],
		[
			"SELECT count(*) FROM logs WHERE severity IN ('a')",
			"severity is a number, but the IN list holds a string",
		],
		["SELECT count(*) FROM logs WHERE timestamp IN ('2026-01-01T00:00:00Z')", "IN cannot test a time"],
		["SELECT count(*) FROM logs WHERE timestamp > 5", "A time compares with an RFC 3339 string"],
		["SELECT count(*) FROM logs WHERE timestamp > 'yesterday'", "'yesterday' is not an RFC 3339 time"],
		["SELECT sum(body) FROM logs", "sum() needs a number, but body is a string"],
		["SELECT p95(service) FROM spans", "p95() needs a number"],
		["SELECT min(severity > 1) FROM logs", "min() needs a number, string or time"],
		["SELECT percentile(duration_ms, 101) FROM spans", "a number from 0 to 100"],
		["SELECT percentile(duration_ms, x) FROM spans", "a number from 0 to 100"],
		["SELECT percentile(duration_ms) FROM spans", "takes 2 arguments"],
		["SELECT count() FROM logs", "takes one argument"],
		["SELECT sum(*) FROM logs", "sum(*) is not allowed"],
		["SELECT rate(avg(duration_ms), 1m) FROM spans", "The first argument of rate() is count"],
		["SELECT rate(count(*), 5) FROM spans", "second argument of rate() is a duration"],
		["SELECT rate(count(*), 0m) FROM spans", "at least 1s"],
		["SELECT count(sum(duration_ms)) FROM spans", "An aggregate cannot contain another aggregate"],
		["SELECT 5m FROM spans", "A duration (5m) is only allowed"],
		["SELECT count(*) FROM logs WHERE count(*) > 5", "WHERE filters rows before aggregation"],
		["SELECT count(*) FROM logs GROUP BY count(*)", "GROUP BY cannot use an aggregate"],
		["SELECT count(*) FROM logs WHERE body MATCHES '(?i)x'", "Invalid MATCHES pattern: (?…) groups"],
	])("%j → %s", (text, message) => {
		expect(invalid(text).message).toContain(message);
	});

	it("lets attributes (of unknown type) meet anything", () => {
		const checked = run(
			"SELECT sum(attributes['bytes']) FROM spans WHERE attributes['http.status_code'] >= 500 AND attributes['ok'] AND attributes['route'] LIKE '/api%' AND attributes['x'] IN (1, 'a', TRUE)",
		);
		expect(checked.columns[0]?.type).toBe("number");
	});

	it("types the result columns", () => {
		const checked = run(
			"SELECT min(timestamp), max(service), latest(duration_ms), count(*) > 5 AS busy, attributes['x'] FROM spans GROUP BY attributes['x']",
		);
		expect(checked.columns.map((c) => [c.name, c.type])).toEqual([
			["min(timestamp)", "time"],
			["max(service)", "string"],
			["latest(duration_ms)", "number"],
			["busy", "bool"],
			["attributes['x']", "any"],
		]);
	});

	it("resolves RFC 3339 times compared with time fields", () => {
		const checked = run("SELECT count(*) FROM logs WHERE timestamp >= '2026-11-28T11:30:00+01:00'");
		expect([...checked.timeLiterals.values()]).toEqual([Date.UTC(2026, 10, 28, 10, 30)]);
	});

	it("refuses MATCHES when the backend has no regular expressions", () => {
		const error = invalid("SELECT count(*) FROM logs WHERE body MATCHES 'a+'", { regex: null });
		expect(error.message).toContain("MATCHES is not supported by this database");
	});
});

describe("aggregates and grouping", () => {
	it("refuses * with aggregates, GROUP BY or TIMESERIES", () => {
		expect(invalid("SELECT *, count(*) FROM logs").message).toContain("* cannot be selected with aggregates");
		expect(invalid("SELECT * FROM logs GROUP BY service").message).toContain(
			"* cannot be selected with GROUP BY",
		);
	});

	it("refuses fields mixed with aggregates without GROUP BY", () => {
		const error = invalid("SELECT service, count(*) FROM logs");
		expect(error.message).toContain("Mixing fields with aggregates needs GROUP BY service");
		expect(error.position).toEqual({ line: 1, column: 8 });
	});

	it("refuses a field outside GROUP BY and outside aggregates", () => {
		expect(invalid("SELECT host, count(*) FROM logs GROUP BY service").message).toContain(
			"host must be in GROUP BY or inside an aggregate such as latest(host)",
		);
		expect(invalid("SELECT count(*) FROM logs GROUP BY service ORDER BY host").message).toContain(
			"ORDER BY: host",
		);
		expect(invalid("SELECT count(*) + severity FROM logs").message).toContain("GROUP BY severity");
	});

	it("accepts group keys in expressions and aggregates of anything", () => {
		const checked = run(
			"SELECT service, attributes['route'] AS route, count(*) * 100 / sum(severity) FROM logs GROUP BY service, attributes['route']",
		);
		expect(checked.columns.map((c) => [c.name, c.groupKey])).toEqual([
			["service", true],
			["route", true],
			["count(*) * 100 / sum(severity)", false],
		]);
	});

	it("puts group keys that are not selected first", () => {
		const checked = run("SELECT count(*) FROM logs GROUP BY service, host");
		expect(checked.columns.map((c) => c.name)).toEqual(["service", "host", "count(*)"]);
	});

	it("resolves aliases: ORDER BY prefers the alias, GROUP BY the field", () => {
		const ordered = run("SELECT service, count(*) AS n FROM logs GROUP BY service ORDER BY n DESC");
		expect(ordered.orderBy[0]?.expr).toMatchObject({ kind: "call", name: "count" });
		const grouped = run("SELECT attributes['route'] AS r, count(*) FROM logs GROUP BY r");
		expect(grouped.groupBy[0]).toMatchObject({ kind: "attribute", key: "route" });
	});

	it("allows GROUP BY alone (distinct values) and refuses constants as keys", () => {
		expect(run("SELECT service FROM logs GROUP BY service").mode).toBe("aggregate");
		expect(invalid("SELECT count(*) FROM logs GROUP BY 1").message).toContain("GROUP BY needs a field");
		expect(invalid("SELECT count(*) FROM logs GROUP BY service, service").message).toContain(
			"names service twice",
		);
		expect(invalid("SELECT service FROM logs ORDER BY 1").message).toContain("ORDER BY needs a field");
		expect(invalid("SELECT service FROM logs ORDER BY count(*)").message).toContain(
			"needs an aggregate query",
		);
	});

	it("refuses two result columns with one name", () => {
		expect(invalid("SELECT count(*), count(*) FROM logs").message).toContain(
			"Two result columns are named 'count(*)'",
		);
		expect(invalid("SELECT count(*) AS timestamp FROM logs TIMESERIES 5m").message).toContain(
			"named 'timestamp'",
		);
	});

	it("needs an aggregate for TIMESERIES, and ranks series only by plain aggregates", () => {
		expect(invalid("SELECT service FROM logs GROUP BY service TIMESERIES 5m").message).toContain(
			"TIMESERIES needs an aggregate",
		);
		expect(invalid("SELECT count(*) FROM logs TIMESERIES 5m ORDER BY count(*)").message).toContain(
			"needs GROUP BY",
		);
		expect(
			invalid("SELECT p95(duration_ms) FROM spans GROUP BY service ORDER BY p95(duration_ms) TIMESERIES 5m")
				.message,
		).toContain("not by p95()");
		expect(
			run("SELECT avg(duration_ms) FROM spans GROUP BY service ORDER BY avg(duration_ms) DESC TIMESERIES 5m")
				.limit,
		).toBe(10);
	});
});

describe("limits", () => {
	it("defaults LIMIT to 100, caps it at 10,000 and refuses 0", () => {
		expect(run("SELECT body FROM logs").limit).toBe(100);
		expect(run("SELECT body FROM logs LIMIT 10000").limit).toBe(10_000);
		const error = invalid("SELECT body FROM logs LIMIT 10001");
		expect(error.message).toContain("LIMIT may be at most 10000");
		expect(error.position).toEqual({ line: 1, column: 29 });
		expect(invalid("SELECT body FROM logs LIMIT 0").message).toContain("at least 1");
	});

	it("counts series with GROUP BY and TIMESERIES: default 10, at most 100", () => {
		expect(run("SELECT count(*) FROM logs GROUP BY service TIMESERIES 5m").limit).toBe(10);
		expect(run("SELECT count(*) FROM logs GROUP BY service TIMESERIES 5m LIMIT 100").limit).toBe(100);
		expect(invalid("SELECT count(*) FROM logs GROUP BY service TIMESERIES 5m LIMIT 101").message).toContain(
			"LIMIT counts series: at most 100",
		);
	});

	it("bounds the select list, IN lists, GROUP BY keys and strings", () => {
		const items = Array.from({ length: 51 }, (_, i) => `count(*) AS c${i}`).join(", ");
		expect(invalid(`SELECT ${items} FROM logs`).message).toContain("At most 50 items");
		const values = Array.from({ length: 1001 }, (_, i) => i).join(", ");
		expect(invalid(`SELECT body FROM logs WHERE severity IN (${values})`).message).toContain(
			"at most 1000 values",
		);
		const keys = Array.from({ length: 11 }, (_, i) => `attributes['k${i}']`).join(", ");
		expect(invalid(`SELECT count(*) FROM logs GROUP BY ${keys}`).message).toContain("at most 10 keys");
		expect(invalid(`SELECT body FROM logs WHERE body = '${"x".repeat(10_001)}'`).message).toContain(
			"at most 10000",
		);
	});
});

describe("time ranges", () => {
	it("defaults to LAST 1h", () => {
		expect(run("SELECT body FROM logs").range).toEqual({ fromMs: NOW - HOUR, toMs: NOW });
	});

	it("resolves LAST, SINCE … AGO, SINCE <time> and UNTIL", () => {
		expect(run("SELECT body FROM logs LAST 30m").range).toEqual({ fromMs: NOW - 30 * 60_000, toMs: NOW });
		expect(run("SELECT body FROM logs LAST 2w").range).toEqual({ fromMs: NOW - 14 * DAY, toMs: NOW });
		expect(run("SELECT body FROM logs SINCE 3h ago").range).toEqual({ fromMs: NOW - 3 * HOUR, toMs: NOW });
		expect(run("SELECT body FROM logs SINCE 3h ago UNTIL 1h ago").range).toEqual({
			fromMs: NOW - 3 * HOUR,
			toMs: NOW - HOUR,
		});
		expect(
			run("SELECT body FROM logs SINCE '2026-11-28T00:00:00Z' UNTIL '2026-11-28T06:00:00.250Z'").range,
		).toEqual({
			fromMs: Date.UTC(2026, 10, 28),
			toMs: Date.UTC(2026, 10, 28, 6, 0, 0, 250),
		});
	});

	it("refuses a range over the maximum with oql_range_too_large (default 31 days, configurable)", () => {
		expect(run("SELECT body FROM logs LAST 31d").range.fromMs).toBe(NOW - 31 * DAY);
		const error = oqlError(() => run("SELECT body FROM logs LAST 32d"), "oql_range_too_large");
		expect(error.message).toContain("wider than the 31 days allowed (it spans 32 days)");
		expect(error.position).toEqual({ line: 1, column: 23 });
		oqlError(() => run("SELECT body FROM logs SINCE '2026-01-01T00:00:00Z'"), "oql_range_too_large");
		oqlError(() => run("SELECT body FROM logs LAST 2h", { maxRangeMs: HOUR }), "oql_range_too_large");
		oqlError(() => run("SELECT body FROM logs LAST 9007199254740991w"), "oql_range_too_large");
	});

	it("refuses empty and inverted ranges and zero durations", () => {
		expect(invalid("SELECT body FROM logs SINCE 1h ago UNTIL 2h ago").message).toContain(
			"SINCE must come before UNTIL",
		);
		expect(invalid("SELECT body FROM logs LAST 0m").message).toContain("at least 1 unit");
	});

	it("reads RFC 3339 strictly", () => {
		const pos = { line: 1, column: 1 };
		expect(parseTimestamp("2026-11-28T12:00:00Z", pos)).toBe(NOW);
		expect(parseTimestamp("2026-11-28t12:00:00z", pos)).toBe(NOW);
		expect(parseTimestamp("2026-11-28 13:30:00+01:30", pos)).toBe(NOW);
		expect(parseTimestamp("2026-11-28T12:00:00.123456789Z", pos)).toBe(NOW + 123);
		expect(parseTimestamp("2024-02-29T00:00:00Z", pos)).toBe(Date.UTC(2024, 1, 29));
		for (const bad of [
			"2026-11-28",
			"2026-11-28T12:00:00",
			"2026-13-01T00:00:00Z",
			"2026-02-29T00:00:00Z",
			"2026-11-28T24:00:00Z",
			"2026-11-28T12:00:00+24:00",
			"1700000000000",
		]) {
			expect(() => parseTimestamp(bad, pos), bad).toThrow(/not an RFC 3339 time/);
		}
	});
});

describe("TIMESERIES", () => {
	it("aligns buckets to the interval and lists the first and last", () => {
		const checked = run(
			"SELECT count(*) FROM logs SINCE '2026-11-28T10:07:00Z' UNTIL '2026-11-28T11:00:00Z' TIMESERIES 15m",
		);
		expect(checked.timeseries).toEqual({
			bucketMs: 15 * 60_000,
			originMs: 0,
			firstBucketMs: Date.UTC(2026, 10, 28, 10, 0),
			lastBucketMs: Date.UTC(2026, 10, 28, 10, 45),
		});
	});

	it("starts week buckets on Mondays", () => {
		const checked = run("SELECT count(*) FROM logs LAST 14d TIMESERIES 1w");
		const first = new Date(checked.timeseries?.firstBucketMs ?? 0);
		expect(first.getUTCDay()).toBe(1);
		expect(first.getUTCHours()).toBe(0);
	});

	it("picks AUTO buckets giving at most ~120 points, whole minutes from an hour up", () => {
		const bucket = (range: string) =>
			run(`SELECT count(*) FROM logs ${range} TIMESERIES AUTO`).timeseries?.bucketMs;
		expect(bucket("LAST 15m")).toBe(10_000);
		expect(bucket("LAST 59m")).toBe(30_000);
		expect(bucket("LAST 1h")).toBe(60_000);
		expect(bucket("LAST 2h")).toBe(60_000);
		expect(bucket("LAST 3h")).toBe(5 * 60_000);
		expect(bucket("LAST 6h")).toBe(5 * 60_000);
		expect(bucket("LAST 1d")).toBe(15 * 60_000);
		expect(bucket("LAST 7d")).toBe(3 * HOUR);
		expect(bucket("LAST 31d")).toBe(12 * HOUR);
	});

	it(`refuses more than ${MAX_BUCKETS} buckets, suggesting an interval`, () => {
		const error = invalid("SELECT count(*) FROM logs LAST 7d TIMESERIES 1m");
		expect(error.message).toContain(
			"gives 10080 buckets over this range; at most 1000: use 15m or wider, or AUTO",
		);
		expect(error.position).toEqual({ line: 1, column: 35 });
	});
});

describe("MATCHES patterns (SQLite regexp.c)", () => {
	it.each([
		"a+b",
		"^GET /api/v[0-9]+/",
		"\\d{3}-\\d{4}",
		"(foo|bar)baz$",
		"a{2,5}",
		"[^\\]]",
		"x*?",
		"a{100}a{100}",
	])("accepts %j", (pattern) => expect(validateSqliteRegex(pattern)).toBeNull());

	it.each([
		["", "empty"],
		["(?i)a", "(?…) groups"],
		["a(?=b)", "(?…) groups"],
		["(a)\\1", "backreferences"],
		["\\p{L}", "\\p is not supported"],
		["[[:alpha:]]", "POSIX classes"],
		["(a{100}){100}", "too complex"],
		["((a|b){20}){20}", "too complex"],
		["a{0}", "repeats nothing"],
		["a{5,2}", "wrong way round"],
		["a{x}", "{m}, {m,} or {m,n}"],
		["*a", "follows nothing"],
		["(*a)", "follows nothing"],
		["a|+", "follows nothing"],
		["(a", "not closed"],
		["a)", "no matching ("],
		["[a", "not closed"],
		["a\\", "lone backslash"],
		["x".repeat(257), "longer than 256"],
	])("refuses %j (%s)", (pattern, reason) => {
		expect(validateSqliteRegex(pattern)).toContain(reason);
	});
});

describe("node types", () => {
	it("records a type for every expression node", () => {
		const checked = run("SELECT count(*) FROM spans WHERE duration_ms * 2 > 5 AND NOT status = 'ok'");
		const where = checked.where as Expr & { kind: "and" };
		expect(checked.types.get(where)).toBe("bool");
		expect(checked.types.get(where.left)).toBe("bool");
		expect(where.left.kind === "compare" && checked.types.get(where.left.left)).toBe("number");
	});
});

describe("docs/oql.md", () => {
	it("names every source, field and function, and shows every function in an example", async () => {
		const docs = await readFile(new URL("../../docs/oql.md", import.meta.url), "utf8");
		for (const [source, info] of Object.entries(SOURCES)) {
			expect(docs, source).toContain(`\`${source}\``);
			for (const field of Object.keys(info.fields))
				expect(docs, `${source}.${field}`).toContain(`\`${field}\``);
		}
		for (const name of AGGREGATE_FUNCTIONS)
			expect(docs, name).toMatch(new RegExp(`SELECT [^\\n\`]*\\b${name}\\(`));
	});
});

describe("variables (bindVariables)", () => {
	const bind = (text: string, variables?: Record<string, string | null>) =>
		bindVariables(parse(text), variables);

	it("replaces each $name by a string literal at its place", () => {
		const bound = bind("SELECT count(*) FROM logs WHERE service = $s OR body CONTAINS $s", { s: "a'b" });
		expect(print(bound)).toBe("SELECT count(*) FROM logs WHERE service = 'a''b' OR body CONTAINS 'a''b'");
	});

	it("refuses unknown names (case-sensitive) with a suggestion, and leaves none for the checker", () => {
		const error = oqlError(() =>
			bind("SELECT count(*) FROM logs WHERE service = $Service", { service: "x" }),
		);
		expect(error.code).toBe("oql_invalid_query");
		expect(error.message).toMatch(/Unknown variable \$Service\. Did you mean service\?/);
		expect(error.position).toEqual({ line: 1, column: 43 });
		const none = oqlError(() => bind("SELECT count(*) FROM logs WHERE service = $s"));
		expect(none.message).toMatch(/No variables are defined/);
		// Declared (a dashboard's variable) but without a value: said as such, at its place.
		const empty = oqlError(() => bind("SELECT count(*) FROM logs WHERE service = $svc", { svc: null }));
		expect(empty.code).toBe("oql_invalid_query");
		expect(empty.message).toBe(
			"The variable $svc has no value: choose one, or give the variable a default. (line 1, column 43)",
		);
		expect(empty.position).toEqual({ line: 1, column: 43 });
		const unbound = oqlError(() =>
			check(parse("SELECT count(*) FROM logs WHERE service = $s"), { now: NOW, regex: null }),
		);
		expect(unbound.code).toBe("oql_invalid_query");
	});
});

describe("a time range given from outside (dashboards)", () => {
	it("replaces each bound given, and checks the result like any range", () => {
		const both = run("SELECT count(*) FROM logs LAST 1h", { range: { fromMs: NOW - DAY, toMs: NOW - HOUR } });
		expect(both.range).toEqual({ fromMs: NOW - DAY, toMs: NOW - HOUR });
		const fromOnly = run("SELECT count(*) FROM logs LAST 1h", { range: { fromMs: NOW - 2 * HOUR } });
		expect(fromOnly.range).toEqual({ fromMs: NOW - 2 * HOUR, toMs: NOW });
		const auto = run("SELECT count(*) FROM logs TIMESERIES AUTO", {
			range: { fromMs: NOW - DAY, toMs: NOW },
		});
		expect(auto.timeseries?.bucketMs).toBe(15 * 60_000);
		expect(oqlError(() => run("SELECT count(*) FROM logs", { range: { fromMs: NOW - 40 * DAY } })).code).toBe(
			"oql_range_too_large",
		);
		invalid("SELECT count(*) FROM logs", { range: { fromMs: NOW, toMs: NOW - HOUR } });
		invalid("SELECT count(*) FROM logs", { range: { fromMs: 1.5 } });
	});
});
