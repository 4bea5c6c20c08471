import type { InValue } from "@libsql/client";
import type { AppDeps } from "../app-env.js";
import { DEFAULT_MAX_MATCH_COST, DEFAULT_OQL_SETTINGS, type OqlSettings } from "../config.js";
import { ApiError } from "../errors.js";
import { parseJsonExact } from "../http/json-exact.js";
import { HistogramSum, histogramPercentile } from "../ingest/rollups.js";
import type { CompiledColumn, CompiledQuery } from "./compiler.js";
import type { SqlDialect } from "./dialect.js";
import { OqlError } from "./errors.js";
import { prepareOql } from "./index.js";
import type { OutputType } from "./semantic.js";
import { sqliteDialect } from "./sqlite-dialect.js";

/**
 * The OQL executor: text → the contract's answer (§4), for `POST /api/v1/dsl`, dashboards and saved
 * queries. Everything a client may get wrong is thrown as an ApiError with the contract's code:
 * 400 `oql_syntax_error` (with `position`), `oql_invalid_query`, `oql_range_too_large`; 503
 * `query_timeout` and 429 `rate_limited` (with Retry-After). Rules: docs/oql.md, "Running a query".
 */

/** A result value: numbers (integers past ±2^53 as exact text), strings, RFC 3339 times, booleans, JSON. */
export type OqlValue = string | number | boolean | null | Record<string, unknown> | unknown[];

export interface OqlResult {
	columns: { name: string; type: OutputType }[];
	rows: OqlValue[][];
	meta: {
		/** The window read, [from, to), RFC 3339 UTC. */
		from: string;
		to: string;
		row_count: number;
		/** Rows, groups or series were cut at the limit. */
		truncated: boolean;
		/** Time to run the statement and shape the answer, in milliseconds. */
		elapsed_ms: number;
		/**
		 * What answered: `rollup_1h` / `rollup_1m` (the coarsest rollup level read; partial minutes at
		 * the window's edges still from raw rows) or `raw` (docs/oql.md, "Rollups").
		 */
		source: "rollup_1h" | "rollup_1m" | "raw";
	};
}

export interface RunOqlOptions {
	/** Epoch ms: replaces the query's start (a dashboard's time picker). */
	from?: number;
	/** Epoch ms: replaces the query's end. */
	to?: number;
	/** Values of `$name` placeholders; each is bound as a string literal, never read as OQL or SQL. */
	variables?: Readonly<Record<string, string | null>>;
	/** false: over raw rows even where a rollup could answer (the differential tests' reference). */
	rollups?: boolean;
}

type Deps = Pick<AppDeps, "reads" | "clock" | "config">;

export function oqlSettingsOf(deps: Pick<AppDeps, "config">): OqlSettings {
	return deps.config.oql ?? DEFAULT_OQL_SETTINGS;
}

/** An OqlError as the API's error: 400 with its code and, where known, its position. */
export function toApiError(error: OqlError): ApiError {
	return new ApiError(400, error.code, error.message, error.position ? { position: error.position } : {});
}

/**
 * Parses, binds, checks and compiles a query for an org without running it (saved queries check
 * their text with it). Throws ApiError 400 with the OQL codes.
 */
export function compileOql(
	deps: Pick<AppDeps, "clock" | "config">,
	orgId: string,
	query: string,
	options: RunOqlOptions = {},
	dialect: SqlDialect = sqliteDialect,
): CompiledQuery {
	try {
		return prepareOql(query, {
			orgId,
			now: deps.clock.now(),
			dialect,
			maxRangeMs: Math.round(oqlSettingsOf(deps).maxRangeDays * 86_400_000),
			...(options.variables === undefined ? {} : { variables: options.variables }),
			...(options.from === undefined && options.to === undefined
				? {}
				: { range: { fromMs: options.from, toMs: options.to } }),
			rollups: options.rollups ?? true,
		});
	} catch (error) {
		if (error instanceof OqlError) throw toApiError(error);
		throw error;
	}
}

/** Runs one OQL query for one org and shapes the answer. Keep this signature stable: dashboards call it. */
export async function runOql(
	deps: Deps,
	orgId: string,
	query: string,
	options?: RunOqlOptions,
): Promise<OqlResult> {
	const started = performance.now();
	const compiled = compileOql(deps, orgId, query, options);
	const settings = oqlSettingsOf(deps);
	if (compiled.regexCost) await checkMatchCost(deps, orgId, compiled.regexCost, settings);
	const statement = { ...compiled, width: compiled.columns.length };
	const rows = await execute(deps, orgId, statement, settings.timeoutMs);
	return resultOf(compiled, rows, started);
}

