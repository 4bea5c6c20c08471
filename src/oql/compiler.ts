import type { Expr } from "./ast.js";
import { type ColumnExpr, type ColumnRef, type SourceStorage, STORAGE } from "./columns.js";
import type { SqlDialect, SqlParam } from "./dialect.js";
import { SOURCES } from "./fields.js";
import { childrenOf } from "./parser.js";
import { printExpr } from "./printer.js";
import {
	type CheckedQuery,
	durationMs,
	isAggregateCall,
	type OutputExpr,
	type OutputType,
	PERCENTILE_SHORTHANDS,
} from "./semantic.js";

export interface CompileOptions {
	/** The caller's org: the compiler filters every row on it, whatever the query says. */
	orgId: string;
	dialect: SqlDialect;
	/** The storage map; columns.ts unless a test passes another. */
	storage?: typeof STORAGE;
}

export interface CompiledColumn {
	name: string;
	type: OutputType;
	/** `bucket`: a TIMESERIES bucket start; `key`: a group key; `value`; `rank`: hidden series rank. */
	role: "bucket" | "key" | "value" | "rank";
	/**
	 * A value column's value in a TIMESERIES bucket without rows, which the SQL does not return:
	 * 0 for counts, sums and rates, null for averages, extremes, percentiles and latest (no value
	 * over no rows), arithmetic over those as computed. Null for other columns.
	 */
	empty: number | null;
	/**
	 * Rollup plans only (rollup-planner.ts): the SQL value is a JSON array of latency histograms;
	 * the executor merges them and reads this percentile, divided by `divisor` (ns → ms).
	 */
	histogramPercentile?: { percent: number; divisor: number };
}

/**
 * One statement and its parameters. Result rows are positional, in `columns` order; a `time`
 * column holds epoch milliseconds, a `bool` column 0/1, a `json` column JSON text.
 */
export interface CompiledQuery {
	sql: string;
	params: SqlParam[];
	columns: CompiledColumn[];
	range: { fromMs: number; toMs: number };
	/**
	 * Rows (or groups) the answer may hold. Without TIMESERIES the SQL asks for one more, so the
	 * executor knows to drop it and set `meta.truncated`.
	 */
	limit: number;
	/** Whether the statement runs a MATCHES pattern (an engine error in it is the query's fault). */
	regex: boolean;
	/** Where the answer comes from: a rollup level (rollup-planner.ts), or raw rows when absent. */
	source?: "rollup_1h" | "rollup_1m";
	/**
	 * With MATCHES: a statement over the same org and window (and nothing else) that returns, per
	 * MATCHES operand, the characters of text it holds; times `charCosts` that bounds the work the
	 * regular expressions may do, checked before the query runs.
	 */
	regexCost?: { sql: string; params: SqlParam[]; charCosts: number[] } | null;
	timeseries:
		| (NonNullable<CheckedQuery["timeseries"]> & {
				/** With GROUP BY: the series limit; the SQL returns one series more (rank limit + 1). */
				seriesLimit: number | null;
		  })
		| null;
}

/** Compiles a checked query to one parameterized statement. */
export function compile(checked: CheckedQuery, options: CompileOptions): CompiledQuery {
	const query = new Compiler(checked, options).run();
	return query.regex ? { ...query, regexCost: new Compiler(checked, options).regexCost() } : query;
}

type PatternTest = Extract<Expr, { kind: "like" | "contains" | "matches" }>;

function matchesOf(expr: Expr | null | undefined): PatternTest[] {
	if (!expr) return [];
	const own: PatternTest[] = expr.kind === "matches" ? [expr] : [];
	return [...own, ...childrenOf(expr).flatMap(matchesOf)];
}

/** Parameters numbered in order of first use; equal values share a number, so equal expressions print alike. */
class Params {
	readonly values: SqlParam[] = [];
	private readonly numbers = new Map<string, number>();

	constructor(private readonly dialect: SqlDialect) {}

	add(value: SqlParam): string {
		const key = `${typeof value}:${String(value)}`;
		let index = this.numbers.get(key);
		if (index === undefined) {
			this.values.push(value);
			index = this.values.length;
			this.numbers.set(key, index);
		}
		return this.dialect.placeholder(index, value);
	}
}

interface BaseColumn {
	alias: string;
	sql: string;
}

const MAIN = "t";

