import { HOUR_MS, MINUTE_MS } from "../ingest/rollups.js";
import type { Expr } from "./ast.js";
import { type CompiledColumn, type CompiledQuery, emptyValue } from "./compiler.js";
import type { SqlDialect, SqlParam } from "./dialect.js";
import { printExpr } from "./printer.js";
import { type CheckedQuery, durationMs, isAggregateCall, PERCENTILE_SHORTHANDS } from "./semantic.js";

/**
 * The rollup planner: answers an aggregate query from the per-minute / per-hour rollups
 * (src/ingest/rollups.ts) when its shape allows, else returns null and the query runs over raw
 * rows. Allowed (docs/oql.md, "Rollups"):
 *
 * - spans or logs; WHERE and GROUP BY over the rolled-up fields only (spans: service, host, name,
 *   kind, status and `parent_span_id IS [NOT] NULL`; logs: service, host, level) with =, !=, IN,
 *   IS [NOT] NULL, AND, OR, NOT; spans by service, name, kind and root only read the smaller
 *   latency rollup (`span_latency_*`) — also counts of errors (`status = 'error'` as a condition
 *   of the WHERE's top-level AND, read from its error counts) — the others `span_rollups_*`;
 * - values: count(*), rate(count(*) | sum(duration_ms), d), sum/avg/min/max(duration_ms), and
 *   arithmetic over them; percentiles of duration_ms as whole columns (not in ORDER BY), read from
 *   the latency histograms (so by service, name, kind and root only), when the window has no
 *   partial minute;
 * - TIMESERIES with buckets of whole minutes; with GROUP BY, only series ranked by row count (no
 *   ORDER BY).
 *
 * The window is read as whole hours (`*_1h`), whole minutes (`*_1m`) and, for counts and sums, the
 * partial minutes at its edges from raw rows: counts and sums equal the raw answer; percentiles are
 * within PERCENTILE_RELATIVE_ERROR of it.
 *
 * Both engines: libSQL's rollups (written at ingest) and ClickHouse's (the same tables, names and
 * columns, kept by materialized views: clickhouse/migrations/0004_rollups.sql). The statement is the
 * same; the dialect supplies what differs — placeholders (`?3` / `{p3:Int64}`), float division,
 * the bucket arithmetic (`/` on integers / intDiv), the raw edges' whole milliseconds, and the
 * histogram merge (SQLite's JSON gathered, ClickHouse's Maps summed with sumMap). Every piece
 * aggregates its rows (SUM/MIN/MAX over `n`, `dur_*`), so ClickHouse's not-yet-merged parts (a key
 * may have several rows) give the same answer.
 */

/** Which rollup level answered (the coarsest one read), or raw rows. */
export type QuerySource = "rollup_1h" | "rollup_1m" | "raw";

class Ineligible extends Error {}

/** The rollup tables and the OQL fields each is keyed by (column names as in the raw tables). */
const TABLES = {
	/** Per operation, with the latency histogram: fewer keys, so tried first for spans. */
	span_latency: { service: "service", name: "name", kind: "kind" },
	span_rollups: { service: "service", host: "host", name: "name", kind: "kind", status: "status_code" },
	log_rollups: { service: "service", host: "host", level: "level" },
} as const;
type Table = keyof typeof TABLES;

type Piece =
	| { kind: "rollup"; level: "1h" | "1m"; from: number; to: number }
	| { kind: "raw"; from: number; to: number };

function pieces(fromMs: number, toMs: number, hours: boolean): Piece[] {
	const minuteFrom = Math.ceil(fromMs / MINUTE_MS) * MINUTE_MS;
	const minuteTo = Math.floor(toMs / MINUTE_MS) * MINUTE_MS;
	if (minuteFrom >= minuteTo) return [{ kind: "raw", from: fromMs, to: toMs }];
	const out: Piece[] = [];
	if (fromMs < minuteFrom) out.push({ kind: "raw", from: fromMs, to: minuteFrom });
	const hourFrom = Math.ceil(minuteFrom / HOUR_MS) * HOUR_MS;
	const hourTo = Math.floor(minuteTo / HOUR_MS) * HOUR_MS;
	if (hours && hourFrom < hourTo) {
		if (minuteFrom < hourFrom) out.push({ kind: "rollup", level: "1m", from: minuteFrom, to: hourFrom });
		out.push({ kind: "rollup", level: "1h", from: hourFrom, to: hourTo });
		if (hourTo < minuteTo) out.push({ kind: "rollup", level: "1m", from: hourTo, to: minuteTo });
	} else {
		out.push({ kind: "rollup", level: "1m", from: minuteFrom, to: minuteTo });
	}
	if (minuteTo < toMs) out.push({ kind: "raw", from: minuteTo, to: toMs });
	return out;
}

