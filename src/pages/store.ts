import type { InStatement, InValue, Row } from "@libsql/client";
import type { AppDeps } from "../app-env.js";
import { DEFAULT_OQL_SETTINGS } from "../config.js";
import type { Database } from "../db/client.js";
import { LOG_LEVELS, logs, metricPoints, spans } from "../db/schema-telemetry.js";
import { ApiError } from "../errors.js";
import { parseJsonExact } from "../http/json-exact.js";
import { toRfc3339 } from "../http/time.js";
import { type ColumnExpr, STORAGE } from "../oql/columns.js";
import type { SqlParam } from "../oql/dialect.js";
import { type CompiledQuery, OqlError, prepareOql } from "../oql/index.js";
import { DEFAULT_MAX_RANGE_MS } from "../oql/semantic.js";
import { libsqlPageBackend, type PageBackend, type PageResult, type PageSql } from "./backend.js";
import type { PageWindow } from "./window.js";

/**
 * The pages' one data-access layer. Every statement the pages run is built here or by the OQL
 * compiler, from the same definitions:
 *
 * - names: tables, the org and time columns, their unit, and every field OQL knows come from the
 *   OQL storage map (src/oql/columns.ts); the few columns OQL does not expose (the rowid `id`,
 *   `events`, `links`, the scope) from the drizzle schema (src/db/schema-telemetry.ts);
 * - org scoping and time bounds: `scope()` writes `org = ? AND time >= ? AND time < ?` with the
 *   bounds converted by the OQL dialect's `timeParam`, as the compiler's guard does;
 * - what an error is (`ERROR_RULES`) and how filters read (`Filter`): defined once, rendered to SQL
 *   for the hand-built statements and to OQL text for the compiled ones;
 * - aggregates OQL already defines — exact percentiles, TIMESERIES buckets — are compiled by the OQL
 *   compiler (`compileOql`), so a page and `/api/v1/dsl` give the same numbers.
 *
 * Every value is a bound parameter; identifiers pass through the dialect's `quoteIdentifier`. The
 * engine's SQL (`PageSql`: libSQL's or ClickHouse's, src/pages/backend.ts) comes with the reader;
 * statements, tables and compiled OQL are built from it, so one page's code serves both engines.
 */

export type PageSource = "logs" | "spans" | "metrics";

const DRIZZLE = { logs, spans, metrics: metricPoints } as const;

// ---------------------------------------------------------------------------------------------
// Statements

/** One statement under construction: numbered parameters, equal values sharing a number. */
export class Statement {
	readonly args: InValue[] = [];
	readonly #numbers = new Map<string, number>();

	constructor(readonly sql: PageSql) {}

	quote(name: string): string {
		return this.sql.dialect.quoteIdentifier(name);
	}

	param(value: InValue): string {
		const key = `${typeof value}:${String(value)}`;
		let index = this.#numbers.get(key);
		if (index === undefined) {
			this.args.push(value);
			index = this.args.length;
			this.#numbers.set(key, index);
		}
		return this.sql.dialect.placeholder(index, value as SqlParam);
	}

	/** `(?, ?, …)` for an IN list. */
	list(values: readonly InValue[]): string {
		return `(${values.map((value) => this.param(value)).join(", ")})`;
	}

	done(sql: string): InStatement {
		return { sql, args: this.args };
	}
}

// ---------------------------------------------------------------------------------------------
// Names

function storedColumn(expr: ColumnExpr | undefined, what: string): string {
	if (!expr || expr.join) throw new Error(`internal: ${what} is not a column of the source's table`);
	return expr.column;
}

/** The stored column of an OQL field of `source` (columns.ts), e.g. `level`, `status` → `status_code`. */
export function fieldColumn(source: PageSource, field: string): string {
	const fields = STORAGE[source].fields;
	return storedColumn(Object.hasOwn(fields, field) ? fields[field] : undefined, `${source}.${field}`);
}

/** A telemetry table under an alias, with its columns qualified by the alias. */
export interface TableRef {
	sql: PageSql;
	source: PageSource;
	alias: string;
	/** `"logs" AS "t"` */
	from: string;
	org: string;
	time: string;
	id: string;
	attributes: string;
	resource: string;
	/** An OQL field (columns.ts), e.g. `field("level")`. */
	field(name: string): string;
	/** A column OQL does not expose, by its drizzle column (schema-telemetry.ts). */
	raw(column: { name: string }): string;
}

export function table(sql: PageSql, source: PageSource, alias: string): TableRef {
	const storage = STORAGE[source];
	const quote = (name: string) => sql.dialect.quoteIdentifier(name);
	const column = (name: string) => `${quote(alias)}.${quote(name)}`;
	if (!storage.attributesColumn || !storage.resourceColumn)
		throw new Error(`internal: ${source} has no maps`);
	return {
		sql,
		source,
		alias,
		from: `${quote(storage.table)} AS ${quote(alias)}`,
		org: column(storage.orgColumn),
		time: column(storage.timeColumn),
		id: column(DRIZZLE[source].id.name),
		attributes: column(storage.attributesColumn),
		resource: column(storage.resourceColumn),
		field: (name) => column(fieldColumn(source, name)),
		raw: (drizzleColumn) => column(drizzleColumn.name),
	};
}