class Compiler {
	private readonly d: SqlDialect;
	private readonly storage: SourceStorage;
	private readonly params: Params;
	private readonly usedJoins = new Set<string>();
	/** Aggregate mode: what the `base` row set projects, by the printed text of each expression. */
	private readonly keys: (BaseColumn & { text: string })[] = [];
	private readonly args = new Map<string, BaseColumn>();
	private readonly percentileArgs = new Set<string>();
	private readonly latestArgs = new Set<string>();
	private usesRegex = false;

	constructor(
		private readonly checked: CheckedQuery,
		private readonly options: CompileOptions,
	) {
		this.d = options.dialect;
		this.storage = (options.storage ?? STORAGE)[checked.source];
		this.params = new Params(this.d);
	}

	/** The org and the time bounds, always ?1, ?2 and ?3: they cannot be left out or moved. */
	private guard(): string {
		const { fromMs, toMs } = this.checked.range;
		const unit = this.storage.timeUnit;
		const org = this.params.add(this.options.orgId);
		const from = this.params.add(this.d.timeParam(fromMs, unit));
		const to = this.params.add(this.d.timeParam(toMs, unit));
		const time = this.mainColumn(this.storage.timeColumn);
		return `${this.mainColumn(this.storage.orgColumn)} = ${org} AND ${time} >= ${from} AND ${time} < ${to}`;
	}

	/** The text every MATCHES of the query would read, over the org's rows in the window. */
	regexCost(): NonNullable<CompiledQuery["regexCost"]> {
		const guard = this.guard();
		const scans = matchesOf(this.checked.where);
		const regex = this.d.regex;
		const totals = scans.map((scan) => this.d.totalLength(this.row(scan.operand)));
		return {
			sql: `SELECT ${totals.join(", ")} ${this.fromClause()} WHERE ${guard}`,
			params: this.params.values,
			charCosts: scans.map((scan) =>
				regex && scan.pattern.kind === "string"
					? regex.charCost(scan.pattern.value)
					: Number.POSITIVE_INFINITY,
			),
		};
	}

	run(): CompiledQuery {
		const guard = this.guard();
		const userWhere = this.checked.where ? ` AND (${this.row(this.checked.where)})` : "";
		const where = `WHERE ${guard}${userWhere}`;
		return this.checked.mode === "rows" ? this.rowsQuery(where) : this.aggregateQuery(where);
	}

	// ---- names ----

	private q(name: string): string {
		return this.d.quoteIdentifier(name);
	}

	private mainColumn(column: string): string {
		return `${this.q(MAIN)}.${this.q(column)}`;
	}

	private ref(ref: ColumnRef): string {
		if (!ref.join) return this.mainColumn(ref.column);
		if (!Object.hasOwn(this.storage.joins, ref.join)) throw new Error(`internal: no join ${ref.join}`);
		this.usedJoins.add(ref.join);
		return `${this.q(`j_${ref.join}`)}.${this.q(ref.column)}`;
	}

	private fromClause(): string {
		let sql = `FROM ${this.q(this.storage.table)} AS ${this.q(MAIN)}`;
		for (const name of this.usedJoins) {
			const join = this.storage.joins[name];
			if (!join) continue;
			const alias = this.q(`j_${name}`);
			sql += ` LEFT JOIN ${this.q(join.table)} AS ${alias} ON ${alias}.${this.q(join.key)} = ${this.mainColumn(join.column)}`;
		}
		return sql;
	}

	// ---- row-level expressions (over the source table) ----

	private columnExpr(expr: ColumnExpr): string {
		switch (expr.kind) {
			case "column":
				return this.ref(expr);
			case "scaled":
				return this.d.divide(this.ref(expr), constantInteger(expr.divisor));
		}
	}

	private field(name: string): string {
		const fields = this.storage.fields;
		const expr = Object.hasOwn(fields, name) ? fields[name] : undefined;
		if (!expr) throw new Error(`internal: field ${name} has no storage for ${this.checked.source}`);
		return this.columnExpr(expr);
	}

	private attributeColumn(map: "attributes" | "resource"): string {
		const column = map === "attributes" ? this.storage.attributesColumn : this.storage.resourceColumn;
		if (!column) throw new Error(`internal: ${this.checked.source} stores no ${map}`);
		return this.mainColumn(column);
	}

	/** A row-level expression; aggregates are compiled by `aggregate()` instead. */
	private row(expr: Expr): string {
		return this.expr(expr, (inner) => this.row(inner), null);
	}

