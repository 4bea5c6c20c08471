import { describe, expect, it } from "vitest";
import type { Expr } from "../../src/oql/ast.js";
import { editDistance, nearest } from "../../src/oql/errors.js";
import { type Token, tokenize } from "../../src/oql/lexer.js";
import { MAX_EXPRESSION_DEPTH, MAX_QUERY_LENGTH, parse } from "../../src/oql/parser.js";
import { print, printExpr } from "../../src/oql/printer.js";
import { oqlError, stripPositions } from "./oql-support.js";

const kinds = (text: string) => tokenize(text).map((t) => t.kind);
const where = (condition: string): Expr => {
	const query = parse(`SELECT * FROM logs WHERE ${condition}`);
	return stripPositions(query.where as Expr);
};

describe("lexer", () => {
	it("gives every token its line and column (1-based)", () => {
		const tokens = tokenize("SELECT count(*)\n  FROM logs\r\n\tWHERE x = 'a'");
		const at = (t: Token) => [t.text, t.pos.line, t.pos.column];
		expect(tokens.map(at)).toEqual([
			["SELECT", 1, 1],
			["count", 1, 8],
			["(", 1, 13],
			["*", 1, 14],
			[")", 1, 15],
			["FROM", 2, 3],
			["logs", 2, 8],
			["WHERE", 3, 2],
			["x", 3, 8],
			["=", 3, 10],
			["'a'", 3, 12],
			["", 3, 15],
		]);
	});

	it("counts a character outside the BMP as one column", () => {
		const tokens = tokenize("'😀😀' x");
		expect(tokens[1]?.pos).toEqual({ line: 1, column: 6 });
	});

	it("reads keywords in any case and keeps identifiers lower-cased with their text", () => {
		const [select, field] = tokenize("sElEcT Duration_MS");
		expect(select).toMatchObject({ kind: "keyword", keyword: "SELECT", text: "sElEcT" });
		expect(field).toMatchObject({ kind: "ident", name: "duration_ms", text: "Duration_MS" });
	});

	it("reads strings with '' escaping, newlines and any character", () => {
		const [token] = tokenize("'it''s\na ☃ -- not a comment'");
		expect(token).toMatchObject({ kind: "string", value: "it's\na ☃ -- not a comment" });
		expect(tokenize("''")[0]).toMatchObject({ kind: "string", value: "" });
		expect(tokenize("''''")[0]).toMatchObject({ kind: "string", value: "'" });
	});

	it("reads integers, floats and exponents", () => {
		const values = tokenize("0 42 3.25 .5 1e6 2.5E-3 1e+21").flatMap((t) =>
			t.kind === "number" ? [t.value] : [],
		);
		expect(values).toEqual([0, 42, 3.25, 0.5, 1e6, 2.5e-3, 1e21]);
		expect(tokenize("42")[0]).toMatchObject({ isInteger: true });
		expect(tokenize("4.0")[0]).toMatchObject({ isInteger: false });
	});

	it("reads durations in s, m, h, d and w (any case)", () => {
		const durations = tokenize("30s 5m 1H 7d 2w").flatMap((t) =>
			t.kind === "duration" ? [`${t.value}${t.unit}`] : [],
		);
		expect(durations).toEqual(["30s", "5m", "1h", "7d", "2w"]);
	});

	it("reads attributes['…'] and resource['…'] as one token, spaces and case allowed", () => {
		expect(tokenize("attributes['http.route']")[0]).toMatchObject({
			kind: "attribute",
			map: "attributes",
			key: "http.route",
		});
		expect(tokenize("RESOURCE [ 'k8s.pod.name' ]")[0]).toMatchObject({
			kind: "attribute",
			map: "resource",
			key: "k8s.pod.name",
		});
		expect(tokenize("attributes['it''s']")[0]).toMatchObject({ key: "it's" });
		expect(tokenize("attributes")[0]).toMatchObject({ kind: "ident", name: "attributes" });
	});

	it("reads every operator, two-character ones first", () => {
		const ops = tokenize("( ) , * + - / = != <> < <= > >=").flatMap((t) => (t.kind === "op" ? [t.op] : []));
		expect(ops).toEqual(["(", ")", ",", "*", "+", "-", "/", "=", "!=", "<>", "<", "<=", ">", ">="]);
	});

	it("skips -- comments to the end of the line", () => {
		expect(kinds("SELECT -- a comment\n x -- another")).toEqual(["keyword", "ident", "eof"]);
		expect(kinds("x--y")).toEqual(["ident", "eof"]);
	});

	it.each([
		["'open", "Unterminated string", 1, 1],
		['x = "a"', "single quotes", 1, 5],
		["x = `a`", "single quotes", 1, 5],
		["5min", "Invalid number or duration '5min'", 1, 1],
		["1.5h", "Invalid number or duration", 1, 1],
		["99999999999999999999", "too large", 1, 1],
		["attributes[5]", "quoted key", 1, 12],
		["attributes['a'", "Expected ]", 1, 15],
		["x[0]", "Unexpected [", 1, 2],
		["x;", "semicolon", 1, 2],
		["\n  x # y", "Unexpected character '#'", 2, 5],
		["x \u0001", "U+0001", 1, 3],
	])("refuses %j with a syntax error at its position", (text, message, line, column) => {
		const error = oqlError(() => tokenize(text), "oql_syntax_error");
		expect(error.message).toContain(message);
		expect(error.position).toEqual({ line, column });
		expect(error.message).toContain(`(line ${line}, column ${column})`);
	});
});

