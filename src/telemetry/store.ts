import type { AppDeps } from "../app-env.js";
import type { Database } from "../db/client.js";
import type { IngestBatch } from "../ingest/batch.js";
import type { DiscoveryMemory } from "../ingest/discovery.js";
import { storeMessages, type TelemetryMessage } from "../ingest/queue.js";
import { sweepDiscoveryRetention, sweepTelemetryRetention } from "../ingest/retention.js";
import { libsqlClientOf, writeStatements } from "../ingest/writer.js";
import { type OqlResult, type RunOqlOptions, runOql } from "../oql/execute.js";
import type { ClickHouseSettings } from "./config.js";

/**
 * The telemetry store seam (docs/scale-out.md, "Configuration"): where logs, spans and metric
 * points are written, queried with OQL and expired. Two implementations, chosen by configuration:
 * libSQL (the app's own database; the default) and ClickHouse (TELEMETRY_URL;
 * src/telemetry/clickhouse.ts). Metadata — orgs, users, keys, monitors, dashboards, schema
 * discovery (attribute keys, metric names) and queue receipts — is in libSQL with either.
 */
export interface TelemetryStore {
	readonly kind: "libsql" | "clickhouse";
	/**
	 * Whether ingest computes rollups. libSQL: yes (the OQL planner and the pages read them);
	 * ClickHouse: no — its materialized views keep its own rollup tables
	 * (clickhouse/migrations/0004_rollups.sql), which the pages and the OQL planner read there.
	 */
	readonly rollups: boolean;
	/**
	 * Stores one decoded export (its rows collected, not streamed) with its schema discovery; resolves
	 * once the rows are durably stored. Throws what the store threw (the caller answers 503).
	 */
	writeExport(batch: IngestBatch, discovery: DiscoveryMemory, sourceBytes: number): Promise<void>;
	/**
	 * The queue consumer's write (src/ingest/queue.ts): messages not stored before (by their receipt
	 * in libSQL; on ClickHouse also by the message id on its rows), their rows, discovery and
	 * receipts — each message's rows exactly once.
	 */
	storeMessages(
		messages: TelemetryMessage[],
		discovery: DiscoveryMemory,
		nowMs: number,
	): Promise<{ stored: string[]; duplicates: string[] }>;
	/** Runs one OQL query for one org (`POST /api/v1/dsl`, saved queries, dashboard panels). */
	runOql(deps: OqlDeps, orgId: string, query: string, options?: RunOqlOptions): Promise<OqlResult>;
	/** Telemetry past each org's retention, and discovery entries not seen within it (the sweep). */
	sweepRetention(nowMs: number): Promise<number>;
	/**
	 * ClickHouse only: the client and settings, for readers beyond OQL (the pages, src/pages/**, are
	 * to read through it when telemetry is in ClickHouse).
	 */
	readonly clickhouse?: { client: TelemetryClickHouseClient; settings: ClickHouseSettings };
	close(): Promise<void>;
}

export type OqlDeps = Pick<AppDeps, "reads" | "clock" | "config">;

/**
 * What the store needs of a ClickHouse client: `@clickhouse/client` (Node) and
 * `@clickhouse/client-web` (Workers) both have it.
 */
export interface TelemetryClickHouseClient {
	query(params: {
		query: string;
		format: "JSONEachRow" | "JSONCompactEachRow" | "JSONCompactEachRowWithNamesAndTypes";
		query_params?: Record<string, unknown>;
		clickhouse_settings?: Record<string, string | number>;
		abort_signal?: AbortSignal;
	}): Promise<{ json<T>(): Promise<T[]> }>;
	command(params: {
		query: string;
		query_params?: Record<string, unknown>;
		clickhouse_settings?: Record<string, string | number>;
	}): Promise<unknown>;
	insert(params: {
		table: string;
		values: unknown[][];
		columns: [string, ...string[]];
		format: "JSONCompactEachRow";
		clickhouse_settings?: Record<string, string | number>;
	}): Promise<unknown>;
	close(): Promise<void>;
}

/** Today's store: telemetry in the app's libSQL database, as before the seam. */
export function libsqlTelemetryStore(db: Database): TelemetryStore {
	return {
		kind: "libsql",
		rollups: true,
		async writeExport(batch, discovery, sourceBytes) {
			const statements = batch.dataStatements();
			if (statements.length === 0) return;
			const plan = discovery.plan(batch.discovery);
			statements.push(...plan.statements);
			await writeStatements(libsqlClientOf(db), statements, sourceBytes);
			plan.commit();
		},
		storeMessages: (messages, discovery, nowMs) =>
			storeMessages(libsqlClientOf(db), discovery, messages, nowMs),
		runOql: (deps, orgId, query, options) => runOql(deps, orgId, query, options),
		async sweepRetention(nowMs) {
			const deleted = await sweepTelemetryRetention(db, nowMs);
			await sweepDiscoveryRetention(db, nowMs);
			return deleted;
		},
		async close() {},
	};
}

/** Runs OQL on the app's telemetry store: the one entry of the routes and dashboards. */
export function runTelemetryOql(
	deps: OqlDeps & Pick<AppDeps, "telemetry">,
	orgId: string,
	query: string,
	options?: RunOqlOptions,
): Promise<OqlResult> {
	return deps.telemetry.runOql(deps, orgId, query, options);
}
