/**
 * Direct writes on ClickHouse, coalesced (src/telemetry/clickhouse.ts, InsertCoalescer; the Node
 * runtime's store): many small exports at once go in few INSERTs — each export answered after the
 * INSERT that carried its rows, every row stored once — an export on an idle table goes at once,
 * an export ClickHouse refuses fails alone, an unreachable or overloaded ClickHouse fails every
 * export at once, and no INSERT carries more than its row limit. The real
 * engine (chdb behind the HTTP stand-in) through the real client; the client is wrapped only to
 * count the INSERTs it is asked for.
 */
import { createClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { OtlpIngest, StorageUnavailable } from "../../src/ingest/ingest.js";
import { createOrg } from "../../src/services/api-keys.js";
import { clickHouseTelemetryStore, InsertCoalescer } from "../../src/telemetry/clickhouse.js";
import type { TelemetryClickHouseClient } from "../../src/telemetry/store.js";
import { openTestDatabase, type TestDatabase } from "../support/node-app.js";
import { type ClickHouseForTests, QUIET, startClickHouse } from "./support.js";

let clickhouse: ClickHouseForTests;
let libsql: TestDatabase;
let orgId: string;

beforeAll(async () => {
	clickhouse = await startClickHouse();
	libsql = await openTestDatabase();
	orgId = (await createOrg(libsql.db, systemClock, "Coalescing")).id;
});
afterAll(async () => {
	await clickhouse.close();
	libsql.close();
});

/** The real client, counting the INSERTs (and their rows) it is asked for. */
function countingClient(client = clickhouse.client) {
	const inserts: { table: string; rows: number }[] = [];
	const counted = new Proxy(client, {
		get(target, property, receiver) {
			if (property === "insert")
				return (params: { table: string; values: unknown[] }) => {
					inserts.push({ table: params.table, rows: params.values.length });
					return target.insert(params as Parameters<typeof target.insert>[0]);
				};
			const value = Reflect.get(target, property, receiver);
			return typeof value === "function" ? value.bind(target) : value;
		},
	}) as unknown as TelemetryClickHouseClient;
	return { client: counted, inserts };
}

function ingestInto(client: TelemetryClickHouseClient, database = "default") {
	const store = clickHouseTelemetryStore({
		db: libsql.db,
		client,
		settings: { url: clickhouse.server.url, username: "default", password: "", database },
		coalesceInserts: true,
	});
	return new OtlpIngest({ db: libsql.db, clock: systemClock, telemetry: store }, 1_000);
}

/** A small OTLP/JSON logs export: `count` records whose bodies start with `marker`. */
function logsExport(marker: string, count: number): Uint8Array {
	const now = BigInt(Date.now()) * 1_000_000n;
	const logRecords = Array.from({ length: count }, (_, i) => ({
		timeUnixNano: String(now - BigInt(i) * 1_000_000n),
		body: { stringValue: `${marker} ${i}` },
	}));
	return new TextEncoder().encode(JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords }] }] }));
}

async function storedWith(marker: string): Promise<{ rows: number; distinct: number }> {
	const result = await clickhouse.client.query({
		query:
			"SELECT count() AS rows, uniqExact(body) AS distinct FROM logs WHERE org_id = {org:String} AND startsWith(body, {marker:String})",
		query_params: { org: orgId, marker: `${marker} ` },
		format: "JSONEachRow",
	});
	const [row] = await result.json<{ rows: string; distinct: string }>();
	return { rows: Number(row?.rows), distinct: Number(row?.distinct) };
}

