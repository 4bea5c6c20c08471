import type { InValue } from "@libsql/client";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
	CallArg,
	CompareOp,
	Duration,
	Expr,
	Literal,
	OrderItem,
	Query,
	SelectItem,
	TimePoint,
} from "../../src/oql/ast.js";
import type { CompiledQuery } from "../../src/oql/compiler.js";
import { OqlError, type Position } from "../../src/oql/errors.js";
import { SOURCES } from "../../src/oql/fields.js";
import { prepareOql } from "../../src/oql/index.js";
import { DURATION_UNITS, isKeyword } from "../../src/oql/lexer.js";
import { parse } from "../../src/oql/parser.js";
import { print, printNumber, printString } from "../../src/oql/printer.js";
import { AGGREGATE_FUNCTIONS } from "../../src/oql/semantic.js";
import { sqliteDialect } from "../../src/oql/sqlite-dialect.js";
import { openTestDatabase, type TestDatabase } from "../support/node-app.js";
import {
	anySourceQuery,
	expectGuardFirst,
	hostile,
	number,
	typedQuery,
	validKey,
} from "../support/oql-arbitraries.js";
import { NOW, stripPositions } from "./oql-support.js";

const pos: Position = { line: 1, column: 1 };
const ORG = "org_a";
const prepare = (text: string, orgId = ORG) => prepareOql(text, { orgId, now: NOW, dialect: sqliteDialect });

// ---- random syntax trees, in the parser's canonical form ----

const knownNames = [
	...new Set([
		...Object.values(SOURCES).flatMap((source) => Object.keys(source.fields)),
		...Object.keys(SOURCES),
		"traces",
		...AGGREGATE_FUNCTIONS,
	]),
];
/** Random words, and often real sources, fields and functions, so generated trees reach the later passes. */
const identifier = fc.oneof(
	fc
		.stringMatching(/^[a-z_][a-z0-9_]{0,11}$/)
		.filter((name) => !isKeyword(name) && name !== "attributes" && name !== "resource"),
	fc.constantFrom(...knownNames),
);
const anyText = fc.string({ unit: "binary", maxLength: 12 });
const literal: fc.Arbitrary<Literal> = fc.oneof(
	number.map((value) => ({ kind: "number" as const, value, pos })),
	anyText.map((value) => ({ kind: "string" as const, value, pos })),
	fc.boolean().map((value) => ({ kind: "bool" as const, value, pos })),
);
const duration: fc.Arbitrary<Duration> = fc.record({
	value: fc.nat({ max: 1_000_000 }),
	unit: fc.constantFrom(...DURATION_UNITS),
	pos: fc.constant(pos),
});
const stringLiteral = anyText.map((value): Literal => ({ kind: "string", value, pos }));