describe("parser", () => {
	it("parses the seed example", () => {
		const query = parse("SELECT count(*) FROM logs WHERE level = 'error' LAST 1h");
		expect(stripPositions(query)).toEqual({
			select: [
				{ kind: "expr", expr: { kind: "call", name: "count", args: [{ kind: "star" }] }, alias: null },
			],
			from: { name: "logs" },
			where: {
				kind: "compare",
				op: "=",
				left: { kind: "field", name: "level" },
				right: { kind: "string", value: "error" },
			},
			groupBy: [],
			orderBy: [],
			limit: null,
			range: { kind: "last", duration: { value: 1, unit: "h" } },
			timeseries: null,
		});
	});

	it("keeps positions on every node", () => {
		const query = parse("SELECT p95(duration_ms) AS p\nFROM spans\nWHERE status = 'error'");
		const item = query.select[0];
		expect(item?.pos).toEqual({ line: 1, column: 8 });
		expect(query.from.pos).toEqual({ line: 2, column: 6 });
		expect(query.where?.pos).toEqual({ line: 3, column: 14 });
		expect(query.where?.kind === "compare" && query.where.left.pos).toEqual({ line: 3, column: 7 });
	});

	it("parses every select item form", () => {
		const query = stripPositions(
			parse(
				"SELECT *, service, duration_ms * 2 + 1 AS d2, count(x), count_distinct(host), percentile(duration_ms, 99.9), rate(count(*), 1m) AS 'per minute', latest(body), attributes['a.b'] FROM spans",
			),
		);
		expect(
			query.select.map((item) => (item.kind === "star" ? "*" : `${printExpr(item.expr)}|${item.alias}`)),
		).toEqual([
			"*",
			"service|null",
			"duration_ms * 2 + 1|d2",
			"count(x)|null",
			"count_distinct(host)|null",
			"percentile(duration_ms, 99.9)|null",
			"rate(count(*), 1m)|per minute",
			"latest(body)|null",
			"attributes['a.b']|null",
		]);
	});

	it("keeps an alias's case", () => {
		const query = parse("SELECT count(*) AS ErrorCount FROM logs");
		expect(query.select[0]).toMatchObject({ alias: "ErrorCount" });
	});

	it("gives arithmetic the usual precedence and left associativity", () => {
		expect(printExpr(where("a - b - c > 0"))).toBe("a - b - c > 0");
		const e = where("1 + 2 * 3 = a - (b - c)");
		expect(e).toMatchObject({
			kind: "compare",
			left: { kind: "arithmetic", op: "+", right: { kind: "arithmetic", op: "*" } },
			right: { kind: "arithmetic", op: "-", left: { kind: "field" }, right: { kind: "arithmetic", op: "-" } },
		});
	});

	it("binds NOT tighter than AND, AND tighter than OR", () => {
		expect(where("NOT a = 1 AND b = 2 OR c = 3")).toMatchObject({
			kind: "or",
			left: { kind: "and", left: { kind: "not", operand: { kind: "compare" } } },
			right: { kind: "compare" },
		});
		expect(where("a = 1 AND (b = 2 OR c = 3)")).toMatchObject({ kind: "and", right: { kind: "or" } });
	});

	it("parses every condition form", () => {
		expect(where("service IN ('a', 'b')")).toMatchObject({
			kind: "in",
			negated: false,
			values: [{ value: "a" }, { value: "b" }],
		});
		expect(where("severity NOT IN (1, -2, 3.5)")).toMatchObject({
			kind: "in",
			negated: true,
			values: [{ value: 1 }, { value: -2 }, { value: 3.5 }],
		});
		expect(where("body LIKE '%timeout%'")).toMatchObject({ kind: "like", negated: false });
		expect(where("body NOT LIKE 'x'")).toMatchObject({ kind: "like", negated: true });
		expect(where("body CONTAINS 'x'")).toMatchObject({ kind: "contains", negated: false });
		expect(where("body NOT CONTAINS 'x'")).toMatchObject({ kind: "contains", negated: true });
		expect(where("body MATCHES 'a+b'")).toMatchObject({ kind: "matches", negated: false });
		expect(where("body NOT MATCHES 'a+b'")).toMatchObject({ kind: "matches", negated: true });
		expect(where("trace_id IS NULL")).toMatchObject({ kind: "isNull", negated: false });
		expect(where("trace_id IS NOT NULL")).toMatchObject({ kind: "isNull", negated: true });
		expect(where("a <> 1")).toMatchObject({ kind: "compare", op: "!=" });
		for (const op of ["=", "!=", "<", "<=", ">", ">="]) expect(where(`a ${op} 1`)).toMatchObject({ op });
		expect(where("ok = TRUE OR ok = false")).toMatchObject({
			left: { right: { kind: "bool", value: true } },
		});
	});

	it("folds a minus right before a number into the constant", () => {
		expect(where("a = -5")).toMatchObject({ right: { kind: "number", value: -5 } });
		expect(where("a = -(5)")).toMatchObject({
			right: { kind: "negate", operand: { kind: "number", value: 5 } },
		});
		expect(where("a = - b")).toMatchObject({ right: { kind: "negate", operand: { kind: "field" } } });
		expect(where("a = -0")).toMatchObject({ right: { kind: "number", value: 0 } });
	});

	it("parses GROUP BY, ORDER BY, LIMIT, time ranges and TIMESERIES", () => {
		const query = stripPositions(
			parse(
				"SELECT count(*) FROM logs WHERE level = 'error' GROUP BY service, attributes['route'] ORDER BY count(*) DESC, service LIMIT 20 SINCE '2026-11-28T00:00:00Z' UNTIL 2h ago TIMESERIES 5m",
			),
		);
		expect(query.groupBy).toHaveLength(2);
		expect(query.orderBy.map((o) => o.direction)).toEqual(["desc", "asc"]);
		expect(query.limit).toEqual({ value: 20 });
		expect(query.range).toEqual({
			kind: "since",
			since: { kind: "timestamp", text: "2026-11-28T00:00:00Z" },
			until: { kind: "ago", duration: { value: 2, unit: "h" } },
		});
		expect(query.timeseries).toEqual({ kind: "interval", interval: { value: 5, unit: "m" } });
	});

	it("accepts the clauses after WHERE in any order (as NRQL does)", () => {
		const canonical = stripPositions(
			parse("SELECT count(*) FROM logs WHERE x = 1 GROUP BY a ORDER BY a LIMIT 5 LAST 2h TIMESERIES 5m"),
		);
		const shuffled = stripPositions(
			parse("SELECT count(*) FROM logs WHERE x = 1 TIMESERIES 5m LAST 2h LIMIT 5 ORDER BY a GROUP BY a"),
		);
		expect(shuffled).toEqual(canonical);
	});

	it("reads spelled-out units and bare TIMESERIES (AUTO)", () => {
		expect(stripPositions(parse("SELECT count(*) FROM logs LAST 2 hours").range)).toEqual({
			kind: "last",
			duration: { value: 2, unit: "h" },
		});
		expect(stripPositions(parse("SELECT count(*) FROM logs SINCE 1 day ago").range)).toMatchObject({
			since: { kind: "ago", duration: { value: 1, unit: "d" } },
		});
		expect(stripPositions(parse("SELECT count(*) FROM logs TIMESERIES").timeseries)).toEqual({
			kind: "auto",
		});
		expect(stripPositions(parse("SELECT count(*) FROM logs TIMESERIES auto LAST 1h").timeseries)).toEqual({
			kind: "auto",
		});
	});

	it.each([
		[
			"SELCT count(*) FROM logs",
			"Expected SELECT at the start of the query, found 'SELCT'. Did you mean SELECT?",
			1,
			1,
		],
		["SELECT count(*) FORM logs", "Expected FROM, found 'FORM'. Did you mean FROM?", 1, 17],
		["SELECT count(*) FROM logs WHERE x = 1 LIMT 5", "found 'LIMT'. Did you mean LIMIT?", 1, 39],
		["SELECT count(*) FROM logs GROUP service", "Expected BY after GROUP", 1, 33],
		["SELECT FROM logs", "Expected an item to select", 1, 8],
		["SELECT a b FROM logs", "write AS to name an item", 1, 10],
		["SELECT a FROM logs WHERE", "Expected a field, a constant", 1, 25],
		["SELECT a FROM logs WHERE (a = 1", "Expected ')' to close '('", 1, 32],
		["SELECT a FROM logs WHERE a = 1)", "Unbalanced ')'", 1, 31],
		["SELECT a FROM logs WHERE a < b < c", "cannot be chained", 1, 32],
		["SELECT a FROM logs WHERE a = NULL", "IS NULL", 1, 30],
		["SELECT a FROM logs WHERE a IN ()", "at least one value", 1, 32],
		["SELECT a FROM logs WHERE a IN (b)", "a constant in an IN list", 1, 32],
		["SELECT a FROM logs WHERE a LIKE b", "a 'quoted string' after LIKE", 1, 33],
		["SELECT a FROM logs WHERE a NOT b", "IN, LIKE, CONTAINS or MATCHES after NOT", 1, 32],
		["SELECT a FROM logs WHERE a IS 5", "Expected NULL after IS", 1, 31],
		["SELECT a FROM logs LIMIT 2.5", "a whole number after LIMIT", 1, 26],
		["SELECT a FROM logs LIMIT 5 LIMIT 6", "one LIMIT clause; another began at line 1, column 20", 1, 28],
		["SELECT a FROM logs LAST 1h SINCE 2h ago", "one time range clause", 1, 28],
		["SELECT a FROM logs LAST 1h WHERE a = 1", "WHERE must come right after FROM", 1, 28],
		["SELECT a FROM logs UNTIL 1h ago", "UNTIL comes after SINCE", 1, 20],
		["SELECT a FROM logs SINCE 2h", "Expected AGO", 1, 28],
		["SELECT a FROM logs SINCE yesterday", "a time after SINCE", 1, 26],
		["SELECT a FROM logs LAST 5", "Expected a unit after 5", 1, 26],
		["SELECT a FROM logs LAST", "a duration after LAST", 1, 24],
		["SELECT a FROM logs TIMESERIES x", "a duration after TIMESERIES", 1, 31],
		["SELECT a FROM 'logs'", "a source after FROM", 1, 15],
		["SELECT count(* FROM logs", "Expected a field, a constant", 1, 14],
		["SELECT count(a b) FROM logs", "to close count(", 1, 16],
		["SELECT a FROM logs count(*)", "functions belong in SELECT", 1, 20],
		["SELECT a FROM logs FROM spans", "one FROM", 1, 20],
		["SELECT a AS FROM logs", "a name after AS", 1, 13],
		["SELECT a AS '' FROM logs", "alias cannot be empty", 1, 13],
		["SELECT +a FROM logs", "needs no plus sign", 1, 8],
	])("%j → syntax error: %s", (text, message, line, column) => {
		const error = oqlError(() => parse(text), "oql_syntax_error");
		expect(error.message).toContain(message);
		expect(error.position).toEqual({ line, column });
	});

	it("points at the right line in a multi-line query", () => {
		const error = oqlError(
			() => parse("SELECT count(*)\nFROM logs\nWHERE level = = 'x'"),
			"oql_syntax_error",
		);
		expect(error.position).toEqual({ line: 3, column: 15 });
		expect(error.message).toBe(
			"Expected a field, a constant, a function call or '(', found '=' (line 3, column 15)",
		);
	});

	it("bounds nesting and length", () => {
		const deep = `SELECT a FROM logs WHERE ${"(".repeat(MAX_EXPRESSION_DEPTH + 5)}a = 1${")".repeat(MAX_EXPRESSION_DEPTH + 5)}`;
		expect(oqlError(() => parse(deep), "oql_syntax_error").message).toContain("nested too deeply");
		const chain = `SELECT a FROM logs WHERE ${Array.from({ length: MAX_EXPRESSION_DEPTH + 5 }, (_, i) => `a = ${i}`).join(" OR ")}`;
		expect(oqlError(() => parse(chain), "oql_syntax_error").message).toContain("nested too deeply");
		const nots = `SELECT a FROM logs WHERE ${"NOT ".repeat(1_000)} a = 1`;
		expect(oqlError(() => parse(nots), "oql_syntax_error").message).toContain("nested too deeply");
		const long = `SELECT a FROM logs WHERE body = '${"x".repeat(MAX_QUERY_LENGTH)}'`;
		expect(oqlError(() => parse(long), "oql_invalid_query").message).toContain("too long");
	});
});

