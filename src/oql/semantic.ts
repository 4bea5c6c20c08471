import { inTelemetryRange, MAX_TELEMETRY_MS, TELEMETRY_RANGE_TEXT } from "../time-range.js";
import type { CallArg, Duration, Expr, Literal, Query, TimePoint } from "./ast.js";
import type { RegexSupport } from "./dialect.js";
import { didYouMean, invalidQuery, OqlError, type Position } from "./errors.js";
import { type FieldType, fieldOf, resolveSource, SOURCES, type SourceName, sourceNames } from "./fields.js";
import type { AttributeMap, DurationUnit } from "./lexer.js";
import { childrenOf } from "./parser.js";
import { printDuration, printExpr } from "./printer.js";

/** The type of a value in a query; `any` is an attribute (its JSON type is known only per row). */
export type ValueType = FieldType | "any";
/** The type of a result column: `json` is a whole attributes/resource map (from `SELECT *`). */
export type OutputType = ValueType | "json";

export const DEFAULT_RANGE_MS = 3_600_000;
export const DEFAULT_MAX_RANGE_MS = 31 * 86_400_000;
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;
/** With GROUP BY and TIMESERIES, LIMIT counts series: the top groups by row count, or by ORDER BY. */
export const DEFAULT_SERIES_LIMIT = 10;
export const MAX_SERIES_LIMIT = 100;
export const MAX_BUCKETS = 1_000;
/** TIMESERIES AUTO picks the smallest of these intervals giving at most this many buckets. */
export const AUTO_BUCKET_TARGET = 120;
/**
 * …and over a window of an hour or more, at least a minute: whole-minute buckets are what the
 * rollups answer (a 1 h chart of 60 points instead of 120 raw 30 s ones).
 */
export const AUTO_MINUTE_FROM_MS = 3_600_000;
export const MAX_GROUP_KEYS = 10;
export const MAX_SELECT_ITEMS = 50;
export const MAX_IN_VALUES = 1_000;
export const MAX_ATTRIBUTE_KEY_LENGTH = 256;
export const MAX_STRING_LENGTH = 10_000;

const UNIT_MS: Record<DurationUnit, number> = {
	s: 1_000,
	m: 60_000,
	h: 3_600_000,
	d: 86_400_000,
	w: 604_800_000,
};
const AUTO_INTERVALS: { value: number; unit: DurationUnit }[] = [
	{ value: 1, unit: "s" },
	{ value: 5, unit: "s" },
	{ value: 10, unit: "s" },
	{ value: 30, unit: "s" },
	{ value: 1, unit: "m" },
	{ value: 5, unit: "m" },
	{ value: 10, unit: "m" },
	{ value: 15, unit: "m" },
	{ value: 30, unit: "m" },
	{ value: 1, unit: "h" },
	{ value: 3, unit: "h" },
	{ value: 6, unit: "h" },
	{ value: 12, unit: "h" },
	{ value: 1, unit: "d" },
	{ value: 1, unit: "w" },
];
/** Week buckets start on Mondays (1970-01-05T00:00:00Z); smaller ones at the epoch. */
const WEEK_ORIGIN_MS = 4 * 86_400_000;

export const AGGREGATE_FUNCTIONS = [
	"count",
	"count_distinct",
	"sum",
	"avg",
	"min",
	"max",
	"p50",
	"p90",
	"p95",
	"p99",
	"percentile",
	"rate",
	"latest",
] as const;
export type AggregateName = (typeof AGGREGATE_FUNCTIONS)[number];
const AGGREGATE_SET: ReadonlySet<string> = new Set(AGGREGATE_FUNCTIONS);
/** Names people bring from other query languages. */
const FUNCTION_SYNONYMS: Record<string, AggregateName> = {
	average: "avg",
	mean: "avg",
	median: "p50",
	uniquecount: "count_distinct",
	distinct_count: "count_distinct",
	countdistinct: "count_distinct",
	total: "sum",
	last: "latest",
};
/** The percentile of each shorthand. */
export const PERCENTILE_SHORTHANDS: Record<string, number> = { p50: 50, p90: 90, p95: 95, p99: 99 };

export interface CheckOptions {
	/** Now, in epoch milliseconds: rolling ranges end here. */
	now: number;
	/** The widest time range allowed (default 31 days): wider → oql_range_too_large. */
	maxRangeMs?: number;
	/** The backend's regular expressions, or null: MATCHES is then refused. */
	regex: RegexSupport | null;
	/**
	 * Bounds that replace the query's own (epoch milliseconds): a dashboard's time picker. Each one
	 * given wins over LAST/SINCE/UNTIL; the window is then checked like any other.
	 */
	range?: { fromMs?: number | undefined; toMs?: number | undefined };
}