const { expr } = fc.letrec<{ expr: Expr; arg: CallArg }>((tie) => ({
	expr: fc.oneof(
		{ depthSize: "small", withCrossShrink: true },
		literal,
		identifier.map((name): Expr => ({ kind: "field", name, pos })),
		fc
			.record({ map: fc.constantFrom("attributes" as const, "resource" as const), key: anyText })
			.map((a): Expr => ({ kind: "attribute", ...a, pos })),
		duration.map((d): Expr => ({ kind: "duration", duration: d, pos })),
		tie("expr").map((operand): Expr => ({ kind: "negate", operand, pos })),
		tie("expr").map((operand): Expr => ({ kind: "not", operand, pos })),
		fc
			.record({ op: fc.constantFrom("+", "-", "*", "/" as const), left: tie("expr"), right: tie("expr") })
			.map((e): Expr => ({ kind: "arithmetic", ...e, pos })),
		fc
			.record({
				op: fc.constantFrom<CompareOp>("=", "!=", "<", "<=", ">", ">="),
				left: tie("expr"),
				right: tie("expr"),
			})
			.map((e): Expr => ({ kind: "compare", ...e, pos })),
		fc
			.record({ kind: fc.constantFrom("and" as const, "or" as const), left: tie("expr"), right: tie("expr") })
			.map((e): Expr => ({ ...e, pos })),
		fc
			.record({
				operand: tie("expr"),
				negated: fc.boolean(),
				values: fc.array(literal, { minLength: 1, maxLength: 3 }),
			})
			.map((e): Expr => ({ kind: "in", ...e, pos })),
		fc
			.record({
				kind: fc.constantFrom("like" as const, "contains" as const, "matches" as const),
				operand: tie("expr"),
				negated: fc.boolean(),
				pattern: stringLiteral,
			})
			.map((e): Expr => ({ ...e, pos })),
		fc
			.record({ operand: tie("expr"), negated: fc.boolean() })
			.map((e): Expr => ({ kind: "isNull", ...e, pos })),
		fc
			.record({ name: identifier, args: fc.array(tie("arg"), { maxLength: 3 }) })
			.map((e): Expr => ({ kind: "call", ...e, pos })),
	),
	arg: fc.oneof(
		{ weight: 1, arbitrary: fc.constant<CallArg>({ kind: "star", pos }) },
		{ weight: 4, arbitrary: tie("expr") as fc.Arbitrary<CallArg> },
	),
}));

const selectItem: fc.Arbitrary<SelectItem> = fc.oneof(
	{ weight: 1, arbitrary: fc.constant<SelectItem>({ kind: "star", pos }) },
	{
		weight: 5,
		arbitrary: fc
			.record({
				expr,
				alias: fc.option(fc.string({ minLength: 1, maxLength: 8, unit: "binary" }), { nil: null }),
			})
			.map((item): SelectItem => ({ kind: "expr", ...item, pos })),
	},
);
const timePoint: fc.Arbitrary<TimePoint> = fc.oneof(
	duration.map((d): TimePoint => ({ kind: "ago", duration: d, pos })),
	anyText.map((text): TimePoint => ({ kind: "timestamp", text, pos })),
);
const orderItem: fc.Arbitrary<OrderItem> = fc
	.record({ expr, direction: fc.constantFrom("asc" as const, "desc" as const) })
	.map((item) => ({ ...item, pos }));

const query: fc.Arbitrary<Query> = fc.record({
	select: fc.array(selectItem, { minLength: 1, maxLength: 3 }),
	from: fc
		.oneof(
			{ weight: 4, arbitrary: fc.constantFrom(...Object.keys(SOURCES), "traces") },
			{ weight: 1, arbitrary: identifier },
		)
		.map((name) => ({ name, pos })),
	where: fc.option(expr, { nil: null }),
	groupBy: fc.array(expr, { maxLength: 2 }),
	orderBy: fc.array(orderItem, { maxLength: 2 }),
	limit: fc.option(
		fc.nat().map((value) => ({ value, pos })),
		{ nil: null },
	),
	range: fc.option(
		fc.oneof(
			duration.map((d): Query["range"] => ({ kind: "last", duration: d, pos })),
			fc
				.record({ since: timePoint, until: fc.option(timePoint, { nil: null }) })
				.map((r): Query["range"] => ({ kind: "since", ...r, pos })),
		),
		{ nil: null },
	),
	timeseries: fc.option(
		fc.oneof(
			fc.constant<Query["timeseries"]>({ kind: "auto", pos }),
			duration.map((interval): Query["timeseries"] => ({ kind: "interval", interval, pos })),
		),
		{ nil: null },
	),
	pos: fc.constant(pos),
});

describe("round trip", () => {
	it("prints any syntax tree as text that parses back to the same tree", () => {
		fc.assert(
			fc.property(query, (ast) => {
				const text = print(ast);
				expect(stripPositions(parse(text))).toEqual(stripPositions(ast));
				expect(print(parse(text))).toBe(text);
			}),
			{ numRuns: 1_000 },
		);
	});
});

// ---- robustness: whatever the text, only OqlErrors come out ----

