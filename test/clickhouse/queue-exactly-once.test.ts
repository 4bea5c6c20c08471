/**
 * Exactly once into ClickHouse through the queue (docs/scale-out.md, "Delivery guarantees"): the
 * consumer's rows carry their message's id (clickhouse/migrations/0003_queue_message_ids.sql), so a
 * message whose rows were inserted but whose receipt never reached libSQL is, when delivered again
 * (in another grouping), found in ClickHouse and not inserted twice; one left partly inserted is
 * repaired to exactly its rows. Real parts: chdb behind the HTTP stand-in through
 * `@clickhouse/client`, an embedded libSQL database, messages made by the real producer code.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { DiscoveryMemory } from "../../src/ingest/discovery.js";
import { OtlpIngest } from "../../src/ingest/ingest.js";
import { consumeTelemetry, type QueueMessage } from "../../src/ingest/queue.js";
import { createOrg } from "../../src/services/api-keys.js";
import { clickHouseTelemetryStore } from "../../src/telemetry/clickhouse.js";
import { openTestDatabase, type TestDatabase } from "../support/node-app.js";
import { type ClickHouseForTests, startClickHouse } from "./support.js";

let clickhouse: ClickHouseForTests;
let libsql: TestDatabase;
let orgId = "";

beforeAll(async () => {
	clickhouse = await startClickHouse();
	libsql = await openTestDatabase();
	orgId = (await createOrg(libsql.db, systemClock, "Queue org")).id;
});

afterAll(async () => {
	await clickhouse?.close();
	libsql?.close();
});

function store() {
	return clickHouseTelemetryStore({
		db: libsql.db,
		client: clickhouse.client,
		settings: { url: clickhouse.server.url, username: "default", password: "", database: "default" },
	});
}

const DAY_NS = 86_400_000_000_000n;

/**
 * One export's queue messages as the Worker's producer makes them: logs and spans with the given
 * bodies / span names, spread over four days (so each table's INSERT writes several daily parts).
 */
async function queuedExport(texts: string[]): Promise<string[]> {
	const sent: string[] = [];
	const ingest = new OtlpIngest(
		{
			db: libsql.db,
			clock: systemClock,
			telemetry: store(),
			telemetryQueue: {
				async sendBatch(messages: Iterable<{ body: unknown }>) {
					for (const m of messages) sent.push(String(m.body));
				},
			},
		},
		16,
	);
	const now = BigInt(Date.now()) * 1_000_000n;
	const time = (i: number) => String(now - BigInt(i % 4) * DAY_NS - BigInt(i) * 1_000_000n);
	const resource = { attributes: [{ key: "service.name", value: { stringValue: "queue-svc" } }] };
	const logs = {
		resourceLogs: [
			{
				resource,
				scopeLogs: [
					{
						logRecords: texts.map((text, i) => ({ timeUnixNano: time(i), body: { stringValue: text } })),
					},
				],
			},
		],
	};
	const spans = {
		resourceSpans: [
			{
				resource,
				scopeSpans: [
					{
						spans: texts.map((text, i) => ({
							traceId: "0af7651916cd43dd8448eb211c80319c",
							spanId: (i + 1).toString(16).padStart(16, "0"),
							name: text,
							kind: 2,
							startTimeUnixNano: time(i),
							endTimeUnixNano: String(BigInt(time(i)) + 5_000_000n),
						})),
					},
				],
			},
		],
	};
	const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
	expect((await ingest.export(orgId, "logs", "json", encode(logs))).partial).toBeNull();
	expect((await ingest.export(orgId, "traces", "json", encode(spans))).partial).toBeNull();
	return sent;
}

/** Delivers bodies as one queue batch; counts acknowledgements and retries. */
async function deliver(bodies: string[]): Promise<{ acked: number; retried: number }> {
	const outcome = { acked: 0, retried: 0 };
	const messages: QueueMessage[] = bodies.map((body, i) => ({
		id: `delivery-${i}`,
		body,
		attempts: 1,
		ack: () => {
			outcome.acked++;
		},
		retry: () => {
			outcome.retried++;
		},
	}));
	await consumeTelemetry(
		{ queue: "hexcovery-telemetry", messages },
		{
			client: libsql.client,
			store: store(),
			clock: systemClock,
			discovery: new DiscoveryMemory(systemClock),
			log: () => {},
		},
	);
	return outcome;
}

/** Each stored text (log body or span name) with how many rows hold it. */
async function stored(table: "logs" | "spans", marker: string): Promise<Record<string, number>> {
	const column = table === "logs" ? "body" : "name";
	const result = await clickhouse.client.query({
		query: `SELECT ${column} AS text, count() AS n FROM ${table} WHERE org_id = {org:String} AND position(${column}, {marker:String}) > 0 GROUP BY text ORDER BY text`,
		format: "JSONEachRow",
		query_params: { org: orgId, marker },
	});
	const rows = await result.json<{ text: string; n: string | number }>();
	return Object.fromEntries(rows.map((row) => [row.text, Number(row.n)]));
}

const once = (texts: string[]) => Object.fromEntries(texts.map((text) => [text, 1]));