describe("direct writes on ClickHouse, coalesced", () => {
	it("stores many small exports at once in a few INSERTs, every row once", async () => {
		const { client, inserts } = countingClient();
		const ingest = ingestInto(client);
		const exports = 40;
		const outcomes = await Promise.all(
			Array.from({ length: exports }, (_, n) =>
				ingest.export(orgId, "logs", "json", logsExport(`burst-${n}`, 3)),
			),
		);
		expect(outcomes.map((outcome) => outcome.partial)).toEqual(Array(exports).fill(null));
		for (let n = 0; n < exports; n++)
			expect(await storedWith(`burst-${n}`)).toEqual({ rows: 3, distinct: 3 });
		// One INSERT at a time: the first export alone, the others while it ran, together.
		expect(inserts.every((insert) => insert.table === "logs")).toBe(true);
		expect(inserts.reduce((n, insert) => n + insert.rows, 0)).toBe(exports * 3);
		expect(inserts.length).toBeLessThan(exports / 4);
	});

	it("sends an export on an idle table at once, alone", async () => {
		const { client, inserts } = countingClient();
		const ingest = ingestInto(client);
		for (let n = 0; n < 3; n++)
			expect((await ingest.export(orgId, "logs", "json", logsExport(`calm-${n}`, 2))).partial).toBeNull();
		expect(inserts).toEqual([
			{ table: "logs", rows: 2 },
			{ table: "logs", rows: 2 },
			{ table: "logs", rows: 2 },
		]);
		for (let n = 0; n < 3; n++) expect(await storedWith(`calm-${n}`)).toEqual({ rows: 2, distinct: 2 });
	});

	it("fails every export while ClickHouse cannot be reached (503), and acknowledges none of them", async () => {
		// A port nothing listens on: no INSERT reaches a server.
		const down = createClient({ url: "http://127.0.0.1:9", log: QUIET, request_timeout: 5_000 });
		const { client, inserts } = countingClient(down);
		const ingest = ingestInto(client);
		const settled = await Promise.allSettled(
			Array.from({ length: 10 }, (_, n) => ingest.export(orgId, "logs", "json", logsExport(`lost-${n}`, 2))),
		);
		expect(settled.map((s) => s.status)).toEqual(Array(10).fill("rejected"));
		for (const s of settled) expect((s as PromiseRejectedResult).reason).toBeInstanceOf(StorageUnavailable);
		// Not tried export by export: the first alone, then the others together.
		expect(inserts.length).toBe(2);
		for (let n = 0; n < 10; n++) expect(await storedWith(`lost-${n}`)).toEqual({ rows: 0, distinct: 0 });
		// The coalescer is not stuck after a failure: the next export on the same store is sent (and
		// fails again).
		await expect(ingest.export(orgId, "logs", "json", logsExport("lost-again", 1))).rejects.toBeInstanceOf(
			StorageUnavailable,
		);
		expect(inserts.length).toBe(3);
		await down.close();
	});

	it("fails only the export ClickHouse refuses; the others coalesced with it are stored", async () => {
		const sent: number[] = [];
		const coalescer = new InsertCoalescer<Record<string, unknown>>(async (table, rows) => {
			sent.push(rows.length);
			await clickhouse.client.insert({ table, values: rows, format: "JSONEachRow" });
		});
		const now = Date.now() * 1_000_000;
		const rowsOf = (marker: string, count: number, timestamp?: string) =>
			Array.from({ length: count }, (_, i) => ({
				org_id: orgId,
				timestamp: timestamp ?? String(now - i),
				observed_timestamp: String(now - i),
				body: `${marker} ${i}`,
			}));
		const settled = await Promise.allSettled([
			coalescer.write("logs", rowsOf("mixed-first", 2)),
			coalescer.write("logs", rowsOf("mixed-good", 3)),
			// Not a number: ClickHouse refuses the INSERT that carries it.
			coalescer.write("logs", rowsOf("mixed-bad", 1, "yesterday")),
			coalescer.write("logs", rowsOf("mixed-also-good", 2)),
		]);
		expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
		// The first alone; the three together, refused; then each alone.
		expect(sent).toEqual([2, 6, 3, 1, 2]);
		expect(await storedWith("mixed-good")).toEqual({ rows: 3, distinct: 3 });
		expect(await storedWith("mixed-also-good")).toEqual({ rows: 2, distinct: 2 });
		expect(await storedWith("mixed-bad")).toEqual({ rows: 0, distinct: 0 });
	});

	it("does not retry export by export when ClickHouse is overloaded (too many parts)", async () => {
		// A real TOO_MANY_PARTS: one part allowed, merges stopped.
		await clickhouse.client.command({
			query:
				"CREATE TABLE crowded (org_id String, timestamp Int64, body String) ENGINE = MergeTree ORDER BY timestamp SETTINGS parts_to_throw_insert = 1, parts_to_delay_insert = 1",
		});
		await clickhouse.client.command({ query: "SYSTEM STOP MERGES crowded" });
		const sent: number[] = [];
		const coalescer = new InsertCoalescer<Record<string, unknown>>(async (_table, rows) => {
			sent.push(rows.length);
			await clickhouse.client.insert({ table: "crowded", values: rows, format: "JSONEachRow" });
		});
		const row = (n: number) => [{ org_id: orgId, timestamp: n, body: `crowded ${n}` }];
		const settled = await Promise.allSettled([1, 2, 3, 4].map((n) => coalescer.write("logs", row(n))));
		expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "rejected", "rejected"]);
		expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ type: "TOO_MANY_PARTS" });
		// The first alone (the one part); the three together, refused, and not again one by one.
		expect(sent).toEqual([1, 3]);
	});

	it("keeps each INSERT within its row limit, whole exports only", async () => {
		const sizes: number[] = [];
		const coalescer = new InsertCoalescer<Record<string, unknown>>(async (table, rows) => {
			sizes.push(rows.length);
			await clickhouse.client.insert({ table, values: rows, format: "JSONEachRow" });
		}, 6);
		const now = Date.now() * 1_000_000;
		const rowsOf = (n: number, count: number) =>
			Array.from({ length: count }, (_, i) => ({
				org_id: orgId,
				timestamp: String(now - i),
				observed_timestamp: String(now - i),
				body: `limited-${n} ${i}`,
			}));
		await Promise.all([4, 2, 3, 3, 5, 1].map((count, n) => coalescer.write("logs", rowsOf(n, count))));
		// The first alone (4); then 2 + 3 (a third export would pass 6), 3, 5 + 1.
		expect(sizes).toEqual([4, 5, 3, 6]);
		for (const [n, count] of [4, 2, 3, 3, 5, 1].entries())
			expect(await storedWith(`limited-${n}`)).toEqual({ rows: count, distinct: count });
	});
});