/** The contract's answer from a compiled query's raw rows (positional, in `compiled.columns` order). */
export function resultOf(compiled: CompiledQuery, rows: unknown[][], started: number): OqlResult {
	const shaped = shape(compiled, rows);
	return {
		columns: shaped.columns,
		rows: shaped.rows,
		meta: {
			from: new Date(compiled.range.fromMs).toISOString(),
			to: new Date(compiled.range.toMs).toISOString(),
			row_count: shaped.rows.length,
			truncated: shaped.truncated,
			elapsed_ms: Math.round((performance.now() - started) * 10) / 10,
			source: compiled.source ?? "raw",
		},
	};
}

/**
 * MATCHES runs in the database (SQLite's regexp.c), where a remote database cannot be stopped
 * mid-statement: its work is bounded before the query runs instead. A cheap statement sums the
 * characters each MATCHES operand holds over the org's rows in the window; times the pattern's
 * per-character cost that is the most the regular expressions can do. Over OQL_MAX_MATCH_COST the
 * query is refused.
 */
async function checkMatchCost(
	deps: Pick<AppDeps, "reads">,
	orgId: string,
	cost: NonNullable<CompiledQuery["regexCost"]>,
	settings: OqlSettings,
): Promise<void> {
	const [totals = []] = await execute(
		deps,
		orgId,
		{ sql: cost.sql, params: cost.params, width: cost.charCosts.length, regex: false },
		settings.timeoutMs,
	);
	checkMatchWork(cost, totals, settings);
}

/** Refuses a MATCHES query whose characters times its pattern's cost exceed the budget (oql_range_too_large). */
export function checkMatchWork(
	cost: NonNullable<CompiledQuery["regexCost"]>,
	totals: unknown[],
	settings: OqlSettings,
): void {
	const characters = cost.charCosts.map((_, i) => Number(totals[i] ?? 0));
	const work = characters.reduce((sum, chars, i) => sum + chars * (cost.charCosts[i] as number), 0);
	const budget = settings.maxMatchCost ?? DEFAULT_MAX_MATCH_COST;
	if (work > budget) {
		const text = characters.reduce((a, b) => a + b, 0);
		throw new ApiError(
			400,
			"oql_range_too_large",
			`MATCHES would read ${text} characters with a pattern costing up to ${Math.max(...cost.charCosts)} steps each ` +
				`(${work.toExponential(1)} steps, the limit is ${budget.toExponential(1)}). ` +
				"Narrow the time range, add conditions on other fields, or use a simpler pattern (fewer {m,n} repetitions).",
		);
	}
}

interface Statement {
	sql: string;
	params: CompiledQuery["params"];
	/** Columns per result row. */
	width: number;
	/** Whether it runs a MATCHES pattern (an engine error in it is the query's fault). */
	regex: boolean;
	/** The compiled columns, when rollup percentiles are to be read from histograms. */
	columns?: CompiledColumn[];
}

/**
 * Runs the statement through the heavy-read door (src/db/reads.ts): limits in flight (429), the
 * deadline (503 `query_timeout`, the statement stopped on Node, abandoned on a remote database).
 * Either way the work of one statement is also bounded by the org guard, the time window (≤ the
 * maximum range, on an `(org_id, time)` index) and LIMIT.
 */
async function execute(
	deps: Pick<AppDeps, "reads">,
	orgId: string,
	compiled: Statement,
	timeoutMs: number,
): Promise<unknown[][]> {
	const stmt = { sql: compiled.sql, args: compiled.params as InValue[] };
	try {
		const [result] = await deps.reads.read(orgId, [stmt], timeoutMs);
		return (result?.rows ?? []).map((row) =>
			Array.from({ length: compiled.width }, (_, i) => {
				const percentile = compiled.columns?.[i]?.histogramPercentile;
				return percentile ? histogramValueOf(row[i], percentile) : row[i];
			}),
		);
	} catch (error) {
		if (error instanceof ApiError) throw error;
		throw engineError(error, compiled) ?? error;
	}
}

/** What the engine says when a statement nests deeper than its parser takes (SQLite, ClickHouse). */
const ENGINE_TOO_DEEP =
	/parser stack overflow|expression tree is too large|maximum parse depth|too_deep_(ast|recursion|subqueries)|ast is too (deep|big)/i;

/** An engine error the query itself caused, as oql_invalid_query; null for anything else (a 500). */
function engineError(error: unknown, compiled: Statement): ApiError | null {
	if (!(error instanceof Error)) return null;
	const reason = (error.cause instanceof Error ? error.cause.message : error.message)
		.replace(/^SQLITE_[A-Z_]+: /, "")
		.trim();
	// OQL allows 100 levels; the SQL it compiles to nests deeper, past what the engine's parser takes
	// (SQLite's parser stack; ClickHouse's parse depth and AST limits).
	if (ENGINE_TOO_DEEP.test(reason)) {
		return new ApiError(
			400,
			"oql_invalid_query",
			"The query is nested too deeply for the database to run: use IN for a long list of values, or split the expression.",
		);
	}
	if (/integer overflow/i.test(reason)) {
		return new ApiError(
			400,
			"oql_invalid_query",
			"A sum overflowed 64-bit integers; use avg() or filter more.",
		);
	}
	const code = (error as { code?: unknown }).code;
	if (compiled.regex && (code === "SQLITE_ERROR" || /^SQLITE_ERROR/.test(error.message))) {
		// regexp.c's messages ("unmatched '('") name the pattern's fault, never the statement.
		const safe = reason.length <= 120 && !/\b(SELECT|FROM|WHERE)\b/i.test(reason);
		return new ApiError(
			400,
			"oql_invalid_query",
			`The MATCHES pattern cannot be used${safe ? `: ${reason}` : ""}.`,
		);
	}
	return null;
}