const vocabulary = [
	"SELECT",
	"select",
	"FROM",
	"WHERE",
	"GROUP",
	"BY",
	"ORDER",
	"ASC",
	"DESC",
	"LIMIT",
	"LAST",
	"SINCE",
	"UNTIL",
	"AGO",
	"TIMESERIES",
	"AUTO",
	"AS",
	"AND",
	"OR",
	"NOT",
	"IN",
	"LIKE",
	"IS",
	"NULL",
	"CONTAINS",
	"MATCHES",
	"TRUE",
	"FALSE",
	"logs",
	"spans",
	"traces",
	"metrics",
	"annotations",
	"heartbeats",
	"service",
	"duration_ms",
	"timestamp",
	"level",
	"body",
	"title",
	"value",
	"count",
	"count_distinct",
	"sum",
	"avg",
	"min",
	"max",
	"p95",
	"percentile",
	"rate",
	"latest",
	"minutes",
	"attributes['http.route']",
	"resource['host.name']",
	"attributes[",
	"attributes",
	"'str'",
	"'it''s'",
	"'2026-11-28T11:00:00Z'",
	"'",
	"''",
	"0",
	"1",
	"-1",
	"2.5",
	"1e3",
	"99999999999999999999",
	"5m",
	"1h",
	"0s",
	"7d",
	"2w",
	"5x",
	"(",
	")",
	",",
	"*",
	"+",
	"-",
	"/",
	"=",
	"!=",
	"<>",
	"<",
	"<=",
	">",
	">=",
	"--",
	"\n",
	'"',
	";",
	"[",
	"]",
	"%",
	"😀",
	"\u0000",
];
const soup = fc
	.array(fc.constantFrom(...vocabulary), { maxLength: 40 })
	.chain((tokens) =>
		fc
			.array(fc.constantFrom(" ", "", "\n"), { minLength: tokens.length, maxLength: tokens.length })
			.map((gaps) => tokens.map((token, i) => `${token}${gaps[i]}`).join("")),
	);
/** Token soup that starts like a query, so that the later passes get exercised too. */
const likelyQuery = soup.map((tail) => `SELECT ${tail}`);

function expectOnlyOqlErrors(fn: () => unknown, syntaxOnly: boolean): void {
	try {
		fn();
	} catch (err) {
		if (!(err instanceof OqlError)) throw err;
		if (syntaxOnly && err.code !== "oql_syntax_error") throw err;
		if (err.code === "oql_syntax_error") {
			expect(err.position?.line).toBeGreaterThanOrEqual(1);
			expect(err.position?.column).toBeGreaterThanOrEqual(1);
		}
	}
}

describe("robustness", () => {
	it("never lets token soup crash the parser: it parses or throws oql_syntax_error", () => {
		fc.assert(
			fc.property(fc.oneof(soup, likelyQuery), (text) => expectOnlyOqlErrors(() => parse(text), true)),
			{ numRuns: 3_000 },
		);
	});

	it("never lets arbitrary text crash the parser", () => {
		fc.assert(
			fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) =>
				expectOnlyOqlErrors(() => parse(text), true),
			),
			{ numRuns: 2_000 },
		);
	});

	it("never lets a parsed tree crash the checker or the compiler: only OqlErrors", () => {
		fc.assert(
			fc.property(
				fc.oneof(
					likelyQuery,
					query.map(print),
					anySourceQuery.map((q) => q.text),
				),
				(text) => expectOnlyOqlErrors(() => prepare(text), false),
			),
			{ numRuns: 3_000 },
		);
	});
});

// ---- injection: the SQL text never depends on values, names or keys ----

const withoutNumbers = (sql: string) => sql.replaceAll(/\?\d+/g, "?");

function shapeOf(text: string): { sql: string; params: CompiledQuery["params"] } {
	const compiled = prepare(text);
	return { sql: compiled.sql, params: compiled.params };
}