	private outputRow(expr: OutputExpr): string {
		return expr.kind === "attributeMap" ? this.attributeColumn(expr.map) : this.row(expr);
	}

	/**
	 * The shared shape of every expression: `sub` compiles children in the same context;
	 * `aggregate` compiles an aggregate call (null in row context, where none can occur).
	 */
	private expr(
		expr: Expr,
		sub: (e: Expr) => string,
		aggregate: ((e: Expr & { kind: "call" }) => string) | null,
	): string {
		const d = this.d;
		switch (expr.kind) {
			case "number":
				return this.params.add(expr.value);
			case "string": {
				const ms = this.checked.timeLiterals.get(expr);
				if (ms !== undefined) return this.params.add(d.timeParam(ms, this.storage.timeUnit));
				return this.params.add(expr.value);
			}
			case "bool":
				return this.params.add(d.boolParam(expr.value));
			case "variable":
				throw new Error("internal: an unbound variable reached the compiler");
			case "field":
				return this.field(expr.name);
			case "attribute":
				return this.attribute(expr);
			case "duration":
				throw new Error("internal: a duration outside rate()");
			case "negate":
				return `(- ${this.numeric(expr.operand, sub)})`;
			case "arithmetic": {
				const left = this.numeric(expr.left, sub);
				const right = this.numeric(expr.right, sub);
				return expr.op === "/" ? d.divide(left, right) : `(${left} ${expr.op} ${right})`;
			}
			case "compare": {
				const left = this.isNumeric(expr.right) ? this.numeric(expr.left, sub) : sub(expr.left);
				const right = this.isNumeric(expr.left) ? this.numeric(expr.right, sub) : sub(expr.right);
				return `(${left} ${expr.op === "!=" ? "<>" : expr.op} ${right})`;
			}
			case "and":
				return `(${sub(expr.left)} AND ${sub(expr.right)})`;
			case "or":
				return `(${sub(expr.left)} OR ${sub(expr.right)})`;
			case "not":
				return `(NOT ${sub(expr.operand)})`;
			case "in": {
				const values = expr.values.map((value) => sub(value)).join(", ");
				const operand = expr.values.every((value) => this.isNumeric(value))
					? this.numeric(expr.operand, sub)
					: sub(expr.operand);
				return `(${operand} ${expr.negated ? "NOT IN" : "IN"} (${values}))`;
			}
			case "like":
			case "contains":
			case "matches": {
				const operand = sub(expr.operand);
				const pattern = this.params.add(expr.pattern.kind === "string" ? expr.pattern.value : null);
				const test =
					expr.kind === "like"
						? d.like(operand, pattern, this.params.add("\\"))
						: expr.kind === "contains"
							? d.contains(operand, pattern)
							: this.regexMatch(operand, pattern);
				return expr.negated ? `(NOT ${test})` : test;
			}
			case "isNull":
				return `(${sub(expr.operand)} IS ${expr.negated ? "NOT " : ""}NULL)`;
			case "call":
				if (!aggregate) throw new Error(`internal: ${expr.name}() in a row context`);
				return aggregate(expr);
		}
	}

	/** `attributes['k']` / `resource['k']`; `as` is the dialect's hint (SqlDialect.jsonExtract). */
	private attribute(expr: Expr & { kind: "attribute" }, as?: "number"): string {
		const column = this.attributeColumn(expr.map);
		const path = this.params.add(this.d.jsonPath(expr.key));
		return as ? this.d.jsonExtract(column, path, as) : this.d.jsonExtract(column, path);
	}

	/**
	 * An operand read as a number: an attribute (not a group key) is read with the `number` hint;
	 * anything else compiles as it would anywhere.
	 */
	private numeric(expr: Expr, sub: (e: Expr) => string): string {
		if (expr.kind !== "attribute" || this.keys.some((key) => key.text === printExpr(expr))) return sub(expr);
		return this.attribute(expr, "number");
	}

	/** Whether an expression is a number or a boolean whatever the row: the other side of a compare reads as one. */
	private isNumeric(expr: Expr): boolean {
		switch (expr.kind) {
			case "number":
			case "bool":
			case "arithmetic":
			case "negate":
				return true;
			case "field": {
				const fields = SOURCES[this.checked.source].fields;
				const type = Object.hasOwn(fields, expr.name) ? fields[expr.name]?.type : undefined;
				return type === "number" || type === "bool";
			}
			case "call":
				return expr.name !== "min" && expr.name !== "max" && expr.name !== "latest";
			default:
				return false;
		}
	}

