import { ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { migrateClickHouse } from "../clickhouse/migrate.js";
import { readClickHouseMigrations } from "../clickhouse/node.js";
import { ConfigError } from "../config.js";
import type { Database } from "../db/client.js";
import { clickHouseTelemetryStore } from "./clickhouse.js";
import type { ClickHouseSettings } from "./config.js";
import type { TelemetryStore } from "./store.js";

/**
 * The Node runtime's ClickHouse telemetry store: `@clickhouse/client` on TELEMETRY_URL, the repo's
 * ClickHouse migrations applied at start (clickhouse/migrations; run one server's start at a time).
 * A ClickHouse that does not answer, refuses the credentials or the migrations stops the start with
 * a ConfigError naming TELEMETRY_URL (and its origin, never the password).
 */
export async function openClickHouseTelemetry(
	db: Database,
	settings: ClickHouseSettings,
	options: { oqlTimeoutMs: number },
): Promise<TelemetryStore> {
	const client = createClient({
		url: settings.url,
		username: settings.username,
		password: settings.password,
		database: settings.database,
		// A query's own deadline is OQL_TIMEOUT_MS (max_execution_time and an abort); inserts get 30 s.
		request_timeout: Math.max(30_000, options.oqlTimeoutMs + 5_000),
		// Failures reach the app as errors (503 storage_unavailable); the client need not log them too.
		log: { level: ClickHouseLogLevel.OFF },
	});
	try {
		await migrateClickHouse(client, readClickHouseMigrations());
	} catch (error) {
		await client.close();
		const reason = error instanceof Error ? error.message.split("\n")[0]?.slice(0, 200) : String(error);
		throw new ConfigError(
			"TELEMETRY_URL",
			"invalid",
			`ClickHouse at ${settings.url} (database ${settings.database}, user ${settings.username}) could not be migrated: ${reason}`,
		);
	}
	return clickHouseTelemetryStore({ db, client, settings, coalesceInserts: true });
}