class Params {
	readonly values: SqlParam[] = [];
	readonly #numbers = new Map<string, number>();
	constructor(readonly dialect: SqlDialect) {}
	add(value: SqlParam): string {
		const key = `${typeof value}:${String(value)}`;
		let index = this.#numbers.get(key);
		if (index === undefined) {
			this.values.push(value);
			index = this.values.length;
			this.#numbers.set(key, index);
		}
		return this.dialect.placeholder(index, value);
	}
}

function isPercentile(expr: Expr): boolean {
	return (
		expr.kind === "call" && (expr.name === "percentile" || Object.hasOwn(PERCENTILE_SHORTHANDS, expr.name))
	);
}

function percentOf(call: Expr & { kind: "call" }): number {
	if (Object.hasOwn(PERCENTILE_SHORTHANDS, call.name)) return PERCENTILE_SHORTHANDS[call.name] as number;
	const second = call.args[1];
	if (second?.kind !== "number") throw new Ineligible();
	return second.value;
}

const isDurationField = (expr: Expr | { kind: "star" } | undefined) =>
	expr?.kind === "field" && expr.name === "duration_ms";

/** The planner's answer: a statement over the rollups and which level answered. */
export type RollupPlan = CompiledQuery & { source: "rollup_1h" | "rollup_1m" };

export function planFromRollups(
	checked: CheckedQuery,
	options: { orgId: string; dialect: SqlDialect },
): RollupPlan | null {
	const tables: Table[] = checked.source === "spans" ? ["span_latency", "span_rollups"] : ["log_rollups"];
	for (const table of tables) {
		try {
			return new Planner(checked, options, table).run();
		} catch (error) {
			if (!(error instanceof Ineligible)) throw error;
		}
	}
	return null;
}

class Planner {
	readonly #params: Params;
	readonly #d: SqlDialect;
	readonly #fields: Record<string, string>;
	/**
	 * Reading the latency rollup's error counts (`error_count` as `n`): the query's WHERE has
	 * `status = 'error'` in its top-level AND, and only counts are asked (the rollup's durations and
	 * histograms are of every status). `#where` is the rest of the WHERE, for the rollup pieces.
	 */
	readonly #errorsOnly: boolean;
	readonly #where: Expr | null;

	constructor(
		readonly checked: CheckedQuery,
		readonly options: { orgId: string; dialect: SqlDialect },
		readonly table: Table,
	) {
		this.#d = options.dialect;
		this.#params = new Params(options.dialect);
		if (checked.mode !== "aggregate" || (checked.source !== "spans" && checked.source !== "logs")) {
			throw new Ineligible();
		}
		this.#fields = TABLES[table];
		const split = table === "span_latency" && checked.where ? withoutErrorCondition(checked.where) : null;
		this.#errorsOnly = split !== null;
		this.#where = split ? split.rest : checked.where;
	}

	/** A row-level expression over a piece: `raw` reads the spans/logs table, else a rollup. */
	#row(expr: Expr, raw: boolean): string {
		switch (expr.kind) {
			case "string":
				if (this.checked.timeLiterals.has(expr)) throw new Ineligible();
				return this.#params.add(expr.value);
			case "field": {
				const column = Object.hasOwn(this.#fields, expr.name) ? this.#fields[expr.name] : undefined;
				if (!column) throw new Ineligible();
				return column;
			}
			case "compare":
				if (expr.op !== "=" && expr.op !== "!=") throw new Ineligible();
				return `(${this.#row(expr.left, raw)} ${expr.op === "=" ? "=" : "<>"} ${this.#row(expr.right, raw)})`;
			case "and":
			case "or":
				return `(${this.#row(expr.left, raw)} ${expr.kind === "and" ? "AND" : "OR"} ${this.#row(expr.right, raw)})`;
			case "not":
				return `(NOT ${this.#row(expr.operand, raw)})`;
			case "in":
				return `(${this.#row(expr.operand, raw)} ${expr.negated ? "NOT IN" : "IN"} (${expr.values.map((v) => this.#row(v, raw)).join(", ")}))`;
			case "isNull": {
				const operand = expr.operand;
				if (
					this.checked.source === "spans" &&
					operand.kind === "field" &&
					operand.name === "parent_span_id"
				) {
					const root = raw ? "(parent_span_id IS NULL)" : "(is_root = 1)";
					return expr.negated ? `(NOT ${root})` : root;
				}
				return `(${this.#row(operand, raw)} IS ${expr.negated ? "NOT " : ""}NULL)`;
			}
			default:
				throw new Ineligible();
		}
	}