	private regexMatch(operandSql: string, patternParam: string): string {
		this.usesRegex = true;
		return this.d.matches(operandSql, patternParam);
	}

	/**
	 * A result value as the client can read it: times in epoch milliseconds; and where an attribute
	 * is read, integers beyond ±2^53 as exact text (a JSON number would lose digits).
	 */
	private output(sql: string, type: OutputType, expr: OutputExpr): string {
		if (type === "time") return this.d.timeToEpochMs(sql, this.storage.timeUnit);
		if ((type === "number" || type === "any") && expr.kind !== "attributeMap" && readsAttribute(expr)) {
			return this.d.exactInteger(sql);
		}
		return sql;
	}

	private timeOutput(sql: string, type: OutputType): string {
		return type === "time" ? this.d.timeToEpochMs(sql, this.storage.timeUnit) : sql;
	}

	private limitParam(count: number): string {
		return this.params.add(BigInt(count));
	}

	// ---- rows mode ----

	private rowsQuery(where: string): CompiledQuery {
		const { checked } = this;
		const select = checked.columns
			.map(
				(column, i) =>
					`${this.output(this.outputRow(column.expr), column.type, column.expr)} AS ${this.q(`c${i}`)}`,
			)
			.join(", ");
		const order =
			checked.orderBy.length > 0
				? checked.orderBy.map((term) => this.d.orderTerm(this.row(term.expr), term.direction))
				: [this.d.orderTerm(this.mainColumn(this.storage.timeColumn), "desc")];
		const limit = this.limitParam(checked.limit + 1);
		const sql = `SELECT ${select} ${this.fromClause()} ${where} ORDER BY ${order.join(", ")} LIMIT ${limit}`;
		return {
			sql,
			params: this.params.values,
			columns: checked.columns.map((column) => ({
				name: column.name,
				type: column.type,
				role: "value",
				empty: null,
			})),
			range: checked.range,
			limit: checked.limit,
			regex: this.usesRegex,
			timeseries: null,
		};
	}

	// ---- aggregate mode ----

	/**
	 * An aggregate's input, projected once by `base` whatever the number of aggregates reading it
	 * (read as a number for sums, averages and percentiles: see `numeric`).
	 */
	private arg(expr: Expr, numeric = false): string {
		const sql = numeric ? this.numeric(expr, (e) => this.row(e)) : this.row(expr);
		// Keyed by the text and the SQL: equal where the dialect reads both alike (SQLite always).
		const key = `${printExpr(expr)}\u0000${sql}`;
		let column = this.args.get(key);
		if (!column) {
			column = { alias: `a${this.args.size}`, sql };
			this.args.set(key, column);
		}
		return column.alias;
	}

	/** An expression over the grouped rows: group keys by reference, aggregates over `base`. */
	private grouped(expr: Expr, windowMs: number, useWindows: boolean): string {
		const key = this.keys.find((k) => k.text === printExpr(expr));
		if (key) return this.q(key.alias);
		return this.expr(
			expr,
			(inner) => this.grouped(inner, windowMs, useWindows),
			(call) => this.aggregate(call, windowMs, useWindows),
		);
	}