describe("printer", () => {
	it.each([
		"SELECT count(*) FROM logs WHERE level = 'error' LAST 1h",
		"SELECT * FROM logs WHERE body CONTAINS 'it''s' LIMIT 10",
		"SELECT a - (b - c), (a + b) * c, -(5), -(-x), -5 * x, x - -5, -(a + b) FROM metrics",
		"SELECT count(*) FROM logs WHERE NOT (a = 1 AND b = 2) OR c IN (1, -2) AND d NOT LIKE 'x%'",
		"SELECT count(*) FROM logs WHERE a = 1 AND (b = 2 AND c = 3)",
		"SELECT count(*) FROM logs WHERE (a = 1) = TRUE",
		"SELECT avg(duration_ms) AS 'avg ms', p95(duration_ms) AS p95x FROM spans GROUP BY service ORDER BY p95x DESC LIMIT 5 SINCE '2026-11-27T00:00:00Z' UNTIL 1h AGO TIMESERIES AUTO",
		"SELECT rate(count(*), 1m) AS 'select' FROM heartbeats TIMESERIES 1h",
		"SELECT 1e+21, 0.000001, 1e-7 FROM logs",
	])("prints %j canonically, and the print parses to the same tree", (text) => {
		const query = parse(text);
		const printed = print(query);
		expect(printed).toBe(text);
		expect(stripPositions(parse(printed))).toEqual(stripPositions(query));
	});

	it("prints keywords upper-case, <> as != and the clauses in canonical order", () => {
		expect(print(parse("select count(*) from logs where a <> 1 timeseries 5m last 2h group by a"))).toBe(
			"SELECT count(*) FROM logs WHERE a != 1 GROUP BY a LAST 2h TIMESERIES 5m",
		);
	});
});