/**
 * A rollup plan's percentile column (`SqlDialect.mergeHistograms`): the histograms merged — SQLite's
 * JSON array of histogram objects, or the one object (bucket index → spans) ClickHouse's sumMap
 * gave — and the percentile read.
 */
export function histogramValueOf(
	value: unknown,
	{ percent, divisor }: { percent: number; divisor: number },
): number | null {
	const parts: unknown =
		value !== null && typeof value === "object" ? [value] : JSON.parse(String(value ?? "[]"));
	const sum = new HistogramSum();
	for (const part of parts as (Record<string, number | string> | null)[]) {
		if (!part) continue;
		for (const [index, n] of Object.entries(part)) sum.add(Number(index), Number(n));
	}
	const ns = histogramPercentile(sum.histogram(), percent / 100);
	return ns === null ? null : ns / divisor;
}

// ---- result shaping ----

interface Shaped {
	columns: OqlResult["columns"];
	rows: OqlValue[][];
	truncated: boolean;
}

function shape(compiled: CompiledQuery, raw: unknown[][]): Shaped {
	const visible = compiled.columns
		.map((column, index) => ({ column, index }))
		.filter(({ column }) => column.role !== "rank");
	const columns = visible.map(({ column }) => ({ name: column.name, type: column.type }));
	const present = (rows: unknown[][]) =>
		rows.map((row) => visible.map(({ column, index }) => present1(row[index], column.type)));

	const timeseries = compiled.timeseries;
	if (!timeseries) {
		// Rows mode and GROUP BY ask for one row more than the limit; a plain aggregate gives one row.
		const truncated = raw.length > compiled.limit;
		return { columns, rows: present(truncated ? raw.slice(0, compiled.limit) : raw), truncated };
	}

	const bucketIndex = compiled.columns.findIndex((c) => c.role === "bucket");
	const rankIndex = compiled.columns.findIndex((c) => c.role === "rank");
	const { firstBucketMs, lastBucketMs, bucketMs } = timeseries;
	const series = new Map<number, unknown[][]>();
	// Without GROUP BY there is one series, even when no row matched: every bucket is then filled.
	if (rankIndex < 0) series.set(1, []);
	for (const row of raw) {
		const rank = rankIndex >= 0 ? Number(row[rankIndex]) : 1;
		let list = series.get(rank);
		if (!list) {
			list = [];
			series.set(rank, list);
		}
		list.push(row);
	}
	const limit = timeseries.seriesLimit;
	const truncated = limit !== null && [...series.keys()].some((rank) => rank > limit);
	const filled: unknown[][] = [];
	for (const rank of [...series.keys()].sort((a, b) => a - b)) {
		if (limit !== null && rank > limit) continue;
		const rows = series.get(rank) ?? [];
		const byBucket = new Map(rows.map((row) => [Math.round(Number(row[bucketIndex])), row]));
		const template = rows[0] ?? [];
		for (let bucket = firstBucketMs; bucket <= lastBucketMs; bucket += bucketMs) {
			filled.push(byBucket.get(bucket) ?? emptyRow(compiled.columns, template, bucket));
		}
	}
	return { columns, rows: present(filled), truncated };
}

/** A bucket without rows: its time, the series' keys, each value's `empty`. */
function emptyRow(columns: CompiledColumn[], template: unknown[], bucketMs: number): unknown[] {
	return columns.map((column, i) => {
		if (column.role === "bucket") return bucketMs;
		if (column.role === "value") return column.empty;
		return template[i] ?? null; // a key or the rank: the series' own
	});
}

function present1(value: unknown, type: OutputType): OqlValue {
	if (value === null || value === undefined) return null;
	switch (type) {
		case "time": {
			const ms = Math.floor(Number(value));
			return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : null;
		}
		case "bool":
			return typeof value === "number" || typeof value === "bigint" ? Number(value) !== 0 : Boolean(value);
		case "json":
			if (typeof value !== "string") return null;
			try {
				return parseJsonExact(value) as Record<string, unknown>;
			} catch {
				return value;
			}
		default:
			if (typeof value === "bigint") {
				return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
			}
			if (value instanceof ArrayBuffer) return null;
			return value as OqlValue;
	}
}