	private aggregate(call: Expr & { kind: "call" }, windowMs: number, useWindows: boolean): string {
		const d = this.d;
		const first = call.args[0];
		const argColumn = (numeric = false) => {
			if (!first || first.kind === "star") throw new Error(`internal: ${call.name}() without a value`);
			return this.q(this.arg(first, numeric));
		};
		switch (call.name) {
			case "count":
				return first?.kind === "star" ? "COUNT(*)" : `COUNT(${argColumn()})`;
			case "count_distinct":
				return d.countDistinct(argColumn());
			case "sum":
				return `SUM(${argColumn(true)})`;
			case "avg":
				return `AVG(${argColumn(true)})`;
			case "min":
				return `MIN(${argColumn()})`;
			case "max":
				return `MAX(${argColumn()})`;
			case "rate": {
				const inner = first && first.kind === "call" ? this.aggregate(first, windowMs, useWindows) : "";
				const per = call.args[1];
				const perMs = per?.kind === "duration" ? durationMs(per.duration) : 0;
				return d.divide(`(${inner} * ${this.params.add(perMs)})`, this.params.add(windowMs));
			}
			case "latest": {
				const column = argColumn();
				if (d.latest !== "window") return d.latest.aggregate(column, this.q("ts"));
				if (!useWindows) throw new Error("internal: latest() where rows are not ranked");
				this.latestArgs.add(this.arg(first as Expr));
				return `MAX(CASE WHEN ${this.q(`l_${this.arg(first as Expr)}`)} = 1 THEN ${column} END)`;
			}
			default: {
				const percent = Object.hasOwn(PERCENTILE_SHORTHANDS, call.name)
					? (PERCENTILE_SHORTHANDS[call.name] as number)
					: call.args[1]?.kind === "number"
						? call.args[1].value
						: Number.NaN;
				if (call.name !== "percentile" && !Object.hasOwn(PERCENTILE_SHORTHANDS, call.name)) {
					throw new Error(`internal: unknown aggregate ${call.name}`);
				}
				const column = argColumn(true);
				if (d.percentile !== "window") return d.percentile.aggregate(column, this.params.add(percent / 100));
				if (!useWindows) throw new Error("internal: a percentile where rows are not ranked");
				const alias = this.arg(first as Expr, true);
				this.percentileArgs.add(alias);
				return this.windowPercentile(alias, this.params.add(percent));
			}
		}
	}

	/**
	 * The exact percentile with linear interpolation between closest ranks (PostgreSQL's
	 * percentile_cont): over the n non-null values sorted, h = (n - 1) · p / 100, and the result is
	 * v[⌊h⌋+1] + (h − ⌊h⌋) · (v[⌊h⌋+2] − v[⌊h⌋+1]), ranks counted from 1.
	 */
	private windowPercentile(alias: string, percentParam: string): string {
		const value = this.q(alias);
		const rank = this.q(`r_${alias}`);
		const count = this.q(`n_${alias}`);
		const h = (n: string) => `((${n} - 1) * ${percentParam} / 100.0)`;
		const at = (offset: number) =>
			`MAX(CASE WHEN ${rank} = CAST(${h(count)} AS INTEGER) + ${offset} THEN ${value} END)`;
		const fraction = `(${h(`MAX(${count})`)} - CAST(${h(`MAX(${count})`)} AS INTEGER))`;
		return `(${at(1)} + ${fraction} * COALESCE(${at(2)} - ${at(1)}, 0))`;
	}

