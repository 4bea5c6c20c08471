/**
 * fast-check arbitraries of OQL text over the real field maps, shared by the properties on SQLite
 * (test/node/oql-properties.test.ts) and on ClickHouse (test/clickhouse/differential.test.ts).
 */
import fc from "fast-check";
import { expect } from "vitest";
import { STORAGE } from "../../src/oql/columns.js";
import type { CompiledQuery } from "../../src/oql/compiler.js";
import { SOURCES, type SourceName } from "../../src/oql/fields.js";
import { printNumber, printString } from "../../src/oql/printer.js";

/** Finite numbers, integers and doubles, without -0. */
export const number = fc
	.oneof(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.double({ noNaN: true, noDefaultInfinity: true }))
	.filter((value) => Number.isFinite(value) && !Object.is(value, -0));

// ---- well-typed queries over the real field maps ----

export const validKey = fc
	.string({ minLength: 1, maxLength: 40, unit: "binary" })
	.filter((key) => !/["\\\p{Cc}]/u.test(key));
export const hostile = fc.oneof(
	fc.string({ unit: "binary", maxLength: 60 }),
	fc.constantFrom(
		"' OR 1=1 --",
		"'; DROP TABLE logs; --",
		'") OR ("1"="1',
		"?1",
		"$1",
		":org",
		"\u0000",
		"*/ UNION SELECT * FROM api_keys /*",
		"org_b",
	),
);

/** Well-typed queries over the real field maps (mostly valid, so the compiler runs). */
export function typedQuery(source: SourceName): fc.Arbitrary<string> {
	const info = SOURCES[source];
	const fieldsOf = (type: string) =>
		Object.entries(info.fields)
			.filter(([, f]) => f.type === type)
			.map(([name]) => name);
	const strings = fieldsOf("string");
	const numbers = fieldsOf("number");
	const stringField = fc.constantFrom(...strings);
	const numberField = numbers.length > 0 ? fc.constantFrom(...numbers) : fc.constant(null);
	const value = hostile.map(printString);
	const attribute = info.attributes
		? validKey.map((k) => `attributes[${printString(k)}]`)
		: fc.constant(null);
	const condition: fc.Arbitrary<string> = fc.letrec<{ c: string }>((tie) => ({
		c: fc.oneof(
			{ depthSize: "small" },
			fc
				.tuple(stringField, fc.constantFrom("=", "!=", "<", ">="), value)
				.map(([f, op, v]) => `${f} ${op} ${v}`),
			fc
				.tuple(stringField, fc.constantFrom("LIKE", "NOT LIKE", "CONTAINS", "NOT CONTAINS"), value)
				.map((p) => p.join(" ")),
			fc
				.tuple(stringField, fc.array(value, { minLength: 1, maxLength: 3 }))
				.map(([f, vs]) => `${f} IN (${vs.join(", ")})`),
			fc.tuple(stringField, fc.boolean()).map(([f, not]) => `${f} IS ${not ? "NOT " : ""}NULL`),
			fc
				.tuple(numberField, number)
				.map(([f, n]) => (f ? `${f} > ${printNumber(n)}` : "timestamp IS NOT NULL")),
			fc.tuple(attribute, value).map(([a, v]) => (a ? `${a} = ${v}` : "timestamp IS NULL")),
			fc.tuple(tie("c"), fc.constantFrom("AND", "OR"), tie("c")).map(([l, op, r]) => `(${l}) ${op} (${r})`),
			tie("c").map((c) => `NOT (${c})`),
			fc.constant("1 = 1 OR TRUE"),
		),
	})).c;
	const aggregate = fc.constantFrom(
		"count(*)",
		`count_distinct(${strings[0]})`,
		...(numbers.length > 0 ? [`p95(${numbers[0]})`, `avg(${numbers[0]})`, `latest(${numbers[0]})`] : []),
		"min(timestamp)",
		"rate(count(*), 1m)",
	);
	/** [select list, clauses after WHERE] */
	const shape = fc.oneof(
		fc.constant(["*", ""]),
		stringField.map((f) => [`${f}, timestamp`, " ORDER BY timestamp DESC LIMIT 50"]),
		aggregate.map((a) => [a, ""]),
		fc.tuple(aggregate, stringField).map(([a, f]) => [a, ` GROUP BY ${f}`]),
		fc.tuple(aggregate, stringField).map(([a, f]) => [a, ` GROUP BY ${f} TIMESERIES 1h LIMIT 3`]),
		aggregate.map((a) => [a, " TIMESERIES AUTO"]),
	);
	return fc
		.tuple(
			shape,
			fc.option(condition, { nil: null }),
			fc.constantFrom("", " LAST 30m", " SINCE 2d ago UNTIL 1d ago", " LAST 31d"),
		)
		.map(
			([[select, clauses], where, range]) =>
				`SELECT ${select} FROM ${source}${where ? ` WHERE ${where}` : ""}${clauses}${range}`,
		);
}

export const anySourceQuery = fc
	.constantFrom(...(Object.keys(SOURCES) as SourceName[]))
	.chain((source) => typedQuery(source).map((text) => ({ source, text })));

/**
 * The org and time guard of a compiled statement: once, first on the one read of the table, the
 * user's condition AND-ed after it, bound to the org and the window. `placeholders` are the
 * dialect's for the first three parameters (`?1`… on SQLite, `{p1:String}`… on ClickHouse).
 */
export function expectGuardFirst(
	compiled: CompiledQuery,
	source: SourceName,
	text: string,
	orgId: string,
	placeholders: [string, string, string],
): void {
	const storage = STORAGE[source];
	const table = `FROM "${storage.table}" AS "t"`;
	const time = `"t"."${storage.timeColumn}"`;
	const [org, from, to] = placeholders;
	const guard = `WHERE "t"."${storage.orgColumn}" = ${org} AND ${time} >= ${from} AND ${time} < ${to}`;
	expect(compiled.sql.split(table)).toHaveLength(2);
	expect(compiled.sql.split(guard)).toHaveLength(2);
	const afterTable = compiled.sql.slice(compiled.sql.indexOf(table) + table.length);
	expect(
		afterTable.replace(/^ LEFT JOIN "\w+" AS "\w+" ON "\w+"\."\w+" = "t"\."\w+"/, "").startsWith(` ${guard}`),
	).toBe(true);
	// The user's condition can only narrow: it is AND-ed, in parentheses, after the guard.
	const rest = afterTable.slice(afterTable.indexOf(guard) + guard.length);
	expect(rest.startsWith(" AND (") || !/\bWHERE\b/.test(text)).toBe(true);
	const unit = storage.timeUnit === "ns" ? 1_000_000n : 1n;
	expect(compiled.params.slice(0, 3)).toEqual([
		orgId,
		BigInt(compiled.range.fromMs) * unit,
		BigInt(compiled.range.toMs) * unit,
	]);
}
