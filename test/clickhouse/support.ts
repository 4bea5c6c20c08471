/**
 * The ClickHouse suite's parts: chdb (the real engine, scripts/clickhouse-engine.ts) behind the HTTP
 * stand-in (tools/clickhouse/server.ts) in a fresh data directory, reached through the official
 * `@clickhouse/client`, migrated with the repo's migrations; and the OQL golden data set loaded into
 * it and into a migrated embedded libSQL database — the same rows in both stores.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { logRows, metricRows, type OqlDatasetSpec, seedOqlDataset, spanRows } from "../../bench/oql-data.js";
import { loadChdb } from "../../scripts/clickhouse-engine.js";
import { migrateClickHouse } from "../../src/clickhouse/migrate.js";
import { readClickHouseMigrations } from "../../src/clickhouse/node.js";
import { attributeMap, insertTelemetry } from "../../src/clickhouse/rows.js";
import type { AppConfig } from "../../src/config.js";
import { directReadExecutor, HeavyReads } from "../../src/db/reads.js";
import { ApiError } from "../../src/errors.js";
import type { OqlResult } from "../../src/oql/execute.js";
import { type ClickHouseStandIn, serveClickHouse } from "../../tools/clickhouse/server.js";
import { openTestDatabase, type TestDatabase } from "../support/node-app.js";

/** The client logs failed requests itself; the tests assert on the errors instead. */
export const QUIET = { level: ClickHouseLogLevel.OFF };

/** Far past any data set's age, so that no TTL merge removes rows during a run. */
export const TEST_RETENTION_DAYS = 3_650;

export interface ClickHouseForTests {
	server: ClickHouseStandIn;
	client: ClickHouseClient;
	dir: string;
	close(): Promise<void>;
}

/** The stand-in over a fresh data directory, and a client of it; `migrate` applies the repo's schema. */
export async function startClickHouse(
	options: { migrate?: boolean; database?: string } = {},
): Promise<ClickHouseForTests> {
	const dir = mkdtempSync(join(tmpdir(), "hexcovery-clickhouse-"));
	const server = await serveClickHouse(loadChdb(), { path: dir });
	const client = createClient({
		url: server.url,
		log: QUIET,
		...(options.database ? { database: options.database } : {}),
	});
	if (options.migrate ?? true) await migrateClickHouse(client, readClickHouseMigrations());
	return {
		server,
		client,
		dir,
		async close() {
			await client.close();
			await server.close();
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

/** One data set in both stores. */
export interface BothStores {
	clickhouse: ClickHouseForTests;
	libsql: TestDatabase;
	/** runOql's dependencies over the libSQL database, with `now` fixed. */
	deps: {
		reads: HeavyReads;
		clock: { now: () => number };
		config: AppConfig;
	};
	close(): Promise<void>;
}

/** Loads each spec's logs, spans and metric points into libSQL (the existing seeding) and ClickHouse. */
export async function loadBothStores(specs: OqlDatasetSpec[], now: number): Promise<BothStores> {
	const clickhouse = await startClickHouse();
	const libsql = await openTestDatabase();
	for (const spec of specs) {
		await libsql.client.execute({
			sql: "INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)",
			args: [spec.orgId, spec.orgId, now],
		});
		await seedOqlDataset(libsql.client, { ...spec, pings: 0, annotations: 0 });
		const options = { retentionDays: TEST_RETENTION_DAYS };
		await insertTelemetry(clickhouse.client, "logs", logRows(spec), options);
		await insertTelemetry(clickhouse.client, "spans", spanRows(spec), options);
		await insertTelemetry(clickhouse.client, "metric_points", metricRows(spec), options);
	}
	return {
		clickhouse,
		libsql,
		deps: {
			reads: new HeavyReads(directReadExecutor(libsql.client)),
			clock: { now: () => now },
			config: { oql: { maxRangeDays: 31, timeoutMs: 60_000 } } as AppConfig,
		},
		async close() {
			await clickhouse.close();
			libsql.close();
		},
	};
}

/** An OQL answer, or the contract's error it gave. */
export type OqlOutcome = { ok: true; result: OqlResult } | { ok: false; code: string; status: number };

export async function oqlOutcome(run: () => Promise<OqlResult>): Promise<OqlOutcome> {
	try {
		return { ok: true, result: await run() };
	} catch (error) {
		if (error instanceof ApiError) return { ok: false, code: error.code, status: error.status };
		throw error;
	}
}

/**
 * A cell as the suites compare it across the stores: attribute values (type any) and maps as text
 * (ClickHouse keeps attribute values as text: docs/scale-out.md, "Where the answers differ").
 */
export function comparableCell(value: unknown, type: string): unknown {
	if (value === null || value === undefined) return null;
	if (type === "json" && typeof value === "object") return attributeMap(value);
	if (type === "any") return typeof value === "number" ? String(value) : value;
	return value;
}