describe("injection", () => {
	it("keeps string values out of the SQL text", () => {
		const reference = shapeOf(
			"SELECT count(*) FROM logs WHERE body = 'x' OR service LIKE 'y' OR body CONTAINS 'z'",
		);
		fc.assert(
			fc.property(hostile, hostile, hostile, (a, b, c) => {
				const text = `SELECT count(*) FROM logs WHERE body = ${printString(a)} OR service LIKE ${printString(b)} OR body CONTAINS ${printString(c)}`;
				const shape = shapeOf(text);
				// Equal values share a placeholder number; beyond the numbering the text never changes.
				expect(withoutNumbers(shape.sql)).toBe(withoutNumbers(reference.sql));
				const distinct = new Set([a, b, c, "\\"]).size === 4 && ![a, b, c].includes(ORG);
				if (distinct) expect(shape.sql).toBe(reference.sql);
				expect(shape.params).toEqual(expect.arrayContaining([a, b, c]));
			}),
			{ numRuns: 500 },
		);
	});

	it("binds $variables exactly like the string typed in their place", () => {
		fc.assert(
			fc.property(hostile, hostile, (a, b) => {
				const typed = prepare(
					`SELECT count(*) FROM logs WHERE service = ${printString(a)} OR body LIKE ${printString(b)}`,
				);
				const bound = prepareOql("SELECT count(*) FROM logs WHERE service = $s OR body LIKE $p", {
					orgId: ORG,
					now: NOW,
					dialect: sqliteDialect,
					variables: { s: a, p: b },
				});
				expect(bound.sql).toBe(typed.sql);
				expect(bound.params).toEqual(typed.params);
			}),
			{ numRuns: 300 },
		);
	});

	it("keeps attribute keys out of the SQL text (or refuses them)", () => {
		const reference = shapeOf("SELECT count(*) FROM spans WHERE attributes['k'] = 1 GROUP BY resource['r']");
		fc.assert(
			fc.property(fc.oneof(validKey, hostile), fc.oneof(validKey, hostile), (k, r) => {
				const text = `SELECT count(*) FROM spans WHERE attributes[${printString(k)}] = 1 GROUP BY resource[${printString(r)}]`;
				let shape: ReturnType<typeof shapeOf>;
				try {
					shape = shapeOf(text);
				} catch (err) {
					expect(err).toBeInstanceOf(OqlError);
					return;
				}
				expect(withoutNumbers(shape.sql)).toBe(withoutNumbers(reference.sql));
				if (k !== r) expect(shape.sql).toBe(reference.sql);
				expect(shape.params).toEqual(expect.arrayContaining([`$."${k}"`, `$."${r}"`]));
			}),
			{ numRuns: 500 },
		);
	});

	it("takes identifiers only from the field map", () => {
		const known = new Map(
			Object.keys(SOURCES.spans.fields).map((field) => [
				field,
				shapeOf(`SELECT count(*) FROM spans WHERE ${field} IS NULL`).sql,
			]),
		);
		fc.assert(
			fc.property(fc.oneof(hostile, identifier, fc.constantFrom(...known.keys())), (name) => {
				let sql: string;
				try {
					sql = shapeOf(`SELECT count(*) FROM spans WHERE ${name} IS NULL`).sql;
				} catch (err) {
					expect(err).toBeInstanceOf(OqlError);
					return;
				}
				expect([...known.values()]).toContain(sql);
			}),
			{ numRuns: 500 },
		);
	});

	it("keeps numbers, aliases, durations and IN lists out of the SQL text", () => {
		const reference = shapeOf(
			"SELECT count(*) AS 'a' FROM spans WHERE duration_ms > 1 AND attributes['x'] IN (2, 'b') LIMIT 7 LAST 1h",
		);
		fc.assert(
			fc.property(
				number,
				hostile,
				number,
				hostile,
				fc.integer({ min: 1, max: 10_000 }),
				fc.integer({ min: 1, max: 31 }),
				(n, alias, inNumber, inString, limit, days) => {
					fc.pre(alias.length > 0 && n !== inNumber);
					const text = `SELECT count(*) AS ${printString(alias)} FROM spans WHERE duration_ms > ${printNumber(n)} AND attributes['x'] IN (${printNumber(inNumber)}, ${printString(inString)}) LIMIT ${limit} LAST ${days}d`;
					const shape = shapeOf(text);
					expect(shape.sql).toBe(reference.sql);
					expect(shape.params).toContain(n);
				},
			),
			{ numRuns: 500 },
		);
	});

	it("keeps regular expressions and LIKE patterns in parameters", () => {
		const reference = shapeOf("SELECT body FROM logs WHERE body MATCHES 'a' AND body NOT LIKE 'b'");
		const pattern = fc
			.stringMatching(/^[a-z0-9.^$|*+?()[\]-]{1,20}$/)
			.filter((p) => sqliteDialect.regex?.validate(p) === null);
		fc.assert(
			fc.property(pattern, hostile, (regex, like) => {
				fc.pre(regex !== like && like !== "\\" && regex !== "\\");
				const shape = shapeOf(
					`SELECT body FROM logs WHERE body MATCHES ${printString(regex)} AND body NOT LIKE ${printString(like)}`,
				);
				expect(shape.sql).toBe(reference.sql);
			}),
			{ numRuns: 300 },
		);
	});
});