	private aggregateQuery(where: string): CompiledQuery {
		const { checked } = this;
		const d = this.d;
		const timeseries = checked.timeseries;
		const seriesLimit = timeseries && checked.groupBy.length > 0 ? checked.limit : null;

		checked.groupBy.forEach((key, i) => {
			this.keys.push({ alias: `k${i}`, sql: this.row(key), text: printExpr(key) });
		});
		const keyRefs = this.keys.map((key) => this.q(key.alias));
		const bucket = this.q("b");
		const partition = [...keyRefs, ...(timeseries ? [bucket] : [])];

		const needsWindows =
			(d.percentile === "window" || d.latest === "window") &&
			(checked.columns.some(
				(column) => column.expr.kind !== "attributeMap" && usesWindowAggregate(column.expr),
			) ||
				checked.orderBy.some((term) => usesWindowAggregate(term.expr)));
		const windowMs = timeseries ? timeseries.bucketMs : checked.range.toMs - checked.range.fromMs;

		// The result columns: [bucket], then keys and values as the semantic pass ordered them, [rank].
		const columns: CompiledColumn[] = [];
		const select: string[] = [];
		if (timeseries) {
			columns.push({ name: "timestamp", type: "time", role: "bucket", empty: null });
			select.push(this.timeOutput(bucket, "time"));
		}
		for (const column of checked.columns) {
			const expr = column.expr as Expr;
			columns.push({
				name: column.name,
				type: column.type,
				role: column.groupKey ? "key" : "value",
				empty: column.groupKey ? null : emptyValue(expr),
			});
			select.push(this.output(this.grouped(expr, windowMs, needsWindows), column.type, expr));
		}
		if (seriesLimit !== null) {
			columns.push({ name: "series_rank", type: "number", role: "rank", empty: null });
			select.push(this.q("sr"));
		}

		let order: string[];
		let limit = "";
		let ranking = "";
		if (timeseries) {
			order = [...(seriesLimit !== null ? [this.q("sr")] : []), bucket];
			if (seriesLimit !== null && checked.orderBy.length > 0) {
				// The top series over the whole range, ranked by ORDER BY (row count: see below).
				const rankTerms =
					checked.orderBy.length > 0
						? checked.orderBy.map((term) =>
								d.orderTerm(
									this.grouped(term.expr, checked.range.toMs - checked.range.fromMs, false),
									term.direction,
								),
							)
						: [d.orderTerm("COUNT(*)", "desc")];
				const tieBreak = keyRefs.map((key) => d.orderTerm(key, "asc"));
				ranking =
					`${this.q("top")} AS (SELECT ${keyRefs.join(", ")}, ROW_NUMBER() OVER (ORDER BY ${[...rankTerms, ...tieBreak].join(", ")}) AS ${this.q("sr")}` +
					` FROM ${this.q("base")} GROUP BY ${keyRefs.join(", ")} ORDER BY ${this.q("sr")} LIMIT ${this.limitParam(seriesLimit + 1)})`;
			}
		} else {
			const terms = checked.orderBy.map((term) => {
				const text = printExpr(term.expr);
				const index = checked.columns.findIndex(
					(c) => c.expr.kind !== "attributeMap" && printExpr(c.expr) === text,
				);
				const sql = index >= 0 ? this.q(`c${index}`) : this.grouped(term.expr, windowMs, needsWindows);
				return d.orderTerm(sql, term.direction);
			});
			if (terms.length === 0 && checked.groupBy.length > 0) {
				const firstValue = checked.columns.findIndex((c) => !c.groupKey);
				if (firstValue >= 0) terms.push(d.orderTerm(this.q(`c${firstValue}`), "desc"));
			}
			order = [...terms, ...keyRefs.map((key) => d.orderTerm(key, "asc"))];
			if (checked.groupBy.length > 0) limit = ` LIMIT ${this.limitParam(checked.limit + 1)}`;
		}

		// The base row set: the source's rows in range for the org, with what the aggregates read.
		const time = this.mainColumn(this.storage.timeColumn);
		const baseColumns = [
			...this.keys.map((key) => `${key.sql} AS ${this.q(key.alias)}`),
			...(timeseries
				? [
						`${d.timeBucket(time, this.params.add(d.timeParam(timeseries.bucketMs, this.storage.timeUnit)), this.params.add(d.timeParam(timeseries.originMs, this.storage.timeUnit)))} AS ${bucket}`,
					]
				: []),
			...[...this.args.values()].map((arg) => `${arg.sql} AS ${this.q(arg.alias)}`),
			`${time} AS ${this.q("ts")}`,
		];
		const ctes = [`${this.q("base")} AS (SELECT ${baseColumns.join(", ")} ${this.fromClause()} ${where})`];
		let rows = this.q("base");
		if (ranking) {
			ctes.push(ranking);
			const on = keyRefs.map((key) =>
				d.nullSafeEquals(`${this.q("base")}.${key}`, `${this.q("top")}.${key}`),
			);
			ctes.push(
				`${this.q("series")} AS (SELECT ${this.q("base")}.*, ${this.q("top")}.${this.q("sr")} FROM ${this.q("base")} JOIN ${this.q("top")} ON ${on.join(" AND ")})`,
			);
			rows = this.q("series");
		}
		if (needsWindows) {
			const over = (orderBy: string) =>
				`OVER (${partition.length > 0 ? `PARTITION BY ${partition.join(", ")} ` : ""}ORDER BY ${orderBy})`;
			const windows: string[] = [];
			for (const alias of this.percentileArgs) {
				const value = this.q(alias);
				windows.push(`ROW_NUMBER() ${over(d.orderTerm(value, "asc"))} AS ${this.q(`r_${alias}`)}`);
				windows.push(
					`COUNT(${value}) OVER (${partition.length > 0 ? `PARTITION BY ${partition.join(", ")}` : ""}) AS ${this.q(`n_${alias}`)}`,
				);
			}
			for (const alias of this.latestArgs) {
				const value = this.q(alias);
				windows.push(
					`ROW_NUMBER() ${over(`${value} IS NULL, ${this.q("ts")} DESC, ${value} DESC`)} AS ${this.q(`l_${alias}`)}`,
				);
			}
			ctes.push(`${this.q("ranked")} AS (SELECT *, ${windows.join(", ")} FROM ${rows})`);
			rows = this.q("ranked");
		}

		if (seriesLimit !== null && checked.orderBy.length === 0) {
			// Series ranked by row count, in one pass over the rows: aggregate every series per bucket
			// with its row count, total the counts per series and rank on that (window functions over
			// the few aggregated rows), keep the top ones. Ranking first and joining back (as for ORDER
			// BY) reads the rows twice; joining the aggregate to its own ranking makes SQLite
			// materialize it, which costs more than the windows.
			const values = select.slice(0, -1).map((s, i) => `${s} AS ${this.q(`c${i}`)}`);
			const n = this.q("n");
			const total = this.q("total");
			const sr = this.q("sr");
			ctes.push(
				`${this.q("agg")} AS (SELECT ${[...values, ...partition, `COUNT(*) AS ${n}`].join(", ")} FROM ${rows} GROUP BY ${partition.join(", ")})`,
				`${this.q("totals")} AS (SELECT *, SUM(${n}) OVER (PARTITION BY ${keyRefs.join(", ")}) AS ${total} FROM ${this.q("agg")})`,
				`${this.q("series")} AS (SELECT *, DENSE_RANK() OVER (ORDER BY ${[d.orderTerm(total, "desc"), ...keyRefs.map((key) => d.orderTerm(key, "asc"))].join(", ")}) AS ${sr} FROM ${this.q("totals")})`,
			);
			const outputs = [...values.map((_, i) => this.q(`c${i}`)), `${sr} AS ${this.q(`c${values.length}`)}`];
			const sql =
				`WITH ${ctes.join(", ")} SELECT ${outputs.join(", ")} FROM ${this.q("series")}` +
				` WHERE ${sr} <= ${this.limitParam(seriesLimit + 1)} ORDER BY ${sr}, ${bucket}`;
			return {
				sql,
				params: this.params.values,
				columns,
				range: checked.range,
				limit: checked.limit,
				regex: this.usesRegex,
				timeseries: timeseries ? { ...timeseries, seriesLimit } : null,
			};
		}

		const groupBy = [...(seriesLimit !== null ? [this.q("sr")] : []), ...partition];
		const sql =
			`WITH ${ctes.join(", ")} SELECT ${select.map((s, i) => `${s} AS ${this.q(`c${i}`)}`).join(", ")} FROM ${rows}` +
			(groupBy.length > 0 ? ` GROUP BY ${groupBy.join(", ")}` : "") +
			(order.length > 0 ? ` ORDER BY ${order.join(", ")}` : "") +
			limit;
		return {
			sql,
			params: this.params.values,
			columns,
			range: checked.range,
			limit: checked.limit,
			regex: this.usesRegex,
			timeseries: timeseries ? { ...timeseries, seriesLimit } : null,
		};
	}
}