describe("suggestions", () => {
	it("measures Damerau-Levenshtein distance (a swap costs one)", () => {
		expect(editDistance("duration_ms", "duration_ms")).toBe(0);
		expect(editDistance("duraiton_ms", "duration_ms")).toBe(1);
		expect(editDistance("sevrity", "severity")).toBe(1);
		expect(editDistance("abc", "")).toBe(3);
		expect(nearest("SERVCIE", ["service", "host"])).toBe("service");
		expect(nearest("zzz", ["service", "host"])).toBeNull();
	});
});

describe("variables", () => {
	it("reads $name where a string constant may stand, and prints it back", () => {
		expect(kinds("$service $_x1")).toEqual(["variable", "variable", "eof"]);
		const query = parse(
			"SELECT count(*) FROM logs WHERE service = $service AND host IN ($a, 'h') AND body LIKE $p",
		);
		expect(print(query)).toBe(
			"SELECT count(*) FROM logs WHERE service = $service AND host IN ($a, 'h') AND body LIKE $p",
		);
		expect(stripPositions(parse(print(query)))).toEqual(stripPositions(query));
	});

	it("refuses a $ without a name as a syntax error at the $", () => {
		for (const [text, column] of [
			["SELECT count(*) FROM logs WHERE service = $", 43],
			["SELECT count(*) FROM logs WHERE service = $1", 43],
			["SELECT count(*) FROM logs WHERE service = $ x", 43],
		] as const) {
			const error = oqlError(() => parse(text), "oql_syntax_error");
			expect(error.position).toEqual({ line: 1, column });
		}
	});
});
