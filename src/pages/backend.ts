import type { InStatement, Row } from "@libsql/client";
import type { AppDeps } from "../app-env.js";
import { engineError, oqlClickHouseSettings, queryParamsOf } from "../clickhouse/oql.js";
import { clickhouseDialect } from "../oql/clickhouse-dialect.js";
import type { SqlDialect, SqlParam } from "../oql/dialect.js";
import { sqliteDialect } from "../oql/sqlite-dialect.js";
import { readClickHouseWith } from "../telemetry/clickhouse.js";
import type { TelemetryClickHouseClient } from "../telemetry/store.js";

/**
 * Where the pages' statements run (src/pages/store.ts builds them): a telemetry store and its SQL.
 *
 * - libSQL (`libsqlPageBackend`, the default): every statement of a page in one read batch through
 *   the heavy-read door (src/db/reads.ts), so the parts of a page share one snapshot; the rollup
 *   tables answer whole minutes and hours.
 * - ClickHouse (`clickHousePageBackend`): telemetry statements through an official client
 *   (`@clickhouse/client` on Node, `@clickhouse/client-web` on Workers) with every value a bound
 *   query parameter (`{p3:Int64}`); whole minutes and hours from ClickHouse's rollup tables (the
 *   same names and columns as libSQL's, kept by materialized views at insert:
 *   clickhouse/migrations/0004_rollups.sql), raw rows at the edges. Statements marked
 *   `metadataStatement` (monitors, attribute keys, metric names: metadata stays in libSQL) still
 *   go to libSQL.
 *
 * The page code is the same for both: names and values come from the dialect (`PageSql`).
 */

/** What a page reads of a result: rows by column name and by position (libSQL's `Row`). */
export interface PageResult {
	rows: Row[];
}

/** The SQL of one engine as the pages use it: the OQL dialect, and the few pieces OQL has no use for. */
export interface PageSql {
	readonly kind: "libsql" | "clickhouse";
	readonly dialect: SqlDialect;
	/**
	 * Whether the rollup tables answer whole minutes and hours (libSQL's, src/ingest/rollups.ts;
	 * ClickHouse's, kept by materialized views); else raw rows answer the whole window.
	 */
	readonly rollups: boolean;
	/**
	 * Whether span events (a JSON array per span) are expanded in SQL (SQLite's json_each); else
	 * the page reads the array with the span and expands it itself, to the same answer.
	 */
	readonly jsonEach: boolean;
	/** An integer as exact decimal text (nanoseconds exceed 2^53); NULL stays NULL. */
	text(valueSql: string): string;
	/** The distinct non-null values of a text column as a JSON array (an aggregate). */
	distinctJsonArray(valueSql: string): string;
	/**
	 * The latency-histogram bucket of a duration in ns (src/ingest/rollups.ts `histogramIndex`):
	 * `floor(log2(ns) * buckets per doubling) + 1`, 0 below 1 ns. null: the engine sends durations
	 * and the page buckets them (libSQL's raw edges are a few minutes of rows).
	 */
	histogramIndex: ((durationSql: string, bucketsPerDoubling: number) => string) | null;
	/**
	 * A latency rollup table's rows for `histogramRows` (src/pages/rollups.ts), columns `<keys>, k,
	 * n, d, h`, where `condition` holds: libSQL gives each row's histogram JSON as `h`, merged by the
	 * page; ClickHouse sums its `hist` Maps per key and bucket index in the engine (`k`, `n`): far
	 * fewer rows to send than one JSON per rollup row.
	 */
	latencyRollupRows(table: string, keys: string, condition: string): string;
}

export const LIBSQL_PAGE_SQL: PageSql = {
	kind: "libsql",
	dialect: sqliteDialect,
	rollups: true,
	jsonEach: true,
	text: (valueSql) => `CAST(${valueSql} AS TEXT)`,
	distinctJsonArray: (valueSql) => `json_group_array(DISTINCT ${valueSql})`,
	histogramIndex: null,
	latencyRollupRows: (table, keys, condition) =>
		`SELECT ${keys}, NULL AS k, NULL AS n, NULL AS d, hist AS h FROM ${table} WHERE ${condition}`,
};

export const CLICKHOUSE_PAGE_SQL: PageSql = {
	kind: "clickhouse",
	dialect: clickhouseDialect,
	// The rollup tables of clickhouse/migrations/0004_rollups.sql, kept by materialized views.
	rollups: true,
	jsonEach: false,
	// CAST(NULL AS String) is an error in ClickHouse; toString keeps a Nullable NULL.
	text: (valueSql) => `toString(${valueSql})`,
	// groupUniqArray skips NULLs, as json_group_array over `… IS NOT NULL` rows has none.
	distinctJsonArray: (valueSql) => `toJSONString(groupUniqArray(${valueSql}))`,
	// log2 of an integer below 2^53 is within an ulp of V8's: an integer ns is never within 1e-9 of
	// a bucket edge 2^(k/8) unless it is a power of two, where both are exact. Same buckets.
	histogramIndex: (durationSql, perDoubling) =>
		`if(${durationSql} < 1, 0, toInt64(floor(log2(${durationSql}) * ${perDoubling})) + 1)`,
	latencyRollupRows: (table, keys, condition) =>
		`SELECT ${keys}, toInt64(hk) AS k, sum(hn) AS n, NULL AS d, NULL AS h FROM ${table}` +
		` ARRAY JOIN mapKeys(hist) AS hk, mapValues(hist) AS hn WHERE ${condition} GROUP BY ${keys}, k`,
};

