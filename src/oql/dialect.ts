import type { TimeUnit } from "./columns.js";

/** A bound parameter value. Integers that must stay integers (time bounds, bucket sizes) are bigint. */
export type SqlParam = string | number | bigint | null;

/** What a backend accepts as a MATCHES pattern. */
export interface RegexSupport {
	/** Longer patterns are refused before they reach the engine. */
	maxPatternLength: number;
	/** The syntax accepted, for error messages and docs. */
	flavor: string;
	/** null when the engine can run the pattern, else why not (for an oql_invalid_query message). */
	validate(pattern: string): string | null;
	/**
	 * The engine's worst-case work per character of text for a valid pattern, in its own units; a
	 * statement's MATCHES cost is this times the characters it would match against (docs/oql.md).
	 */
	charCost(pattern: string): number;
}

/**
 * The seam between the OQL compiler and a SQL engine. The compiler decides what to compute and
 * builds every statement from these pieces; a second backend (e.g. ClickHouse) implements this
 * interface and nothing above it changes. Arguments named `…Sql` are SQL fragments the compiler
 * built; arguments named `…Param` are placeholders from `placeholder()`. No method ever receives
 * text from the query: identifiers come from columns.ts, values travel as parameters.
 */
export interface SqlDialect {
	readonly name: string;

	/** Quotes a table, column or alias name from columns.ts or the compiler (never from a query). */
	quoteIdentifier(name: string): string;
	/**
	 * A telemetry table (`logs`, `spans`, `metric_points`) as read for one narrow time range of one org: the raw
	 * edges of an answer from the rollups, each shorter than a bucket.
	 */
	narrowTimeScan(table: "logs" | "spans" | "metric_points"): string;
	/**
	 * The placeholder of the n-th parameter (1-based), e.g. `?3`; the same n may appear many times.
	 * `value` is the bound value, for an engine whose placeholders carry a type (ClickHouse's
	 * `{p3:Int64}`); the OQL compiler always passes it.
	 */
	placeholder(index: number, value?: SqlParam): string;

	/**
	 * The value of one key of an attribute column; `pathParam` binds the value of `jsonPath(key)`.
	 * `as` is `number` where the compiler reads it as a number (compared with a number or boolean,
	 * in arithmetic, summed, averaged or ranked for a percentile): an engine that stores attribute
	 * values as text (ClickHouse's Map(String, String)) converts it there; SQLite's JSON values are
	 * typed already and ignore it.
	 */
	jsonExtract(columnSql: string, pathParam: string, as?: "number"): string;
	/** The bound value that addresses `key` for jsonExtract (the key is exact: dots are not paths). */
	jsonPath(key: string): SqlParam;

	/** A stored time value as a bound parameter, from epoch milliseconds. */
	timeParam(epochMs: number, unit: TimeUnit): SqlParam;
	/** The start of the bucket of `timeSql`: buckets of `sizeParam` counted from `originParam`. */
	timeBucket(timeSql: string, sizeParam: string, originParam: string): string;
	/** A stored time as epoch milliseconds for the result (a float when sub-millisecond). */
	timeToEpochMs(timeSql: string, unit: TimeUnit): string;
	/**
	 * A stored time as whole epoch milliseconds, truncated (an integer, for bucket arithmetic: the
	 * rollup planner's raw edges bucket it as the rollups bucket their minutes).
	 */
	timeToWholeEpochMs(timeSql: string, unit: TimeUnit): string;
	/**
	 * The latency rollups' histograms (`hist` of `span_latency_*`) of a group, as one aggregate the
	 * executor reads with `histogramValueOf` (src/oql/execute.ts): SQLite's JSON objects gathered
	 * into a JSON array (merged by the executor), ClickHouse's Maps summed in the engine (one Map).
	 */
	mergeHistograms(histSql: string): string;

	/** Case-insensitive LIKE with `\` escaping `%`, `_` and itself; `escapeParam` binds `\`. */
	like(operandSql: string, patternParam: string, escapeParam: string): string;
	/** Case-sensitive substring test. */
	contains(operandSql: string, needleParam: string): string;
	/** Regular-expression search, or null when the engine has no safe regular expressions. */
	readonly regex: RegexSupport | null;
	matches(operandSql: string, patternParam: string): string;

	/** A float division (never integer division, whatever the operand types). */
	divide(leftSql: string, rightSql: string): string;
	/** Equality where NULL equals NULL (joining a group back to its rows). */
	nullSafeEquals(leftSql: string, rightSql: string): string;
	/** A result value with integers beyond ±2^53 turned into their exact decimal text. */
	exactInteger(valueSql: string): string;
	/** A boolean value as a bound parameter. */
	boolParam(value: boolean): SqlParam;
	/** ORDER BY `sql` ascending or descending with NULLs last. */
	orderTerm(sql: string, direction: "asc" | "desc"): string;

	/**
	 * Exact percentiles: `window` ranks rows with ROW_NUMBER/COUNT over the group (SQLite, PostgreSQL
	 * without ordered-set aggregates); an engine with an exact aggregate renders it directly.
	 */
	readonly percentile: "window" | { aggregate(valueSql: string, fractionParam: string): string };
	/** latest(x): `window` ranks rows by time within the group; else an argMax-style aggregate. */
	readonly latest: "window" | { aggregate(valueSql: string, timeSql: string): string };
	countDistinct(valueSql: string): string;
	/** The total of the characters of a text value over the rows (0 over none): the MATCHES cost check. */
	totalLength(valueSql: string): string;
}
