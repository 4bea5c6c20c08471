import type { TimeUnit } from "./columns.js";
import type { RegexSupport, SqlDialect, SqlParam } from "./dialect.js";

const MAX_PATTERN_LENGTH = 256;
/** regexp.c expands `{m,n}` by copying its operand: a nested `(a{100}){100}` takes tens of seconds a row. */
const MAX_PATTERN_STATES = 1_000;

/**
 * libSQL's REGEXP (both the embedded client and the server ship SQLite's ext/misc/regexp.c): a
 * Thompson NFA, so matching is linear in the text — no catastrophic backtracking — but its size
 * grows with counted repetitions, which are bounded here before a pattern reaches the engine.
 */
const sqliteRegex: RegexSupport = {
	maxPatternLength: MAX_PATTERN_LENGTH,
	flavor: "SQLite regexp syntax: . [] [^] ^ $ * + ? {m,n} | ( ) \\d \\w \\s \\b and their negations",
	validate: validateSqliteRegex,
	charCost: sqliteRegexCharCost,
};

/** null when SQLite's regexp.c can run `pattern` within bounds, else the reason. */
export function validateSqliteRegex(pattern: string): string | null {
	const result = analyzeSqliteRegex(pattern);
	return typeof result === "string" ? result : null;
}

/**
 * What matching one character of text may cost regexp.c with `pattern`: the square of its states.
 * regexp.c keeps the set of live states in a list and checks each state it adds against that list,
 * so a character costs up to states × states steps. Measured here (worst-case text): `(x|y){30}z`
 * 1.9 µs a character, `(x|y){100}z` 19 µs, `(x|y){300}z` 216 µs — about 0.25 ns × states².
 */
export function sqliteRegexCharCost(pattern: string): number {
	const result = analyzeSqliteRegex(pattern);
	const states = typeof result === "string" ? MAX_PATTERN_STATES : Math.max(1, result.states);
	return states * states;
}

