import type { Client, InValue, ResultSet } from "@libsql/client";
import type { AppDeps } from "../app-env.js";
import { DEFAULT_MAX_MATCH_COST, DEFAULT_OQL_SETTINGS, type OqlSettings } from "../config.js";
import type { Database } from "../db/client.js";
import { ApiError } from "../errors.js";
import type { CompiledColumn, CompiledQuery } from "./compiler.js";
import { OqlError } from "./errors.js";
import { prepareOql } from "./index.js";
import type { OutputType } from "./semantic.js";
import { sqliteDialect } from "./sqlite-dialect.js";

/**
 * The OQL executor: text → the contract's answer (§4), for `POST /api/v1/dsl`, dashboards and saved
 * queries. Everything a client may get wrong is thrown as an ApiError with the contract's code:
 * 400 `oql_syntax_error` (with `position`), `oql_invalid_query`, `oql_range_too_large`; 503
 * `query_timeout` (with Retry-After). Rules: docs/oql.md, "Running a query".
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
	};
}

export interface RunOqlOptions {
	/** Epoch ms: replaces the query's start (a dashboard's time picker). */
	from?: number;
	/** Epoch ms: replaces the query's end. */
	to?: number;
	/** Values of `$name` placeholders; each is bound as a string literal, never read as OQL or SQL. */
	variables?: Record<string, string>;
}

/** Seconds a client should wait before retrying a timed-out query. */
const RETRY_AFTER_SECONDS = 5;

type Deps = Pick<AppDeps, "db" | "clock" | "config">;

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
): CompiledQuery {
	try {
		return prepareOql(query, {
			orgId,
			now: deps.clock.now(),
			dialect: sqliteDialect,
			maxRangeMs: Math.round(oqlSettingsOf(deps).maxRangeDays * 86_400_000),
			...(options.variables === undefined ? {} : { variables: options.variables }),
			...(options.from === undefined && options.to === undefined
				? {}
				: { range: { fromMs: options.from, toMs: options.to } }),
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
	options?: { from?: number; to?: number; variables?: Record<string, string> },
): Promise<OqlResult> {
	const started = performance.now();
	const compiled = compileOql(deps, orgId, query, options);
	const settings = oqlSettingsOf(deps);
	const client = clientOf(deps.db);
	if (compiled.regexCost) await checkMatchCost(client, compiled.regexCost, settings);
	const statement = { ...compiled, width: compiled.columns.length };
	const rows = await execute(client, statement, settings.timeoutMs);
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
		},
	};
}

/** drizzle keeps the libSQL client it wraps as `$client`: the statement goes to it directly. */
function clientOf(db: Database): Client {
	return (db as Database & { $client: Client }).$client;
}

class DeadlinePassed extends Error {}

/**
 * MATCHES runs in the database (SQLite's regexp.c), where no deadline can stop it mid-statement:
 * its work is bounded before the query runs instead. A cheap statement sums the characters each
 * MATCHES operand holds over the org's rows in the window; times the pattern's per-character cost
 * that is the most the regular expressions can do. Over OQL_MAX_MATCH_COST the query is refused.
 */
async function checkMatchCost(
	client: Client,
	cost: NonNullable<CompiledQuery["regexCost"]>,
	settings: OqlSettings,
): Promise<void> {
	const [totals = []] = await execute(
		client,
		{ sql: cost.sql, params: cost.params, width: cost.charCosts.length, regex: false },
		settings.timeoutMs,
	);
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

/**
 * Runs the statement against its deadline. libSQL has no statement timeout and its clients no
 * cancellation, so:
 * - a remote client (Workers → Turso/sqld over HTTP) is raced against a timer: at the deadline the
 *   answer is 503 and the statement is abandoned (the server finishes it and the result is dropped);
 * - the embedded client (Node) runs a statement synchronously on the event loop, so no timer can
 *   fire before it returns: the deadline is checked when it does, with the same 503.
 * Either way the work of one statement is bounded by the org guard, the time window (≤ the maximum
 * range, on an `(org_id, time)` index) and LIMIT.
 */
interface Statement {
	sql: string;
	params: CompiledQuery["params"];
	/** Columns per result row. */
	width: number;
	/** Whether it runs a MATCHES pattern (an engine error in it is the query's fault). */
	regex: boolean;
}

async function execute(client: Client, compiled: Statement, timeoutMs: number): Promise<unknown[][]> {
	const started = performance.now();
	const stmt = { sql: compiled.sql, args: compiled.params as InValue[] };
	let timer: ReturnType<typeof setTimeout> | undefined;
	let statement: Promise<ResultSet> | undefined;
	try {
		let result: ResultSet;
		if (client.protocol === "file") {
			// Embedded: the statement has run by the time this returns; a timer could not fire first.
			result = await client.execute(stmt);
		} else {
			statement = client.execute(stmt);
			const deadline = new Promise<never>((_, reject) => {
				timer = setTimeout(() => reject(new DeadlinePassed()), timeoutMs);
			});
			result = await Promise.race([statement, deadline]);
		}
		if (performance.now() - started > timeoutMs) throw new DeadlinePassed();
		const width = compiled.width;
		return result.rows.map((row) => Array.from({ length: width }, (_, i) => row[i]));
	} catch (error) {
		if (error instanceof DeadlinePassed) {
			statement?.catch(() => {}); // abandoned: its late failure is nobody's
			throw new ApiError(
				503,
				"query_timeout",
				`The query did not finish within ${timeoutMs} ms. Narrow the time range, add conditions or group by fewer keys.`,
				{ headers: { "Retry-After": String(RETRY_AFTER_SECONDS) } },
			);
		}
		throw engineError(error, compiled) ?? error;
	} finally {
		clearTimeout(timer);
	}
}

/** An engine error the query itself caused, as oql_invalid_query; null for anything else (a 500). */
function engineError(error: unknown, compiled: Statement): ApiError | null {
	if (!(error instanceof Error)) return null;
	const reason = (error.cause instanceof Error ? error.cause.message : error.message)
		.replace(/^SQLITE_[A-Z_]+: /, "")
		.trim();
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
				return JSON.parse(value) as Record<string, unknown>;
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