export interface PageBackend {
	readonly sql: PageSql;
	/** Runs a page's statements (metadata ones on libSQL); the results in the statements' order. */
	read(orgId: string, statements: InStatement[], timeoutMs: number): Promise<PageResult[]>;
}

const METADATA = new WeakSet<object>();
const isMetadata = (statement: InStatement) => typeof statement === "object" && METADATA.has(statement);

/** Marks a statement over libSQL metadata (monitors, attribute keys, metric names), not telemetry. */
export function metadataStatement(statement: Exclude<InStatement, string>): InStatement {
	METADATA.add(statement);
	return statement;
}

/** Today's pages: everything in one libSQL read batch, with the rollups. */
export function libsqlPageBackend(deps: Pick<AppDeps, "reads">): PageBackend {
	return {
		sql: LIBSQL_PAGE_SQL,
		read: (orgId, statements, timeoutMs) => deps.reads.read(orgId, statements, timeoutMs),
	};
}

/** What the pages need of a ClickHouse client (both official clients have it). */
export interface PageClickHouseClient {
	query(params: {
		query: string;
		format: "JSONCompactEachRowWithNamesAndTypes";
		query_params: Record<string, unknown>;
		clickhouse_settings: Record<string, string | number>;
		abort_signal?: AbortSignal;
	}): Promise<{ json<T>(): Promise<T[]> }>;
}

/**
 * The settings of every page statement on ClickHouse: OQL's; `UNION` means `UNION DISTINCT`, as in
 * SQL; and a column's name means the column where an alias has the same name (SQLite's reading of
 * `sum(n) AS n, sum(CASE … THEN n …)`; ClickHouse would read the alias, an aggregate in an aggregate).
 */
export function pageClickHouseSettings(timeoutMs: number): Record<string, string | number> {
	return {
		...oqlClickHouseSettings(timeoutMs),
		union_default_mode: "DISTINCT",
		prefer_column_name_to_alias: 1,
	};
}

/**
 * The pages over ClickHouse (clickhouse/migrations/): telemetry from `client`, metadata from libSQL
 * through `deps.reads`. The statements of a page run concurrently: ClickHouse has no snapshot
 * across statements, so parts of a page read while rows arrive may differ by those rows.
 */
export function clickHousePageBackend(
	client: PageClickHouseClient,
	deps: Pick<AppDeps, "reads" | "config">,
	options: { rollups?: boolean } = {},
): PageBackend {
	return {
		// `rollups: false`: raw rows for the whole window (the bench's comparison).
		sql: options.rollups === false ? { ...CLICKHOUSE_PAGE_SQL, rollups: false } : CLICKHOUSE_PAGE_SQL,
		async read(orgId, statements, timeoutMs) {
			const metadata = statements.filter(isMetadata);
			const telemetry = statements.filter((statement) => !isMetadata(statement));
			const metadataResults =
				metadata.length === 0 ? Promise.resolve([]) : deps.reads.read(orgId, metadata, timeoutMs);
			// Through the heavy-read door's slot (429 beyond the per-org and total limits), with the
			// deadline aborting every request (503 query_timeout) and any other engine failure a
			// storage failure (503 storage_unavailable).
			const telemetryResults =
				telemetry.length === 0
					? Promise.resolve([])
					: readClickHouseWith(client as TelemetryClickHouseClient, deps, orgId, (_, options) =>
							Promise.all(telemetry.map((statement) => selectRows(client, statement, timeoutMs, options))),
						);
			const [fromLibsql, fromClickHouse] = await Promise.all([metadataResults, telemetryResults]);
			let nextMetadata = 0;
			let nextTelemetry = 0;
			return statements.map((statement) =>
				isMetadata(statement)
					? (fromLibsql[nextMetadata++] as PageResult)
					: (fromClickHouse[nextTelemetry++] as PageResult),
			);
		},
	};
}

async function selectRows(
	client: PageClickHouseClient,
	statement: InStatement,
	timeoutMs: number,
	options: { clickhouse_settings: Record<string, string | number>; abort_signal: AbortSignal },
): Promise<PageResult> {
	const sql = typeof statement === "string" ? statement : statement.sql;
	const args = typeof statement === "string" || !Array.isArray(statement.args) ? [] : statement.args;
	let lines: unknown[][];
	try {
		const result = await client.query({
			query: sql,
			format: "JSONCompactEachRowWithNamesAndTypes",
			query_params: queryParamsOf(args as SqlParam[]),
			clickhouse_settings: { ...options.clickhouse_settings, ...pageClickHouseSettings(timeoutMs) },
			abort_signal: options.abort_signal,
		});
		lines = await result.json<unknown[]>();
	} catch (error) {
		throw engineError(error, false, timeoutMs) ?? error;
	}
	const [names = [], types = [], ...data] = lines;
	// Attribute maps arrive as JSON objects; the pages read them as the JSON text libSQL stores.
	const maps = new Set(types.flatMap((type, i) => (/^(Nullable\()?Map\(/.test(String(type)) ? [i] : [])));
	return {
		rows: data.map((cells) => {
			const row: Record<string | number, unknown> = { length: cells.length };
			cells.forEach((cell, i) => {
				const value = maps.has(i) && cell !== null ? JSON.stringify(cell) : cell;
				row[i] = value;
				row[String(names[i])] = value;
			});
			return row as unknown as Row;
		}),
	};
}