/** A time in the source's unit (ns for telemetry) as a bound value, as the OQL compiler binds it. */
export function timeValue(sql: PageSql, source: PageSource, epochMs: number): InValue {
	return sql.dialect.timeParam(epochMs, STORAGE[source].timeUnit) as InValue;
}

/** The stored time as text: nanoseconds exceed 2^53, so they leave the engine as exact decimal text. */
export function exactTime(t: TableRef, expression = t.time): string {
	return t.sql.text(expression);
}

/** The guard of every statement: the caller's org and `from ≤ time < to` (the compiler's ?1–?3). */
export function scope(statement: Statement, t: TableRef, orgId: string, window: PageWindow): string {
	return (
		`${t.org} = ${statement.param(orgId)}` +
		` AND ${t.time} >= ${statement.param(timeValue(t.sql, t.source, window.fromMs))}` +
		` AND ${t.time} < ${statement.param(timeValue(t.sql, t.source, window.toMs))}`
	);
}

/** The org alone (lookups by trace id, schema discovery): no time bound. */
export function orgOnly(statement: Statement, t: TableRef, orgId: string): string {
	return `${t.org} = ${statement.param(orgId)}`;
}

// ---------------------------------------------------------------------------------------------
// Filters and rules: one definition, rendered to SQL or to OQL

export type Filter =
	| { field: string; op: "="; value: string }
	| { field: string; op: "in"; values: readonly string[] }
	/** Case-insensitive substring (ASCII letters), OQL's `LIKE '%…%'`. */
	| { field: string; op: "contains_ci"; value: string }
	| { field: string; op: ">="; value: number };

/** The levels at or above `error` (error, fatal): an error log. */
export const ERROR_LEVELS: readonly string[] = LOG_LEVELS.slice(LOG_LEVELS.indexOf("error"));

/** What an error is, per source: the one definition behind every error count and error filter. */
export const ERROR_RULES = {
	logs: { field: "level", op: "in", values: ERROR_LEVELS },
	spans: { field: "status", op: "in", values: ["error"] },
} as const satisfies Record<"logs" | "spans", Filter>;

/**
 * Entry spans: where work enters a service — server and consumer spans — and trace roots (jobs,
 * spans without a kind). The overview's "operations" are these, by service and span name.
 */
export const ENTRY_SPANS_OQL = `kind IN ('server', 'consumer') OR parent_span_id IS NULL`;