	/** An aggregate expression over the `base` rows of the pieces. */
	#value(expr: Expr, windowMs: number, keys: Map<string, string>): string {
		const key = keys.get(printExpr(expr));
		if (key) return key;
		const d = this.#d;
		switch (expr.kind) {
			case "number":
				return this.#params.add(expr.value);
			case "negate":
				return `(- ${this.#value(expr.operand, windowMs, keys)})`;
			case "arithmetic": {
				const left = this.#value(expr.left, windowMs, keys);
				const right = this.#value(expr.right, windowMs, keys);
				return expr.op === "/" ? d.divide(left, right) : `(${left} ${expr.op} ${right})`;
			}
			case "call": {
				if (!isAggregateCall(expr)) throw new Ineligible();
				const first = expr.args[0];
				switch (expr.name) {
					case "count":
						// Over no row at all, 0 as COUNT(*) answers (SUM of nothing is NULL).
						if (first?.kind !== "star") throw new Ineligible();
						return "COALESCE(SUM(n), 0)";
					case "sum":
					case "avg":
					case "min":
					case "max": {
						if (this.checked.source !== "spans" || !isDurationField(first) || this.#errorsOnly)
							throw new Ineligible();
						const ms = this.#params.add(1_000_000);
						if (expr.name === "sum") return d.divide("SUM(dur_sum)", ms);
						if (expr.name === "avg") return d.divide("SUM(dur_sum)", `(${ms} * SUM(n))`);
						return d.divide(`${expr.name.toUpperCase()}(dur_${expr.name})`, ms);
					}
					case "rate": {
						if (first?.kind !== "call") throw new Ineligible();
						const inner = this.#value(first, windowMs, keys);
						const per = expr.args[1];
						const perMs = per?.kind === "duration" ? durationMs(per.duration) : 0;
						return d.divide(`(${inner} * ${this.#params.add(perMs)})`, this.#params.add(windowMs));
					}
					default:
						throw new Ineligible();
				}
			}
			default:
				throw new Ineligible();
		}
	}

	run(): RollupPlan {
		const { checked } = this;
		const d = this.#d;
		const { fromMs, toMs } = checked.range;
		const timeseries = checked.timeseries;
		if (timeseries && (timeseries.bucketMs % MINUTE_MS !== 0 || timeseries.originMs % MINUTE_MS !== 0)) {
			throw new Ineligible();
		}
		if (timeseries && checked.groupBy.length > 0 && checked.orderBy.length > 0) throw new Ineligible();
		const hours = !timeseries || (timeseries.bucketMs % HOUR_MS === 0 && timeseries.originMs % HOUR_MS === 0);
		const parts = pieces(fromMs, toMs, hours);
		const percentiles = checked.columns.some(
			(c) => c.expr.kind !== "attributeMap" && isPercentile(c.expr as Expr),
		);
		// Only the latency rollup keeps histograms: a percentile by host or status reads raw rows.
		if (
			percentiles &&
			(this.table !== "span_latency" || this.#errorsOnly || parts.some((p) => p.kind === "raw"))
		)
			throw new Ineligible();

		// The keys, as each piece computes them.
		const keyExprs = checked.groupBy;
		const keys = new Map(keyExprs.map((k, i) => [printExpr(k), d.quoteIdentifier(`k${i}`)]));
		const org = this.#params.add(this.options.orgId);
		const spans = checked.source === "spans";
		const base: string[] = [];
		// Integers (BigInt), so that the bucket arithmetic (dialect.timeBucket) truncates.
		const bucketMs = timeseries ? this.#params.add(BigInt(timeseries.bucketMs)) : "";
		const originMs = timeseries ? this.#params.add(BigInt(timeseries.originMs)) : "";
		for (const piece of parts) {
			const raw = piece.kind === "raw";
			const keyColumns = keyExprs.map((k, i) => `${this.#row(k, raw)} AS ${d.quoteIdentifier(`k${i}`)}`);
			if (raw) {
				// Raw rows answer the whole WHERE, the error condition too.
				const errors = this.#errorsOnly ? ` AND status_code = ${this.#params.add("error")}` : "";
				const where = (this.#where ? ` AND (${this.#row(this.#where, raw)})` : "") + errors;
				const ns = (ms: number) => this.#params.add(d.timeParam(ms, "ns"));
				const time = d.timeToWholeEpochMs("timestamp", "ns");
				const bucket = timeseries ? [`${d.timeBucket(time, bucketMs, originMs)} AS b`] : [];
				const groupKeys = [
					...keyExprs.map((_, i) => d.quoteIdentifier(`k${i}`)),
					...(timeseries ? ["b"] : []),
				];
				base.push(
					`SELECT ${[...keyColumns, ...bucket, "count(*) AS n", ...(spans ? ["sum(duration_ns) AS dur_sum", "min(duration_ns) AS dur_min", "max(duration_ns) AS dur_max"] : [])].join(", ")}` +
						` FROM ${d.narrowTimeScan(checked.source === "spans" ? "spans" : "logs")} WHERE org_id = ${org} AND timestamp >= ${ns(piece.from)} AND timestamp < ${ns(piece.to)}${where}` +
						(groupKeys.length > 0 ? ` GROUP BY ${groupKeys.join(", ")}` : ""),
				);
			} else {
				// A key without errors is no group at all (as over raw rows).
				const where =
					(this.#where ? ` AND (${this.#row(this.#where, raw)})` : "") +
					(this.#errorsOnly ? " AND error_count > 0" : "");
				const bucket = timeseries ? [`${d.timeBucket("bucket", bucketMs, originMs)} AS b`] : [];
				base.push(
					`SELECT ${[...keyColumns, ...bucket, this.#errorsOnly ? "error_count AS n" : "count AS n", ...(spans ? ["duration_sum_ns AS dur_sum", "duration_min_ns AS dur_min", "duration_max_ns AS dur_max"] : []), ...(percentiles ? ["hist"] : [])].join(", ")}` +
						` FROM ${this.table}_${piece.level} WHERE org_id = ${org}` +
						` AND bucket >= ${this.#params.add(BigInt(piece.from))} AND bucket < ${this.#params.add(BigInt(piece.to))}${where}`,
				);
			}
		}

		const windowMs = timeseries ? timeseries.bucketMs : toMs - fromMs;
		const columns: CompiledColumn[] = [];
		const select: string[] = [];
		if (timeseries) {
			columns.push({ name: "timestamp", type: "time", role: "bucket", empty: null });
			select.push("b");
		}
		for (const column of checked.columns) {
			if (column.expr.kind === "attributeMap") throw new Ineligible();
			const expr = column.expr as Expr;
			if (expr.kind === "call" && isPercentile(expr)) {
				if (!isDurationField(expr.args[0])) throw new Ineligible();
				columns.push({
					name: column.name,
					type: column.type,
					role: "value",
					empty: null,
					histogramPercentile: { percent: percentOf(expr), divisor: 1_000_000 },
				});
				select.push(d.mergeHistograms("hist"));
				continue;
			}
			columns.push({
				name: column.name,
				type: column.type,
				role: column.groupKey ? "key" : "value",
				empty: column.groupKey ? null : emptyValue(expr),
			});
			select.push(this.#value(expr, windowMs, keys));
		}
		const keyRefs = [...keys.values()];
		const partition = [...keyRefs, ...(timeseries ? ["b"] : [])];
		const aliased = select.map((s, i) => `${s} AS ${d.quoteIdentifier(`c${i}`)}`);
		const from = `(${base.join(" UNION ALL ")})`;
		// Only worth it when a rollup is read; a window inside one minute runs over raw rows as compiled.
		if (!parts.some((p) => p.kind === "rollup")) throw new Ineligible();
		const source = parts.some((p) => p.kind === "rollup" && p.level === "1h") ? "rollup_1h" : "rollup_1m";
		const limitParam = (n: number) => this.#params.add(BigInt(n));
		let sql: string;
		let seriesLimit: number | null = null;
		if (timeseries && checked.groupBy.length > 0) {
			// Series ranked by row count, ties by key (as the raw compiler ranks them).
			seriesLimit = checked.limit;
			columns.push({ name: "series_rank", type: "number", role: "rank", empty: null });
			const values = aliased.join(", ");
			sql =
				`WITH agg AS (SELECT ${values}, ${partition.join(", ")}, SUM(n) AS n FROM ${from} GROUP BY ${partition.join(", ")}),` +
				` totals AS (SELECT *, SUM(n) OVER (PARTITION BY ${keyRefs.join(", ")}) AS total FROM agg),` +
				` series AS (SELECT *, DENSE_RANK() OVER (ORDER BY ${[d.orderTerm("total", "desc"), ...keyRefs.map((k) => d.orderTerm(k, "asc"))].join(", ")}) AS sr FROM totals)` +
				` SELECT ${[...select.map((_, i) => d.quoteIdentifier(`c${i}`)), "sr"].join(", ")} FROM series WHERE sr <= ${limitParam(seriesLimit + 1)} ORDER BY sr, b`;
		} else {
			const orderTerms = checked.orderBy.map((term) => {
				if (containsPercentile(term.expr)) throw new Ineligible();
				const index = checked.columns.findIndex(
					(c) => c.expr.kind !== "attributeMap" && printExpr(c.expr) === printExpr(term.expr),
				);
				const sqlTerm =
					index >= 0
						? d.quoteIdentifier(`c${index + (timeseries ? 1 : 0)}`)
						: this.#value(term.expr, windowMs, keys);
				return d.orderTerm(sqlTerm, term.direction);
			});
			if (orderTerms.length === 0 && checked.groupBy.length > 0 && !timeseries) {
				const firstValue = checked.columns.findIndex((c) => !c.groupKey);
				if (firstValue >= 0) {
					if (columns[firstValue]?.histogramPercentile) throw new Ineligible();
					orderTerms.push(d.orderTerm(d.quoteIdentifier(`c${firstValue}`), "desc"));
				}
			}
			const order = timeseries ? ["b"] : [...orderTerms, ...keyRefs.map((k) => d.orderTerm(k, "asc"))];
			const limit =
				checked.groupBy.length > 0 && !timeseries ? ` LIMIT ${limitParam(checked.limit + 1)}` : "";
			sql =
				`SELECT ${aliased.join(", ")} FROM ${from}` +
				(partition.length > 0 ? ` GROUP BY ${partition.join(", ")}` : "") +
				(order.length > 0 ? ` ORDER BY ${order.join(", ")}` : "") +
				limit;
		}
		return {
			sql,
			params: this.#params.values,
			columns,
			range: checked.range,
			limit: checked.limit,
			regex: false,
			timeseries: timeseries ? { ...timeseries, seriesLimit } : null,
			source,
		};
	}
}

/** `status = 'error'` (either way round), a literal string. */
function isErrorCondition(expr: Expr): boolean {
	if (expr.kind !== "compare" || expr.op !== "=") return false;
	const [field, value] = expr.left.kind === "field" ? [expr.left, expr.right] : [expr.right, expr.left];
	return (
		field.kind === "field" && field.name === "status" && value.kind === "string" && value.value === "error"
	);
}

/**
 * When `where` is `status = 'error'` or an AND with it among its top-level terms: the other terms
 * (null when none); else null.
 */
function withoutErrorCondition(where: Expr): { rest: Expr | null } | null {
	const terms: Expr[] = [];
	const flatten = (expr: Expr) => {
		if (expr.kind === "and") {
			flatten(expr.left);
			flatten(expr.right);
		} else terms.push(expr);
	};
	flatten(where);
	const index = terms.findIndex(isErrorCondition);
	if (index < 0) return null;
	const rest = terms.filter((_, i) => i !== index);
	return {
		rest: rest.reduce<Expr | null>(
			(left, right) => (left ? { kind: "and", left, right, pos: right.pos } : right),
			null,
		),
	};
}

function containsPercentile(expr: Expr): boolean {
	switch (expr.kind) {
		case "negate":
			return containsPercentile(expr.operand);
		case "arithmetic":
			return containsPercentile(expr.left) || containsPercentile(expr.right);
		case "call":
			return isPercentile(expr) || expr.args.some((a) => a.kind !== "star" && containsPercentile(a));
		default:
			return false;
	}
}