async function receiptsOf(bodies: string[]): Promise<number> {
	const ids = bodies.map((body) => (JSON.parse(body) as { id: string }).id);
	const result = await libsql.client.execute({
		sql: `SELECT count(*) AS n FROM queue_receipts WHERE message_id IN (${ids.map(() => "?").join(",")})`,
		args: ids,
	});
	return Number(result.rows[0]?.n);
}

describe("the queue consumer on ClickHouse: exactly once", () => {
	it("stores a batch whose receipts could not be written once, when delivered again in another grouping", async () => {
		const texts = Array.from({ length: 12 }, (_, i) => `receipts-down ${String(i).padStart(2, "0")}`);
		const bodies = await queuedExport(texts);
		const rowMessages = bodies.filter((body) => body.includes('"rows"'));
		expect(rowMessages.length).toBe(2); // one message of logs, one of spans
		// The receipts' write fails (a trigger raises): the rows are inserted, no receipt is written,
		// and nothing is acknowledged.
		await libsql.client.execute(
			"CREATE TRIGGER receipts_down BEFORE INSERT ON queue_receipts BEGIN SELECT RAISE(ABORT, 'receipts down'); END",
		);
		try {
			const first = await deliver(bodies);
			expect(first.acked).toBe(0);
			expect(first.retried).toBe(bodies.length);
		} finally {
			await libsql.client.execute("DROP TRIGGER receipts_down");
		}
		expect(await stored("logs", "receipts-down")).toEqual(once(texts));
		expect(await stored("spans", "receipts-down")).toEqual(once(texts));
		expect(await receiptsOf(bodies)).toBe(0);

		// Delivered again in another grouping (reversed, one at a time, then all with a copy): each
		// row is still stored once, and every message is acknowledged with its receipt.
		for (const body of [...bodies].reverse()) expect(await deliver([body])).toEqual({ acked: 1, retried: 0 });
		expect(await deliver([...bodies, ...bodies])).toEqual({ acked: bodies.length * 2, retried: 0 });
		expect(await stored("logs", "receipts-down")).toEqual(once(texts));
		expect(await stored("spans", "receipts-down")).toEqual(once(texts));
		expect(await receiptsOf(bodies)).toBe(bodies.length);
	});

	it("mixes held and new messages in one batch: the new ones are inserted, the held ones not again", async () => {
		const oldTexts = ["mixed old a", "mixed old b"];
		const newTexts = ["mixed new a", "mixed new b", "mixed new c"];
		const oldBodies = await queuedExport(oldTexts);
		const newBodies = await queuedExport(newTexts);
		await libsql.client.execute(
			"CREATE TRIGGER receipts_down BEFORE INSERT ON queue_receipts BEGIN SELECT RAISE(ABORT, 'receipts down'); END",
		);
		try {
			expect((await deliver(oldBodies)).acked).toBe(0);
		} finally {
			await libsql.client.execute("DROP TRIGGER receipts_down");
		}
		expect(await deliver([...newBodies, ...oldBodies])).toEqual({
			acked: newBodies.length + oldBodies.length,
			retried: 0,
		});
		expect(await stored("logs", "mixed")).toEqual(once([...oldTexts, ...newTexts]));
		expect(await stored("spans", "mixed")).toEqual(once([...oldTexts, ...newTexts]));
	});

	it("repairs a message left partly inserted (some of its daily parts written) to exactly its rows", async () => {
		const texts = Array.from({ length: 8 }, (_, i) => `partial ${i}`);
		const bodies = await queuedExport(texts);
		expect(await deliver(bodies)).toEqual({ acked: bodies.length, retried: 0 });
		// As if the INSERT had written some partitions' parts and failed on the others, before any
		// receipt: half the log rows gone, the receipts too.
		await clickhouse.client.command({
			query:
				"DELETE FROM logs WHERE org_id = {org:String} AND body IN ('partial 0', 'partial 2', 'partial 5')",
			query_params: { org: orgId },
		});
		const ids = bodies.map((body) => (JSON.parse(body) as { id: string }).id);
		await libsql.client.execute({
			sql: `DELETE FROM queue_receipts WHERE message_id IN (${ids.map(() => "?").join(",")})`,
			args: ids,
		});
		expect(Object.keys(await stored("logs", "partial")).length).toBe(5);
		expect(await deliver(bodies)).toEqual({ acked: bodies.length, retried: 0 });
		expect(await stored("logs", "partial")).toEqual(once(texts));
		expect(await stored("spans", "partial")).toEqual(once(texts));
	});

	it("stores two identical exports sent on purpose as different messages both", async () => {
		const texts = ["twice on purpose"];
		const first = await queuedExport(texts);
		const second = await queuedExport(texts);
		expect(first).not.toEqual(second); // different message ids, the same rows
		expect(await deliver([...first, ...second])).toEqual({
			acked: first.length + second.length,
			retried: 0,
		});
		expect(await deliver(second)).toEqual({ acked: second.length, retried: 0 });
		expect(await stored("logs", "twice on purpose")).toEqual({ "twice on purpose": 2 });
		expect(await stored("spans", "twice on purpose")).toEqual({ "twice on purpose": 2 });
	});
});