function likeContains(text: string): string {
	return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** A filter as a SQL condition over `t`. */
export function filterSql(statement: Statement, t: TableRef, filter: Filter): string {
	const fields = STORAGE[t.source].fields;
	const expr = Object.hasOwn(fields, filter.field) ? fields[filter.field] : undefined;
	const column = t.field(filter.field);
	switch (filter.op) {
		case "=":
			return `${column} = ${statement.param(filter.value)}`;
		case "in":
			return filter.values.length === 1
				? `${column} = ${statement.param(filter.values[0] as string)}`
				: `${column} IN ${statement.list(filter.values)}`;
		case "contains_ci":
			return t.sql.dialect.like(column, statement.param(likeContains(filter.value)), statement.param("\\"));
		case ">=":
			// A scaled field (duration_ms) compares in its stored unit, so no division per row.
			return expr?.kind === "scaled"
				? `${column} >= ${statement.param(BigInt(Math.ceil(filter.value * expr.divisor)))}`
				: `${column} >= ${statement.param(filter.value)}`;
	}
}

export function filtersSql(statement: Statement, t: TableRef, filters: readonly Filter[]): string {
	return filters.map((filter) => ` AND ${filterSql(statement, t, filter)}`).join("");
}

/** An OQL string literal: single quotes, a quote inside doubled (the lexer's only escape). */
export function oqlString(value: string): string {
	return `'${value.replaceAll("'", "''")}'`;
}

/** A filter as an OQL condition; the compiler binds every value it holds. */
export function filterOql(filter: Filter): string {
	switch (filter.op) {
		case "=":
			return `${filter.field} = ${oqlString(filter.value)}`;
		case "in":
			return `${filter.field} IN (${filter.values.map(oqlString).join(", ")})`;
		case "contains_ci":
			return `${filter.field} LIKE ${oqlString(likeContains(filter.value))}`;
		case ">=":
			return `${filter.field} >= ${String(filter.value)}`;
	}
}

export function whereOql(filters: readonly Filter[]): string {
	return filters.length === 0 ? "" : ` WHERE ${filters.map(filterOql).join(" AND ")}`;
}

/** OQL's absolute range clause for a window. */
export function rangeOql(window: PageWindow): string {
	return `SINCE ${oqlString(toRfc3339(window.fromMs))} UNTIL ${oqlString(toRfc3339(window.toMs))}`;
}

/**
 * Compiles OQL the pages generate over `window` (already checked against the configured widest
 * window). Its values are the client's, so OQL's limits are theirs too.
 */
export function compileOql(sql: PageSql, text: string, orgId: string, window: PageWindow): CompiledQuery {
	try {
		return prepareOql(text, {
			orgId,
			now: window.toMs,
			dialect: sql.dialect,
			maxRangeMs: Math.max(DEFAULT_MAX_RANGE_MS, window.toMs - window.fromMs),
		});
	} catch (error) {
		if (error instanceof OqlError) throw new ApiError(400, "invalid_request", error.message);
		throw error;
	}
}

export function compiledStatement(compiled: CompiledQuery): InStatement {
	return { sql: compiled.sql, args: compiled.params as InValue[] };
}

// ---------------------------------------------------------------------------------------------
// Histograms: OQL `SELECT count(*) FROM <source> WHERE … TIMESERIES AUTO`

export interface Histogram {
	interval_ms: number;
	/** The OQL that computes it, for "open in the query editor". */
	oql: string;
	buckets: { time: string; count: number }[];
}

export interface PreparedHistogram {
	statement: InStatement;
	read(result: PageResult): Histogram;
}

const OQL_SOURCE: Record<PageSource, string> = { logs: "logs", spans: "spans", metrics: "metrics" };

export function prepareHistogram(
	sql: PageSql,
	source: PageSource,
	filters: readonly Filter[],
	window: PageWindow,
	orgId: string,
): PreparedHistogram {
	const oql = `SELECT count(*) FROM ${OQL_SOURCE[source]}${whereOql(filters)} TIMESERIES AUTO ${rangeOql(window)}`;
	const compiled = compileOql(sql, oql, orgId, window);
	const timeseries = compiled.timeseries;
	if (!timeseries) throw new Error("internal: a histogram without TIMESERIES");
	return {
		statement: compiledStatement(compiled),
		read(result) {
			const counts = new Map<number, number>();
			for (const row of result.rows) counts.set(Math.round(Number(row[0])), Number(row[1]));
			const buckets: Histogram["buckets"] = [];
			for (let at = timeseries.firstBucketMs; at <= timeseries.lastBucketMs; at += timeseries.bucketMs) {
				buckets.push({ time: toRfc3339(at), count: counts.get(at) ?? 0 });
			}
			return { interval_ms: timeseries.bucketMs, oql, buckets };
		},
	};
}

// ---------------------------------------------------------------------------------------------
// Running

/**
 * What a page reads with, for the caller's org: the backend's SQL (with or without rollups), its
 * reads (on libSQL the heavy-read door, src/db/reads.ts: limits in flight, the OQL_TIMEOUT_MS
 * deadline, reader processes on Node; on ClickHouse the deadline in the engine), and drizzle to
 * build the metadata statements.
 */
export interface PageReader {
	db: Database;
	sql: PageSql;
	read(statements: InStatement[]): Promise<PageResult[]>;
}

/** The pages' reader over `backend`: libSQL (the rollups, one read batch) unless another is given. */
export function pageReader(
	deps: Pick<AppDeps, "db" | "reads" | "config">,
	orgId: string,
	backend: PageBackend = libsqlPageBackend(deps),
): PageReader {
	const timeoutMs = (deps.config.oql ?? DEFAULT_OQL_SETTINGS).timeoutMs;
	return {
		db: deps.db,
		sql: backend.sql,
		read: (statements) => backend.read(orgId, statements, timeoutMs),
	};
}

/**
 * Runs a page's statements as one read batch: one round trip to a remote database, and one
 * snapshot, so the parts of a page (rows, histogram, counts) agree with each other.
 */
export async function readBatch(reader: PageReader, statements: InStatement[]): Promise<PageResult[]> {
	if (statements.length === 0) return [];
	return reader.read(statements);
}

// ---------------------------------------------------------------------------------------------
// Row helpers

export function text(row: Row, column: string): string | null {
	const value = row[column];
	return value === null || value === undefined ? null : String(value);
}

export function num(row: Row, column: string): number {
	const value = row[column];
	return value === null || value === undefined ? 0 : Number(value);
}

/** Exact ns text → RFC 3339 (ms) and the exact ns, as OTLP's JSON writes `…_unix_nano`. */
export function nsTime(ns: string): { time: string; time_unix_nano: string } {
	return { time: toRfc3339(Number(BigInt(ns) / 1_000_000n)), time_unix_nano: ns };
}

export function nsToMs(ns: bigint): number {
	return Number(ns) / 1_000_000;
}

/** A stored JSON object column; malformed or absent text reads as `{}`. */
export function jsonObject(value: unknown): Record<string, unknown> {
	if (typeof value !== "string") return {};
	try {
		const parsed: unknown = parseJsonExact(value);
		return parsed && typeof parsed === "object" && !Array.isArray(parsed)
			? (parsed as Record<string, unknown>)
			: {};
	} catch {
		return {};
	}
}

export function ratio(part: number, whole: number): number | null {
	return whole === 0 ? null : part / whole;
}