/** A result column before compilation: a value, or (from `SELECT *`) a whole attribute map. */
export type OutputExpr = Expr | { kind: "attributeMap"; map: AttributeMap; pos: Position };

export interface OutputColumn {
	name: string;
	expr: OutputExpr;
	type: OutputType;
	/** In an aggregate query: a group key (the rest are aggregate expressions). */
	groupKey: boolean;
}

export interface CheckedQuery {
	query: Query;
	source: SourceName;
	/** `rows`: one result row per stored row; `aggregate`: aggregates, GROUP BY or TIMESERIES. */
	mode: "rows" | "aggregate";
	/** The result columns (TIMESERIES adds its bucket column in the compiler, first). */
	columns: OutputColumn[];
	where: Expr | null;
	/** GROUP BY keys, aliases resolved. */
	groupBy: Expr[];
	/** ORDER BY terms, aliases resolved. */
	orderBy: { expr: Expr; direction: "asc" | "desc" }[];
	/** Rows (or groups) at most; with GROUP BY and TIMESERIES, series at most. */
	limit: number;
	/** The time range, [from, to) in epoch milliseconds. */
	range: { fromMs: number; toMs: number };
	timeseries: {
		bucketMs: number;
		originMs: number;
		/** The buckets the result covers: the executor fills those without rows. */
		firstBucketMs: number;
		lastBucketMs: number;
	} | null;
	/** The type of every expression node (compare sides, time literals, outputs). */
	types: Map<Expr, ValueType>;
	/** String literals compared with a time field, resolved to epoch milliseconds. */
	timeLiterals: Map<Literal, number>;
}

/** Checks a parsed query against its source's field map and the language's rules. */
export function check(query: Query, options: CheckOptions): CheckedQuery {
	return new Checker(query, options).run();
}

export function isAggregateCall(expr: Expr): expr is Expr & { kind: "call" } {
	return expr.kind === "call" && AGGREGATE_SET.has(expr.name);
}

export function containsAggregate(expr: Expr): boolean {
	if (isAggregateCall(expr)) return true;
	return childrenOf(expr).some(containsAggregate);
}

export function durationMs(duration: Pick<Duration, "value" | "unit">): number {
	return duration.value * UNIT_MS[duration.unit];
}

type Clause = "select" | "where" | "group" | "order";

class Checker {
	private readonly types = new Map<Expr, ValueType>();
	private readonly timeLiterals = new Map<Literal, number>();
	private source: SourceName = "logs";

	constructor(
		private readonly query: Query,
		private readonly options: CheckOptions,
	) {}

	run(): CheckedQuery {
		const { query } = this;
		const source = resolveSource(query.from.name);
		if (!source) {
			throw invalidQuery(
				`Unknown source '${query.from.name}'.${didYouMean(query.from.name, sourceNames())} Sources: ${sourceNames().join(", ")}`,
				query.from.pos,
			);
		}
		this.source = source;
		if (query.select.length > MAX_SELECT_ITEMS) {
			throw invalidQuery(
				`At most ${MAX_SELECT_ITEMS} items may be selected`,
				query.select[MAX_SELECT_ITEMS]?.pos,
			);
		}

		// Types first, clause by clause: unknown names and type errors point at their place.
		for (const item of query.select) if (item.kind === "expr") this.typeOf(item.expr, "select");
		if (query.where) {
			const type = this.typeOf(query.where, "where");
			this.expectBool(type, query.where, "WHERE");
		}
		const aliases = new Map<string, Expr>();
		for (const item of query.select) {
			if (item.kind === "expr" && item.alias !== null) aliases.set(item.alias.toLowerCase(), item.expr);
		}
		const groupBy = query.groupBy.map((expr) => this.groupKey(expr, aliases));
		if (groupBy.length > MAX_GROUP_KEYS) {
			throw invalidQuery(`GROUP BY takes at most ${MAX_GROUP_KEYS} keys`, groupBy[MAX_GROUP_KEYS]?.pos);
		}
		const groupTexts = new Set<string>();
		for (const key of groupBy) {
			const text = printExpr(key);
			if (groupTexts.has(text)) throw invalidQuery(`GROUP BY names ${text} twice`, key.pos);
			groupTexts.add(text);
		}
		const orderBy = query.orderBy.map((item) => {
			const expr = this.orderTerm(item.expr, aliases);
			return { expr, direction: item.direction };
		});

		const hasAggregate = query.select.some((item) => item.kind === "expr" && containsAggregate(item.expr));
		const mode = hasAggregate || groupBy.length > 0 || query.timeseries ? "aggregate" : "rows";
		if (mode === "aggregate") this.checkAggregateQuery(groupTexts, hasAggregate, orderBy);
		else {
			for (const term of orderBy) {
				if (containsAggregate(term.expr)) {
					throw invalidQuery("ORDER BY an aggregate needs an aggregate query", term.expr.pos);
				}
			}
		}

		const range = this.timeRange();
		const timeseries = this.timeseries(range);
		return {
			query,
			source,
			mode,
			columns: this.outputColumns(mode, groupBy, groupTexts),
			where: query.where,
			groupBy,
			orderBy,
			limit: this.limit(groupBy.length > 0 && timeseries !== null),
			range,
			timeseries,
			types: this.types,
			timeLiterals: this.timeLiterals,
		};
	}

