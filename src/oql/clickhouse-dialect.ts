import type { RegexSupport, SqlDialect, SqlParam } from "./dialect.js";

/**
 * ClickHouse (clickhouse/migrations/0001_telemetry.sql): the same statements as SQLite's, with
 * ClickHouse's functions. Values travel as ClickHouse query parameters, `{p3:Type}`, typed from the
 * bound value (strings String, bigints Int64, other numbers Float64, null Nullable(String)); the
 * executor sends them as `param_p3` (src/clickhouse/oql.ts). docs/scale-out.md tabulates what each
 * construct compiles to on both dialects and where the answers may differ.
 *
 * Statements must run with `aggregate_functions_null_for_empty = 1` (sum/avg/min/max/quantiles of
 * no rows are NULL, as in SQLite) — the executor sets it with every query.
 */

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_PATTERN_LENGTH = 256;

/**
 * ClickHouse's match() is RE2: matching is linear in the text whatever the pattern (no
 * backtracking), so a pattern's cost per character is a constant. RE2 refuses backreferences and
 * lookarounds itself; they are refused here first with a clearer message.
 */
const re2: RegexSupport = {
	maxPatternLength: MAX_PATTERN_LENGTH,
	flavor: "RE2 syntax (ClickHouse match()): no backreferences or lookarounds",
	validate(pattern) {
		if (pattern.length === 0) return "the pattern is empty";
		if (pattern.length > MAX_PATTERN_LENGTH)
			return `the pattern is longer than ${MAX_PATTERN_LENGTH} characters`;
		const plain = pattern.replaceAll(/\\\\/g, "");
		if (/\\[1-9]/.test(plain)) return "backreferences (\\1…\\9) are not supported";
		if (/\(\?<?[=!]/.test(plain)) return "lookarounds are not supported";
		// Any other fault (an unclosed group, …) is RE2's to find: its error becomes
		// oql_invalid_query (src/clickhouse/oql.ts).
		return null;
	},
	charCost: () => 1,
};

function typeOf(value: SqlParam | undefined): string {
	if (value === undefined) throw new Error("internal: a ClickHouse placeholder needs its value's type");
	if (value === null) return "Nullable(String)";
	if (typeof value === "bigint") return "Int64";
	if (typeof value === "number") return "Float64";
	return "String";
}

export const clickhouseDialect: SqlDialect = {
	name: "clickhouse",

	// One (org_id, timestamp) sort key serves every range: nothing to force (the rollup planner's
	// raw edges included).
	narrowTimeScan: (table) => `"${table}"`,
	quoteIdentifier(name) {
		if (!IDENTIFIER.test(name)) throw new Error(`internal: refusing to quote ${JSON.stringify(name)}`);
		return `"${name}"`;
	},
	placeholder: (index, value) => `{p${index}:${typeOf(value)}}`,

	// Attribute maps are Map(String, String): a missing key is NULL (as json_extract gives), not ''.
	// Read as a number, the JSON text of a number converts; `true`/`false` read 1/0 as SQLite's JSON.
	jsonExtract: (columnSql, pathParam, as) => {
		const value = `if(mapContains(${columnSql}, ${pathParam}), ${columnSql}[${pathParam}], NULL)`;
		if (as !== "number") return value;
		return `multiIf(${value} = 'true', 1., ${value} = 'false', 0., toFloat64OrNull(${value}))`;
	},
	jsonPath: (key) => key,

	timeParam: (epochMs, unit) => (unit === "ns" ? BigInt(epochMs) * 1_000_000n : BigInt(epochMs)),
	// intDiv truncates toward zero, as SQLite's integer division does.
	timeBucket: (timeSql, sizeParam, originParam) =>
		`(intDiv(${timeSql} - ${originParam}, ${sizeParam}) * ${sizeParam} + ${originParam})`,
	timeToEpochMs: (timeSql, unit) => (unit === "ns" ? `(${timeSql} / 1000000)` : timeSql),
	// `/` is a float division here; intDiv truncates toward zero as SQLite's integer `/` does.
	timeToWholeEpochMs: (timeSql, unit) => (unit === "ns" ? `intDiv(${timeSql}, 1000000)` : timeSql),
	// The rollups' Map(UInt16, UInt64) histograms summed per key in the engine: one Map per group
	// (a JSON object in the answer), not one JSON text per rollup row as on SQLite.
	mergeHistograms: (histSql) => `sumMap(${histSql})`,

	// ClickHouse's LIKE always escapes with `\` (no ESCAPE clause with a parameter); ILIKE folds
	// case over UTF-8 (SQLite's LIKE folds ASCII letters only).
	like: (operandSql, patternParam) => `(${operandSql} ILIKE ${patternParam})`,
	contains: (operandSql, needleParam) => `(position(${operandSql}, ${needleParam}) > 0)`,
	regex: re2,
	matches: (operandSql, patternParam) => `match(${operandSql}, ${patternParam})`,

	// `/` is always a float division in ClickHouse; by zero it gives NULL, as in SQLite.
	divide: (leftSql, rightSql) => `(${leftSql} / nullIf(${rightSql}, 0))`,
	nullSafeEquals: (leftSql, rightSql) => `isNotDistinctFrom(${leftSql}, ${rightSql})`,
	// Attribute values are read as Float64 (or text): no integer past 2^53 comes out of them.
	exactInteger: (valueSql) => valueSql,
	boolParam: (value) => (value ? 1n : 0n),
	orderTerm: (sql, direction) => `${sql} ${direction === "asc" ? "ASC" : "DESC"} NULLS LAST`,

	// R-7 interpolation between closest ranks: the same definition as SQLite's window percentile.
	percentile: {
		aggregate: (valueSql, fractionParam) => `quantileExactInclusive(${fractionParam})(${valueSql})`,
	},
	// The newest non-null value; equal times resolved to the greatest value, as the SQLite windows do.
	latest: { aggregate: (valueSql, timeSql) => `argMax(${valueSql}, (${timeSql}, ${valueSql}))` },
	countDistinct: (valueSql) => `uniqExact(${valueSql})`,
	totalLength: (valueSql) => `sum(length(${valueSql}))`,
};