/** The pattern's states (as regexp.c would compile it), or why it is refused. */
function analyzeSqliteRegex(pattern: string): string | { states: number } {
	if (pattern.length === 0) return "the pattern is empty";
	if (pattern.length > MAX_PATTERN_LENGTH)
		return `the pattern is longer than ${MAX_PATTERN_LENGTH} characters`;
	if (/\(\?/.test(pattern.replaceAll(/\\./g, "")))
		return "(?…) groups, flags and lookarounds are not supported";
	// Per group: the states so far; the last atom's size, for a quantifier that follows it.
	const groups: { size: number; last: number }[] = [{ size: 0, last: 0 }];
	const top = () => groups[groups.length - 1] as { size: number; last: number };
	const atom = (size: number) => {
		top().size += size;
		top().last = size;
	};
	for (let i = 0; i < pattern.length; i++) {
		const c = pattern[i];
		if (c === "\\") {
			const next = pattern[i + 1];
			if (next === undefined) return "the pattern ends with a lone backslash";
			if (/[1-9]/.test(next)) return "backreferences (\\1…\\9) are not supported";
			if (/[pPkK]/.test(next)) return `\\${next} is not supported`;
			i++;
			atom(1);
		} else if (c === "[") {
			let j = i + 1;
			if (pattern[j] === "^") j++;
			if (pattern[j] === "]") j++;
			while (j < pattern.length && pattern[j] !== "]") {
				if (pattern[j] === "[" && pattern[j + 1] === ":")
					return "POSIX classes such as [:alpha:] are not supported";
				if (pattern[j] === "\\") j++;
				j++;
			}
			if (j >= pattern.length) return "a [ is not closed";
			i = j;
			atom(1);
		} else if (c === "(") {
			groups.push({ size: 0, last: 0 });
		} else if (c === ")") {
			if (groups.length === 1) return "a ) has no matching (";
			const group = groups.pop() as { size: number; last: number };
			atom(group.size + 1);
		} else if (c === "{") {
			const match = /^\{(\d{1,4})(,(\d{0,4}))?\}/.exec(pattern.slice(i));
			if (!match) return "a { must read {m}, {m,} or {m,n}";
			const min = Number(match[1]);
			const max = match[3] ? Number(match[3]) : min;
			if (max === 0) return "{0} repeats nothing";
			if (match[3] && max < min) return `{${min},${max}} has its bounds the wrong way round`;
			if (top().last === 0) return "a {m,n} follows nothing";
			top().size += top().last * (Math.max(min, max) - 1);
			top().last *= Math.max(min, max);
			i += match[0].length - 1;
		} else if (c === "*" || c === "+" || c === "?") {
			if (top().last === 0) return `a ${c} follows nothing`;
		} else if (c === "|" || c === "^" || c === "$") {
			top().last = 0;
		} else {
			atom(1);
		}
		if (top().size > MAX_PATTERN_STATES) {
			return "the pattern is too complex: its repetitions expand too far (nest fewer {m,n})";
		}
	}
	if (groups.length > 1) return "a ( is not closed";
	return { states: top().size };
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** libSQL / SQLite: the embedded client on Node and remote libSQL (Turso, sqld) on Workers. */
export const sqliteDialect: SqlDialect = {
	name: "sqlite",

	/**
	 * Names the (org_id, timestamp) index: without statistics SQLite prefers an index that serves
	 * the GROUP BY (for example (org_id, host, timestamp) for `GROUP BY host`) and then reads every
	 * row of the org to keep a minute of them — measured 200–550 ms at 1M logs instead of ~1 ms.
	 */
	narrowTimeScan(table) {
		return `${table} INDEXED BY ${table}_org_time_idx`;
	},
	quoteIdentifier(name) {
		// Every name comes from columns.ts or the compiler; refuse anything else loudly.
		if (!IDENTIFIER.test(name)) throw new Error(`internal: refusing to quote ${JSON.stringify(name)}`);
		return `"${name}"`;
	},
	placeholder: (index) => `?${index}`,

	jsonExtract: (columnSql, pathParam) => `json_extract(${columnSql}, ${pathParam})`,
	// A quoted label takes the key literally (dots included); the semantic pass refuses `"` and `\`.
	jsonPath: (key) => `$."${key}"`,

	timeParam: (epochMs: number, unit: TimeUnit): SqlParam =>
		unit === "ns" ? BigInt(epochMs) * 1_000_000n : BigInt(epochMs),
	timeBucket: (timeSql, sizeParam, originParam) =>
		`(((${timeSql} - ${originParam}) / ${sizeParam}) * ${sizeParam} + ${originParam})`,
	timeToEpochMs: (timeSql, unit) => (unit === "ns" ? `(${timeSql} / 1000000.0)` : timeSql),
	// Integer operands: SQLite's `/` truncates.
	timeToWholeEpochMs: (timeSql, unit) => (unit === "ns" ? `(${timeSql} / 1000000)` : timeSql),
	// Each rollup row's JSON object, gathered; the executor sums them.
	mergeHistograms: (histSql) => `json_group_array(json(${histSql}))`,

	// SQLite's LIKE folds ASCII letters only (no ICU in libSQL builds); documented in docs/oql.md.
	like: (operandSql, patternParam, escapeParam) =>
		`(${operandSql} LIKE ${patternParam} ESCAPE ${escapeParam})`,
	contains: (operandSql, needleParam) => `(instr(${operandSql}, ${needleParam}) > 0)`,
	regex: sqliteRegex,
	matches: (operandSql, patternParam) => `(${operandSql} REGEXP ${patternParam})`,

	divide: (leftSql, rightSql) => `(CAST(${leftSql} AS REAL) / ${rightSql})`,
	nullSafeEquals: (leftSql, rightSql) => `${leftSql} IS ${rightSql}`,
	// libSQL clients read integers as JS numbers and throw on those past 2^53 (intMode "number").
	exactInteger: (valueSql) =>
		`(CASE WHEN typeof(${valueSql}) = 'integer' AND (${valueSql} > 9007199254740991 OR ${valueSql} < -9007199254740991) THEN CAST(${valueSql} AS TEXT) ELSE ${valueSql} END)`,
	boolParam: (value) => (value ? 1 : 0),
	orderTerm: (sql, direction) => `${sql} ${direction === "asc" ? "ASC" : "DESC"} NULLS LAST`,

	percentile: "window",
	latest: "window",
	countDistinct: (valueSql) => `COUNT(DISTINCT ${valueSql})`,
	totalLength: (valueSql) => `total(length(${valueSql}))`,
};