	// ---- names and types ----

	private typeOf(expr: Expr, clause: Clause, insideAggregate = false): ValueType {
		const type = this.computeType(expr, clause, insideAggregate);
		this.types.set(expr, type);
		return type;
	}

	private computeType(expr: Expr, clause: Clause, insideAggregate: boolean): ValueType {
		switch (expr.kind) {
			case "number":
				if (!Number.isFinite(expr.value)) throw invalidQuery("A number must be finite", expr.pos);
				return "number";
			case "string":
				if (expr.value.length > MAX_STRING_LENGTH) {
					throw invalidQuery(`A string may hold at most ${MAX_STRING_LENGTH} characters`, expr.pos);
				}
				return "string";
			case "bool":
				return "bool";
			case "variable":
				// bindVariables (variables.ts) replaces every variable before the check.
				throw invalidQuery(`The variable $${expr.name} has no value`, expr.pos);
			case "field":
				return this.field(expr.name, expr.pos);
			case "attribute":
				this.attribute(expr.map, expr.key, expr.pos);
				return "any";
			case "duration":
				throw invalidQuery(
					`A duration (${printDuration(expr.duration)}) is only allowed as the interval of rate(…, ${printDuration(expr.duration)}), after LAST, in SINCE … AGO and after TIMESERIES`,
					expr.pos,
				);
			case "negate": {
				const type = this.typeOf(expr.operand, clause, insideAggregate);
				this.expectNumber(type, expr.operand, "A minus sign");
				return "number";
			}
			case "arithmetic": {
				const left = this.typeOf(expr.left, clause, insideAggregate);
				const right = this.typeOf(expr.right, clause, insideAggregate);
				this.expectNumber(left, expr.left, `'${expr.op}'`);
				this.expectNumber(right, expr.right, `'${expr.op}'`);
				return "number";
			}
			case "compare":
				this.comparison(expr, clause, insideAggregate);
				return "bool";
			case "and":
			case "or": {
				const word = expr.kind.toUpperCase();
				this.expectBool(this.typeOf(expr.left, clause, insideAggregate), expr.left, word);
				this.expectBool(this.typeOf(expr.right, clause, insideAggregate), expr.right, word);
				return "bool";
			}
			case "not":
				this.expectBool(this.typeOf(expr.operand, clause, insideAggregate), expr.operand, "NOT");
				return "bool";
			case "in": {
				const type = this.typeOf(expr.operand, clause, insideAggregate);
				if (expr.values.length > MAX_IN_VALUES) {
					throw invalidQuery(`IN takes at most ${MAX_IN_VALUES} values`, expr.values[MAX_IN_VALUES]?.pos);
				}
				if (type === "time") {
					throw invalidQuery(`IN cannot test a time; compare with >= and <`, expr.operand.pos);
				}
				for (const value of expr.values) {
					const valueType = this.typeOf(value, clause, insideAggregate);
					if (type !== "any" && valueType !== type) {
						throw invalidQuery(
							`${describe(expr.operand)} is a ${type}, but the IN list holds a ${valueType} (${printExpr(value)})`,
							value.pos,
						);
					}
				}
				return "bool";
			}
			case "like":
			case "contains":
			case "matches": {
				const word = expr.kind.toUpperCase();
				const type = this.typeOf(expr.operand, clause, insideAggregate);
				if (type !== "string" && type !== "any") {
					throw invalidQuery(
						`${word} needs a string, but ${describe(expr.operand)} is a ${type}`,
						expr.operand.pos,
					);
				}
				this.typeOf(expr.pattern, clause, insideAggregate);
				if (expr.pattern.kind !== "string")
					throw invalidQuery(`${word} needs a 'quoted string'`, expr.pattern.pos);
				if (expr.kind === "matches") this.regexPattern(expr.pattern.value, expr.pattern.pos);
				return "bool";
			}
			case "isNull":
				this.typeOf(expr.operand, clause, insideAggregate);
				return "bool";
			case "call":
				return this.call(expr, clause, insideAggregate);
		}
	}