// ---- the guard: every compiled statement filters on the org and the time range ----

describe("the org and time guard", () => {
	it("is in every compiled statement, first, on the one read of the table", () => {
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
				expectGuardFirst(compiled, source, text, orgId, ["?1", "?2", "?3"]);
				expect(compiled.range.toMs - compiled.range.fromMs).toBeLessThanOrEqual(31 * 86_400_000);
			}),
			{ numRuns: 1_500 },
		);
		expect(compiledCount).toBeGreaterThan(750);
	});
});

// ---- no generated query returns a row of another org (annotations, a real database) ----

describe("org isolation on the migrated database", () => {
	let t: TestDatabase;
	const orgs = ["org_a", "org_b"];

	beforeAll(async () => {
		t = await openTestDatabase();
		for (const org of orgs) {
			await t.client.execute({
				sql: "INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)",
				args: [org, org, NOW],
			});
		}
		const services = ["api", "web", null, "o'brien"];
		for (let i = 0; i < 60; i++) {
			const org = orgs[i % 2] as string;
			await t.client.execute({
				sql: `INSERT INTO annotations (id, org_id, title, text, tags, time, service, environment, external_id, created_at, updated_at, created_by_type, created_by_id, created_by_name)
				      VALUES (?, ?, ?, ?, '[]', ?, ?, ?, ?, ?, ?, 'api_key', 'k', ?)`,
				args: [
					`an_${i}`,
					org,
					`title ${i % 7} ${org}`,
					i % 3 === 0 ? null : "x",
					NOW - (i % 30) * 60_000 * 50,
					services[i % 4] ?? null,
					i % 5 === 0 ? "prod" : "staging",
					`${org}:${i}`,
					NOW,
					NOW,
					org,
				],
			});
		}
	});
	afterAll(() => t.close());

	it("returns only the caller's rows, whatever the query", async () => {
		await fc.assert(
			fc.asyncProperty(typedQuery("annotations"), fc.constantFrom(...orgs), async (text, org) => {
				let compiled: CompiledQuery;
				try {
					compiled = prepare(text, org);
				} catch (err) {
					expect(err).toBeInstanceOf(OqlError);
					return;
				}
				const result = await t.client.execute({ sql: compiled.sql, args: compiled.params as InValue[] });
				const other = orgs.find((o) => o !== org) as string;
				for (const row of result.rows) {
					for (let i = 0; i < row.length; i++) {
						const cell = row[i];
						if (typeof cell === "string") expect(cell.includes(other), `${text} → ${cell}`).toBe(false);
					}
				}
			}),
			{ numRuns: 300 },
		);
	});
});
