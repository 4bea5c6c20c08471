import type { AppDeps } from "../app-env.js";
import { queryTimeout } from "../db/reads.js";
import { ApiError } from "../errors.js";
import { clickhouseDialect } from "../oql/clickhouse-dialect.js";
import type { CompiledQuery } from "../oql/compiler.js";
import type { SqlParam } from "../oql/dialect.js";
import {
	checkMatchWork,
	compileOql,
	histogramValueOf,
	type OqlResult,
	oqlSettingsOf,
	type RunOqlOptions,
	resultOf,
} from "../oql/execute.js";

/**
 * OQL over ClickHouse: the same text, checks, answers and error codes as `runOql` over libSQL
 * (src/oql/execute.ts), compiled by the ClickHouse dialect (src/oql/clickhouse-dialect.ts) and run
 * through an official client (`@clickhouse/client` on Node, `@clickhouse/client-web` on Workers)
 * with the values as query parameters. Aggregates the rollup planner accepts (src/oql/rollup-planner.ts,
 * docs/oql.md "Rollups") read ClickHouse's rollup tables — the same names and columns as libSQL's,
 * kept by materialized views (clickhouse/migrations/0004_rollups.sql) — with the raw rows at the
 * window's edges, as on libSQL; `meta.source` says which. `rollups: false` reads raw rows only.
 */

/** What the executor needs of a ClickHouse client (both official clients have it). */
export interface OqlClickHouseClient {
	query(params: {
		query: string;
		format: "JSONCompactEachRow";
		query_params: Record<string, unknown>;
		clickhouse_settings: Record<string, string | number>;
		abort_signal?: AbortSignal;
	}): Promise<{ json<T>(): Promise<T[]> }>;
}

/** The settings every OQL statement runs with (docs/scale-out.md, "ClickHouse"). */
export function oqlClickHouseSettings(timeoutMs: number): Record<string, string | number> {
	return {
		// sum/avg/min/max/quantiles over no rows are NULL, as in SQLite (not 0 or nan).
		aggregate_functions_null_for_empty: 1,
		// Counts and sums as JSON numbers (times are converted to float milliseconds already).
		output_format_json_quote_64bit_integers: 0,
		// A name in an expression is the column it names before an alias of the same name: the rollup
		// planner's series CTE sums `n` into `SUM(n) AS n` beside other sums of `n` (SQLite's rule;
		// ClickHouse otherwise reads those as SUM(SUM(n)) and refuses them).
		prefer_column_name_to_alias: 1,
		// The deadline, in the engine: it stops the statement (TIMEOUT_EXCEEDED → 503 query_timeout).
		max_execution_time: Math.max(1, Math.ceil(timeoutMs / 1000)),
	};
}

type Deps = Pick<AppDeps, "clock" | "config">;

/** Parses, checks and compiles for ClickHouse (ApiError 400 with the OQL codes), without running. */
export function compileOqlForClickHouse(
	deps: Deps,
	orgId: string,
	query: string,
	options: RunOqlOptions = {},
): CompiledQuery {
	return compileOql(deps, orgId, query, options, clickhouseDialect);
}

/** Runs one OQL query for one org on ClickHouse and shapes the answer as runOql does. */
export async function runOqlOnClickHouse(
	deps: Deps,
	client: OqlClickHouseClient,
	orgId: string,
	query: string,
	options?: RunOqlOptions,
): Promise<OqlResult> {
	const started = performance.now();
	const compiled = compileOqlForClickHouse(deps, orgId, query, options);
	const settings = oqlSettingsOf(deps);
	if (compiled.regexCost) {
		const [totals = []] = await select(client, compiled.regexCost, settings.timeoutMs, false);
		checkMatchWork(compiled.regexCost, totals, settings);
	}
	const rows = await select(client, compiled, settings.timeoutMs, compiled.regex);
	// Attribute maps arrive as JSON objects; the shaping reads `json` columns as JSON text.
	const jsonColumns = compiled.columns.flatMap((column, i) => (column.type === "json" ? [i] : []));
	// A rollup plan's percentiles arrive as the group's merged histogram (a JSON object).
	const histograms = compiled.columns.flatMap((column, i) =>
		column.histogramPercentile ? [{ i, percentile: column.histogramPercentile }] : [],
	);
	for (const row of rows) {
		for (const i of jsonColumns) {
			if (row[i] !== null && typeof row[i] === "object") row[i] = JSON.stringify(row[i]);
		}
		for (const { i, percentile } of histograms) row[i] = histogramValueOf(row[i], percentile);
	}
	return resultOf(compiled, rows, started);
}

/** `{p3:Type}` placeholders bind `param_p3`. */
export function queryParamsOf(params: readonly SqlParam[]): Record<string, unknown> {
	return Object.fromEntries(params.map((value, i) => [`p${i + 1}`, value]));
}

async function select(
	client: OqlClickHouseClient,
	statement: { sql: string; params: SqlParam[] },
	timeoutMs: number,
	regex: boolean,
): Promise<unknown[][]> {
	// The engine stops the statement at max_execution_time (whole seconds); the request is abandoned
	// at the deadline itself, so a slow network or a stalled server answers in time too.
	const deadline = AbortSignal.timeout(timeoutMs);
	try {
		const result = await client.query({
			query: statement.sql,
			format: "JSONCompactEachRow",
			query_params: queryParamsOf(statement.params),
			clickhouse_settings: oqlClickHouseSettings(timeoutMs),
			abort_signal: deadline,
		});
		return await result.json<unknown[]>();
	} catch (error) {
		if (deadline.aborted) throw queryTimeout(timeoutMs);
		throw engineError(error, regex, timeoutMs) ?? error;
	}
}

/**
 * ClickHouse errors the query itself caused, as the contract's codes; null for anything else (a
 * 500). ClickHouse is stricter about types than SQLite: an attribute (text) compared with a number
 * converts, but text against a number in other places, or a sum of text, is refused by the engine.
 */
export function engineError(error: unknown, regex: boolean, timeoutMs: number): ApiError | null {
	if (!(error instanceof Error)) return null;
	const type = (error as { type?: unknown }).type;
	if (typeof type !== "string") return null;
	switch (type) {
		case "TIMEOUT_EXCEEDED":
			return queryTimeout(timeoutMs);
		case "CANNOT_COMPILE_REGEXP":
			return new ApiError(
				400,
				"oql_invalid_query",
				"The MATCHES pattern cannot be used: RE2 cannot compile it.",
			);
		case "DECIMAL_OVERFLOW":
		case "ARGUMENT_OUT_OF_BOUND":
			return new ApiError(400, "oql_invalid_query", "A value is out of range; filter more or use avg().");
		case "NO_COMMON_TYPE":
		case "ILLEGAL_TYPE_OF_ARGUMENT":
		case "TYPE_MISMATCH":
		case "CANNOT_CONVERT_TYPE":
		case "CANNOT_PARSE_NUMBER":
		case "CANNOT_PARSE_TEXT":
			return new ApiError(
				400,
				"oql_invalid_query",
				"ClickHouse cannot compare or compute these values together: attribute values are text there; compare them with strings, or with numbers where they hold numbers.",
			);
		default:
			return regex && /regexp|re2/i.test(error.message)
				? new ApiError(400, "oql_invalid_query", "The MATCHES pattern cannot be used.")
				: null;
	}
}