	private field(name: string, pos: Position): ValueType {
		const info = fieldOf(this.source, name);
		if (info) return info.type;
		const fields = Object.keys(SOURCES[this.source].fields);
		const elsewhere = (Object.keys(SOURCES) as SourceName[]).filter((other) => fieldOf(other, name) !== null);
		const hints: string[] = [];
		const suggestion = didYouMean(name, fields);
		if (suggestion) hints.push(suggestion.trim());
		else if (elsewhere.length > 0) hints.push(`It is a field of ${elsewhere.join(", ")}.`);
		if (name === "attributes" || name === "resource") hints.push(`Read one key as ${name}['key'].`);
		else if (!suggestion && (SOURCES[this.source].attributes || SOURCES[this.source].resource)) {
			hints.push(`An attribute is read as attributes['${name}'].`);
		}
		throw invalidQuery(
			`Unknown field '${name}' on ${this.source}.${hints.length ? ` ${hints.join(" ")}` : ""} Fields: ${fields.join(", ")}`,
			pos,
		);
	}

	private attribute(map: AttributeMap, key: string, pos: Position): void {
		const info = SOURCES[this.source];
		if (!info[map]) {
			throw invalidQuery(
				`${this.source} has no ${map}; its fields: ${Object.keys(info.fields).join(", ")}`,
				pos,
			);
		}
		if (key.length === 0) throw invalidQuery(`An attribute key cannot be empty: ${map}['key']`, pos);
		if (key.length > MAX_ATTRIBUTE_KEY_LENGTH) {
			throw invalidQuery(`An attribute key may hold at most ${MAX_ATTRIBUTE_KEY_LENGTH} characters`, pos);
		}
		// Quotes, backslashes and control characters cannot be addressed in a JSON path (SQLite has no escape).
		if (/["\\\p{Cc}]/u.test(key)) {
			throw invalidQuery(
				`An attribute key cannot hold double quotes, backslashes or control characters`,
				pos,
			);
		}
	}

	private comparison(expr: Expr & { kind: "compare" }, clause: Clause, insideAggregate: boolean): void {
		const left = this.typeOf(expr.left, clause, insideAggregate);
		const right = this.typeOf(expr.right, clause, insideAggregate);
		if (left === "any" || right === "any" || left === right) return;
		// A time compares with an RFC 3339 string: timestamp >= '2026-01-31T00:00:00Z'.
		const timeSide = left === "time" ? expr.right : right === "time" ? expr.left : null;
		if (timeSide && timeSide.kind === "string") {
			this.timeLiterals.set(timeSide, telemetryTime(timeSide.value, timeSide.pos));
			return;
		}
		if (timeSide) {
			throw invalidQuery(
				`A time compares with an RFC 3339 string such as '2026-01-31T00:00:00Z', not with ${describe(timeSide)}`,
				timeSide.pos,
			);
		}
		throw invalidQuery(
			`Cannot compare ${describe(expr.left)} (a ${left}) with ${describe(expr.right)} (a ${right})`,
			expr.pos,
		);
	}

	private regexPattern(pattern: string, pos: Position): void {
		const regex = this.options.regex;
		if (!regex) throw invalidQuery("MATCHES is not supported by this database; use LIKE or CONTAINS", pos);
		if (pattern.length > regex.maxPatternLength) {
			throw invalidQuery(`A MATCHES pattern may hold at most ${regex.maxPatternLength} characters`, pos);
		}
		const problem = regex.validate(pattern);
		if (problem) throw invalidQuery(`Invalid MATCHES pattern: ${problem} (${regex.flavor})`, pos);
	}

	private call(expr: Expr & { kind: "call" }, clause: Clause, insideAggregate: boolean): ValueType {
		const name = expr.name;
		if (!AGGREGATE_SET.has(name)) {
			const synonym = Object.hasOwn(FUNCTION_SYNONYMS, name) ? FUNCTION_SYNONYMS[name] : undefined;
			const hint = synonym ? ` Did you mean ${synonym}?` : didYouMean(name, AGGREGATE_FUNCTIONS);
			throw invalidQuery(
				`Unknown function '${name}'.${hint} Functions: ${AGGREGATE_FUNCTIONS.join(", ")}`,
				expr.pos,
			);
		}
		if (insideAggregate) {
			throw invalidQuery(`An aggregate cannot contain another aggregate (${name}(…))`, expr.pos);
		}
		if (clause === "where") {
			throw invalidQuery(`WHERE filters rows before aggregation: ${name}(…) cannot appear in it`, expr.pos);
		}
		if (clause === "group") throw invalidQuery(`GROUP BY cannot use an aggregate (${name}(…))`, expr.pos);
		const args = expr.args;
		const arity = (count: number, example: string) => {
			if (args.length !== count) {
				throw invalidQuery(
					`${name}() takes ${count === 1 ? "one argument" : `${count} arguments`}: ${example}`,
					expr.pos,
				);
			}
		};
		const valueArg = (arg: CallArg | undefined, example: string): ValueType => {
			if (!arg || arg.kind === "star")
				throw invalidQuery(`${name}(*) is not allowed: ${example}`, arg?.pos ?? expr.pos);
			return this.typeOf(arg, clause, true);
		};
		const numberArg = (arg: CallArg | undefined, example: string) => {
			const type = valueArg(arg, example);
			if (type !== "number" && type !== "any") {
				throw invalidQuery(
					`${name}() needs a number, but ${describe(arg as Expr)} is a ${type}`,
					arg?.pos ?? expr.pos,
				);
			}
		};
		switch (name as AggregateName) {
			case "count":
				arity(1, "count(*) or count(field)");
				if (args[0]?.kind !== "star") valueArg(args[0], "count(*)");
				return "number";
			case "count_distinct":
				arity(1, "count_distinct(host)");
				valueArg(args[0], "count_distinct(host)");
				return "number";
			case "sum":
			case "avg":
			case "p50":
			case "p90":
			case "p95":
			case "p99":
				arity(1, `${name}(duration_ms)`);
				numberArg(args[0], `${name}(duration_ms)`);
				return "number";
			case "min":
			case "max": {
				arity(1, `${name}(duration_ms)`);
				const type = valueArg(args[0], `${name}(duration_ms)`);
				if (type === "bool") throw invalidQuery(`${name}() needs a number, string or time`, args[0]?.pos);
				return type;
			}
			case "latest":
				arity(1, "latest(value)");
				return valueArg(args[0], "latest(value)");
			case "percentile": {
				arity(2, "percentile(duration_ms, 95)");
				numberArg(args[0], "percentile(duration_ms, 95)");
				const percent = args[1];
				if (percent?.kind !== "number" || percent.value < 0 || percent.value > 100) {
					throw invalidQuery(
						"The second argument of percentile() is a number from 0 to 100",
						percent?.pos ?? expr.pos,
					);
				}
				this.types.set(percent, "number");
				return "number";
			}
			case "rate": {
				arity(2, "rate(count(*), 1m)");
				const inner = args[0];
				if (inner?.kind !== "call" || !["count", "count_distinct", "sum"].includes(inner.name)) {
					throw invalidQuery(
						"The first argument of rate() is count(…), count_distinct(…) or sum(…)",
						inner?.pos ?? expr.pos,
					);
				}
				this.typeOf(inner, clause, false);
				const per = args[1];
				if (per?.kind !== "duration") {
					throw invalidQuery("The second argument of rate() is a duration such as 1m", per?.pos ?? expr.pos);
				}
				if (per.duration.value < 1) throw invalidQuery("The rate interval must be at least 1s", per.pos);
				return "number";
			}
		}
	}

	private expectNumber(type: ValueType, expr: Expr, what: string): void {
		if (type !== "number" && type !== "any") {
			throw invalidQuery(`${what} needs numbers, but ${describe(expr)} is a ${type}`, expr.pos);
		}
	}

	private expectBool(type: ValueType, expr: Expr, what: string): void {
		if (type !== "bool" && type !== "any") {
			throw invalidQuery(`${what} needs a condition, but ${describe(expr)} is a ${type}`, expr.pos);
		}
	}

	// ---- GROUP BY, ORDER BY, aggregates ----

	/** A GROUP BY key: a field wins over an alias of the same name. */
	private groupKey(expr: Expr, aliases: Map<string, Expr>): Expr {
		let key = expr;
		if (expr.kind === "field" && !fieldOf(this.source, expr.name) && aliases.has(expr.name)) {
			key = aliases.get(expr.name) as Expr;
		}
		if (containsAggregate(key)) {
			throw invalidQuery(`GROUP BY cannot use an aggregate (${printExpr(key)})`, expr.pos);
		}
		this.typeOf(key, "group");
		if (!hasColumnReference(key)) throw invalidQuery("GROUP BY needs a field, not a constant", expr.pos);
		return key;
	}

	/** An ORDER BY term: an alias wins over a field of the same name (as in SQL). */
	private orderTerm(expr: Expr, aliases: Map<string, Expr>): Expr {
		const term = expr.kind === "field" && aliases.has(expr.name) ? (aliases.get(expr.name) as Expr) : expr;
		this.typeOf(term, "order");
		if (!hasColumnReference(term) && !containsAggregate(term)) {
			throw invalidQuery("ORDER BY needs a field, an alias or an aggregate, not a constant", expr.pos);
		}
		return term;
	}

	private checkAggregateQuery(
		groupTexts: Set<string>,
		hasAggregate: boolean,
		orderBy: { expr: Expr; direction: "asc" | "desc" }[],
	): void {
		const { query } = this;
		const star = query.select.find((item) => item.kind === "star");
		if (star) {
			throw invalidQuery(
				hasAggregate
					? "* cannot be selected with aggregates: name the fields, or GROUP BY them"
					: "* cannot be selected with GROUP BY or TIMESERIES: name the fields",
				star.pos,
			);
		}
		if (query.timeseries && !hasAggregate) {
			throw invalidQuery("TIMESERIES needs an aggregate to plot, such as count(*)", query.timeseries.pos);
		}
		for (const item of query.select) {
			if (item.kind === "expr") this.checkGrouped(item.expr, groupTexts, "SELECT");
		}
		for (const term of orderBy) {
			this.checkGrouped(term.expr, groupTexts, "ORDER BY");
			if (query.timeseries && query.groupBy.length > 0) this.checkRankable(term.expr);
		}
		if (query.timeseries && query.groupBy.length === 0 && orderBy.length > 0) {
			throw invalidQuery(
				"A TIMESERIES is ordered by time; ORDER BY ranks series and needs GROUP BY",
				query.orderBy[0]?.pos,
			);
		}
	}

	/** Outside aggregates, an aggregate query may only use its group keys. */
	private checkGrouped(expr: Expr, groupTexts: Set<string>, clause: string): void {
		if (isAggregateCall(expr) || groupTexts.has(printExpr(expr))) return;
		if (expr.kind === "field" || expr.kind === "attribute") {
			const text = printExpr(expr);
			const fix =
				groupTexts.size === 0
					? `Mixing fields with aggregates needs GROUP BY ${text}, or an aggregate such as latest(${text})`
					: `${text} must be in GROUP BY or inside an aggregate such as latest(${text})`;
			throw invalidQuery(`${clause}: ${fix}`, expr.pos);
		}
		for (const child of childrenOf(expr)) this.checkGrouped(child, groupTexts, clause);
	}

	/** Series are ranked over the whole range before bucketing: only plain aggregates can rank them. */
	private checkRankable(expr: Expr): void {
		if (
			isAggregateCall(expr) &&
			(expr.name === "latest" ||
				expr.name === "percentile" ||
				Object.hasOwn(PERCENTILE_SHORTHANDS, expr.name))
		) {
			throw invalidQuery(
				`Series are ranked by count, count_distinct, sum, avg, min, max or rate; not by ${expr.name}()`,
				expr.pos,
			);
		}
		for (const child of childrenOf(expr)) this.checkRankable(child);
	}

	// ---- output, limit, time ----

	private outputColumns(
		mode: "rows" | "aggregate",
		groupBy: Expr[],
		groupTexts: Set<string>,
	): OutputColumn[] {
		const columns: OutputColumn[] = [];
		if (mode === "aggregate") {
			const selected = new Set(
				this.query.select.flatMap((item) => (item.kind === "expr" ? [printExpr(item.expr)] : [])),
			);
			for (const key of groupBy) {
				const text = printExpr(key);
				if (!selected.has(text))
					columns.push({ name: text, expr: key, type: this.typeOfKnown(key), groupKey: true });
			}
		}
		for (const item of this.query.select) {
			if (item.kind === "star") {
				const info = SOURCES[this.source];
				for (const [name, field] of Object.entries(info.fields)) {
					columns.push({
						name,
						expr: { kind: "field", name, pos: item.pos },
						type: field.type,
						groupKey: false,
					});
				}
				for (const map of ["attributes", "resource"] as const) {
					if (info[map])
						columns.push({
							name: map,
							expr: { kind: "attributeMap", map, pos: item.pos },
							type: "json",
							groupKey: false,
						});
				}
				continue;
			}
			const text = printExpr(item.expr);
			columns.push({
				name: item.alias ?? text,
				expr: item.expr,
				type: this.typeOfKnown(item.expr),
				groupKey: mode === "aggregate" && groupTexts.has(text),
			});
		}
		const names = new Set<string>(this.query.timeseries ? ["timestamp"] : []);
		for (const column of columns) {
			if (names.has(column.name)) {
				throw invalidQuery(
					`Two result columns are named '${column.name}': give one a name with AS`,
					column.expr.pos,
				);
			}
			names.add(column.name);
		}
		return columns;
	}

	private typeOfKnown(expr: Expr): ValueType {
		const type = this.types.get(expr);
		if (!type) throw new Error(`internal: no type for ${printExpr(expr)}`);
		return type;
	}

	private limit(countsSeries: boolean): number {
		const limit = this.query.limit;
		if (!limit) return countsSeries ? DEFAULT_SERIES_LIMIT : DEFAULT_LIMIT;
		if (limit.value < 1) throw invalidQuery("LIMIT must be at least 1", limit.pos);
		const max = countsSeries ? MAX_SERIES_LIMIT : MAX_LIMIT;
		if (limit.value > max) {
			throw invalidQuery(
				countsSeries
					? `With GROUP BY and TIMESERIES, LIMIT counts series: at most ${MAX_SERIES_LIMIT}`
					: `LIMIT may be at most ${MAX_LIMIT}`,
				limit.pos,
			);
		}
		return limit.value;
	}

	private timeRange(): { fromMs: number; toMs: number } {
		const { now } = this.options;
		const maxRangeMs = this.options.maxRangeMs ?? DEFAULT_MAX_RANGE_MS;
		const range = this.query.range;
		let fromMs: number;
		let toMs = now;
		let pos: Position | undefined = range?.pos;
		if (!range) fromMs = now - DEFAULT_RANGE_MS;
		else if (range.kind === "last") fromMs = now - this.positiveDuration(range.duration);
		else {
			fromMs = this.timePoint(range.since);
			if (range.until) toMs = this.timePoint(range.until);
			pos = range.since.pos;
		}
		const override = this.options.range;
		if (override?.fromMs !== undefined || override?.toMs !== undefined) {
			for (const bound of [override.fromMs, override.toMs]) {
				if (bound !== undefined && !Number.isSafeInteger(bound)) {
					throw invalidQuery("The time range given with the query must be whole epoch milliseconds");
				}
			}
			fromMs = override.fromMs ?? fromMs;
			toMs = override.toMs ?? toMs;
			pos = undefined;
		}
		if (!Number.isSafeInteger(fromMs) || !Number.isSafeInteger(toMs) || toMs - fromMs > maxRangeMs) {
			throw new OqlError(
				"oql_range_too_large",
				`The time range is wider than the ${formatSpan(maxRangeMs)} allowed${Number.isSafeInteger(toMs - fromMs) ? ` (it spans ${formatSpan(toMs - fromMs)})` : ""}`,
				pos,
			);
		}
		if (!inTelemetryRange(fromMs) || !inTelemetryRange(toMs))
			throw invalidQuery(`${TELEMETRY_RANGE_TEXT}.`, pos);
		if (fromMs >= toMs) throw invalidQuery("The time range is empty: SINCE must come before UNTIL", pos);
		return { fromMs, toMs };
	}

	private timePoint(point: TimePoint): number {
		if (point.kind === "timestamp") return telemetryTime(point.text, point.pos);
		return this.options.now - this.positiveDuration(point.duration);
	}

	private positiveDuration(duration: Duration): number {
		if (duration.value < 1)
			throw invalidQuery("A duration must be at least 1 unit (such as 1m)", duration.pos);
		return durationMs(duration);
	}

	private timeseries(range: { fromMs: number; toMs: number }): CheckedQuery["timeseries"] {
		const timeseries = this.query.timeseries;
		if (!timeseries) return null;
		const span = range.toMs - range.fromMs;
		let bucketMs: number;
		let unit: DurationUnit;
		if (timeseries.kind === "auto") {
			const choice =
				AUTO_INTERVALS.find(
					(interval) =>
						Math.ceil(span / durationMs(interval)) <= AUTO_BUCKET_TARGET &&
						(span < AUTO_MINUTE_FROM_MS || durationMs(interval) >= UNIT_MS.m),
				) ?? (AUTO_INTERVALS[AUTO_INTERVALS.length - 1] as { value: number; unit: DurationUnit });
			bucketMs = durationMs(choice);
			unit = choice.unit;
		} else {
			bucketMs = this.positiveDuration(timeseries.interval);
			unit = timeseries.interval.unit;
			if (bucketMs > MAX_TELEMETRY_MS) {
				throw invalidQuery(
					`TIMESERIES ${printDuration(timeseries.interval)} is longer than time can be stored: ${TELEMETRY_RANGE_TEXT}.`,
					timeseries.pos,
				);
			}
		}
		const originMs = unit === "w" ? WEEK_ORIGIN_MS : 0;
		const bucketOf = (ms: number) => Math.floor((ms - originMs) / bucketMs) * bucketMs + originMs;
		const firstBucketMs = bucketOf(range.fromMs);
		const lastBucketMs = bucketOf(range.toMs - 1);
		const buckets = (lastBucketMs - firstBucketMs) / bucketMs + 1;
		if (buckets > MAX_BUCKETS) {
			const wide = AUTO_INTERVALS.find(
				(interval) => Math.ceil(span / durationMs(interval)) + 1 <= MAX_BUCKETS,
			);
			throw invalidQuery(
				`TIMESERIES ${timeseries.kind === "interval" ? printDuration(timeseries.interval) : "AUTO"} gives ${buckets} buckets over this range; at most ${MAX_BUCKETS}${wide ? `: use ${printDuration(wide)} or wider, or AUTO` : ""}`,
				timeseries.pos,
			);
		}
		return { bucketMs, originMs, firstBucketMs, lastBucketMs };
	}
}

function hasColumnReference(expr: Expr): boolean {
	if (expr.kind === "field" || expr.kind === "attribute") return true;
	return childrenOf(expr).some(hasColumnReference);
}

function describe(expr: Expr): string {
	const text = printExpr(expr);
	return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}

function formatSpan(ms: number): string {
	const days = ms / 86_400_000;
	if (days >= 1) return days === 1 ? "1 day" : `${Number.isInteger(days) ? days : days.toFixed(1)} days`;
	const hours = ms / 3_600_000;
	return hours === 1 ? "1 hour" : `${Number.isInteger(hours) ? hours : hours.toFixed(1)} hours`;
}

const RFC3339 =
	/^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** An RFC 3339 time a query compares telemetry with: parsed, and inside what 64-bit ns can hold. */
function telemetryTime(text: string, pos: Position): number {
	const ms = parseTimestamp(text, pos);
	if (!inTelemetryRange(ms))
		throw invalidQuery(`'${text.slice(0, 40)}' is out of range. ${TELEMETRY_RANGE_TEXT}.`, pos);
	return ms;
}

/** An RFC 3339 date-time to epoch milliseconds (fractions beyond milliseconds are dropped). */
export function parseTimestamp(text: string, pos: Position): number {
	const match = RFC3339.exec(text);
	const fail = () =>
		invalidQuery(`'${text.slice(0, 40)}' is not an RFC 3339 time such as '2026-01-31T00:00:00Z'`, pos);
	if (!match) throw fail();
	const [, y, mo, d, h, mi, s, fraction, zulu, sign, oh, om] = match;
	const year = Number(y);
	const month = Number(mo);
	const day = Number(d);
	const hour = Number(h);
	const minute = Number(mi);
	const second = Math.min(Number(s), 59); // a leap second reads as :59
	const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
	const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
	if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || Number(s) > 60) {
		throw fail();
	}
	let offsetMinutes = 0;
	if (!zulu) {
		const offsetHours = Number(oh);
		const offsetMins = Number(om);
		if (offsetHours > 23 || offsetMins > 59) throw fail();
		offsetMinutes = (sign === "-" ? -1 : 1) * (offsetHours * 60 + offsetMins);
	}
	const ms = fraction ? Number(fraction.slice(0, 3).padEnd(3, "0")) : 0;
	const utc = new Date(0);
	utc.setUTCFullYear(year, month - 1, day);
	utc.setUTCHours(hour, minute, second, ms);
	return utc.getTime() - offsetMinutes * 60_000;
}
