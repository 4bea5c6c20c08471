/**
 * OQL on ClickHouse keeps its deadline even when ClickHouse itself never answers: a server on
 * 127.0.0.1 that accepts the request and stays silent stands for a stalled ClickHouse. The real
 * `@clickhouse/client` is aborted at OQL_TIMEOUT_MS and the answer is 503 `query_timeout` with
 * Retry-After; one that refuses connections is 503 `storage_unavailable`. No engine needed.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppConfig } from "../../src/config.js";
import { isStorageFailure } from "../../src/db/errors.js";
import { directReadExecutor, HeavyReads } from "../../src/db/reads.js";
import { ApiError } from "../../src/errors.js";
import { runQuery } from "../../src/services/dashboards-oql.js";
import { clickHouseTelemetryStore, readClickHouse } from "../../src/telemetry/clickhouse.js";
import { openTestDatabase, type TestDatabase } from "../support/node-app.js";

let silent: Server;
let url: string;
let database: TestDatabase;

beforeAll(async () => {
	// Reads the request and never answers it.
	silent = createServer((request) => request.resume());
	await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
	url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
	database = await openTestDatabase();
});

afterAll(async () => {
	silent.closeAllConnections();
	await new Promise((resolve) => silent.close(resolve));
	database.close();
});

function depsFor(clickhouseUrl: string) {
	const client = createClient({ url: clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
	const telemetry = clickHouseTelemetryStore({
		db: database.db,
		client,
		settings: { url: clickhouseUrl, username: "default", password: "", database: "default" },
	});
	return {
		db: database.db,
		reads: new HeavyReads(directReadExecutor(database.client)),
		clock: { now: () => Date.now() },
		config: { oql: { maxRangeDays: 31, timeoutMs: 300 } } as AppConfig,
		telemetry,
	};
}

describe("OQL on ClickHouse: the deadline and an unreachable ClickHouse", () => {
	it("a ClickHouse that never answers: 503 query_timeout with Retry-After (dashboards' runQuery)", async () => {
		const deps = depsFor(url);
		const error = await runQuery(deps, "org_a", "SELECT count(*) FROM logs LAST 1h", {}).catch(
			(e: unknown) => e,
		);
		expect(error).toBeInstanceOf(ApiError);
		expect((error as ApiError).status).toBe(503);
		expect((error as ApiError).code).toBe("query_timeout");
		expect((error as ApiError).options.headers?.["Retry-After"]).toMatch(/^\d+$/);
		await deps.telemetry.close();
	});

	it("the pages' door (readClickHouse): the same deadline, limits and storage failures", async () => {
		const deps = depsFor(url);
		const timedOut = await readClickHouse(deps, "org_a", async (client, options) => {
			const result = await client.query({ query: "SELECT 1", format: "JSONEachRow", ...options });
			return result.json();
		}).catch((e: unknown) => e);
		expect((timedOut as ApiError).code).toBe("query_timeout");
		const refused = depsFor("http://127.0.0.1:9");
		const failed = await readClickHouse(refused, "org_a", async (client, options) =>
			(await client.query({ query: "SELECT 1", format: "JSONEachRow", ...options })).json(),
		).catch((e: unknown) => e);
		expect(isStorageFailure(failed)).toBe(true);
		// Not in ClickHouse: the door refuses rather than read libSQL's empty tables by mistake.
		await expect(
			readClickHouse(
				{ ...deps, telemetry: { ...deps.telemetry, clickhouse: undefined } },
				"org_a",
				async () => 1,
			),
		).rejects.toThrow(/TELEMETRY_URL is not set/);
		await deps.telemetry.close();
		await refused.telemetry.close();
	});

	it("a ClickHouse that refuses connections: a storage failure (503 storage_unavailable)", async () => {
		// Port 9 on loopback (discard): nothing listens there.
		const deps = depsFor("http://127.0.0.1:9");
		const error = await deps.telemetry
			.runOql(deps, "org_a", "SELECT count(*) FROM logs LAST 1h")
			.catch((e: unknown) => e);
		expect(error).not.toBeInstanceOf(ApiError);
		expect(isStorageFailure(error)).toBe(true);
		await deps.telemetry.close();
	});
});