function readsAttribute(expr: Expr): boolean {
	return expr.kind === "attribute" || childrenOf(expr).some(readsAttribute);
}

/** What an aggregate expression gives over no rows, with sums read as 0 (see CompiledColumn.empty). */
export function emptyValue(expr: Expr): number | null {
	switch (expr.kind) {
		case "number":
			return expr.value;
		case "negate": {
			const value = emptyValue(expr.operand);
			return value === null ? null : -value;
		}
		case "arithmetic": {
			const left = emptyValue(expr.left);
			const right = emptyValue(expr.right);
			if (left === null || right === null) return null;
			switch (expr.op) {
				case "+":
					return left + right;
				case "-":
					return left - right;
				case "*":
					return left * right;
				case "/":
					return right === 0 ? null : left / right;
			}
			return null;
		}
		case "call":
			return ["count", "count_distinct", "sum", "rate"].includes(expr.name) ? 0 : null;
		default:
			return null;
	}
}

function usesWindowAggregate(expr: Expr): boolean {
	if (
		isAggregateCall(expr) &&
		(expr.name === "latest" || expr.name === "percentile" || Object.hasOwn(PERCENTILE_SHORTHANDS, expr.name))
	) {
		return true;
	}
	return childrenOf(expr).some(usesWindowAggregate);
}

/** The divisors of columns.ts, never from a query; still, only plain integers are printed into SQL. */
function constantInteger(value: number): string {
	if (!Number.isSafeInteger(value)) throw new Error(`internal: ${value} is not an integer`);
	return String(value);
}
