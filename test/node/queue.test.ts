/**
 * The queue path's runtime-independent parts on embedded libSQL (docs/scale-out.md): the message
 * format, the split of large rows, the dead-letter parking and `hexcovery queue dead-letters` /
 * `queue replay`, and receipt pruning. Miniflare's real queues: test/workers/queue.test.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli.js";
import { openMigratedDatabase } from "../../src/db/node.js";
import { ExportTooLarge } from "../../src/ingest/batch.js";
import { DiscoveryMemory } from "../../src/ingest/discovery.js";
import { OtlpIngest } from "../../src/ingest/ingest.js";
import {
	MESSAGE_LIMIT_BYTES,
	PoisonMessage,
	parkDeadLetters,
	parseMessage,
	pruneQueueReceipts,
	QUEUE_RECEIPT_TTL_MS,
	type QueueMessage,
	retryDelaySeconds,
	storeMessages,
} from "../../src/ingest/queue.js";
import { silentLog } from "../../src/log.js";
import { createOrg } from "../../src/services/api-keys.js";
import { FakeClock } from "../support/clock.js";
import { FIXTURE_NOW_MS, fixture } from "../support/otlp.js";

let dir: string;
let client: Client;
let orgId: string;
let ingest: OtlpIngest;
const sent: string[] = [];
const clock = new FakeClock(FIXTURE_NOW_MS);
const savedUrl = process.env.DATABASE_URL;

beforeAll(async () => {
	dir = mkdtempSync(join(tmpdir(), "hexcovery-queue-"));
	const url = `file:${join(dir, "queue.db")}`;
	const opened = await openMigratedDatabase(url);
	client = opened.client;
	orgId = (await createOrg(opened.db, clock, "Queue Co")).id;
	// The producer with a queue that keeps what it is sent (Node has no queue; the consumer here is real).
	const telemetryQueue = {
		async sendBatch(messages: Iterable<{ body: unknown }>) {
			for (const m of messages) sent.push(m.body as string);
		},
	};
	ingest = new OtlpIngest({ db: opened.db, clock, telemetryQueue }, 16);
	process.env.DATABASE_URL = url;
});
afterAll(() => {
	client.close();
	if (savedUrl === undefined) delete process.env.DATABASE_URL;
	else process.env.DATABASE_URL = savedUrl;
	rmSync(dir, { recursive: true, force: true });
});

async function exportMessages(body: unknown, signal: "logs" | "traces" = "logs") {
	const from = sent.length;
	const { partial: outcome } = await ingest.export(
		orgId,
		signal,
		"json",
		new TextEncoder().encode(JSON.stringify(body)),
	);
	return { outcome, messages: sent.slice(from) };
}

const countLogs = async () =>
	Number(
		(await client.execute({ sql: "SELECT count(*) AS n FROM logs WHERE org_id = ?", args: [orgId] })).rows[0]
			?.n,
	);

/** Messages of the dead-letter queue, their acks and retries recorded. */
function letters(bodies: unknown[]) {
	const outcome: Record<string, "ack" | number> = {};
	const messages: QueueMessage[] = bodies.map((body, i) => ({
		id: `dlq${i}`,
		body,
		attempts: 1,
		ack: () => {
			outcome[`dlq${i}`] = "ack";
		},
		retry: (options) => {
			outcome[`dlq${i}`] = options?.delaySeconds ?? 0;
		},
	}));
	return { batch: { queue: "hexcovery-telemetry-dlq", messages }, outcome };
}

async function cli(...args: string[]): Promise<string[]> {
	const lines: string[] = [];
	await runCli(args, (line) => lines.push(line));
	return lines;
}

describe("queue messages", () => {
	it("carry every value exactly: 64-bit integers, non-finite numbers, nulls and text", async () => {
		const { outcome, messages } = await exportMessages(fixture("trace"), "traces");
		expect(outcome).toBeNull();
		const parsed = messages.map(parseMessage);
		const spans = parsed.flatMap((m) => (m.table === "spans" ? m.rows : []));
		expect(spans.length).toBeGreaterThan(0);
		// timestamp: ns since the epoch, above 2^53, arrives as the same bigint.
		expect(typeof spans[0]?.[1]).toBe("bigint");
		expect((spans[0]?.[1] as bigint) > 2n ** 53n).toBe(true);
		expect(spans.every((row) => row[0] === orgId)).toBe(true);
		// Discovery rides along: the keys the export's attributes had.
		expect(parsed.some((m) => (m.discovery?.keys.size ?? 0) > 0)).toBe(true);
		const nonFinite = JSON.stringify({
			v: 1,
			id: "x:0",
			org: orgId,
			source: "metrics",
			part: 0,
			parts: 1,
			table: "metric_points",
			rows: [
				[
					orgId,
					{ b: "1544712660300000000" },
					null,
					"m",
					"gauge",
					null,
					null,
					null,
					{ f: "NaN" },
					...Array(15).fill(null),
				],
			],
		});
		const row = parseMessage(nonFinite).rows[0] as unknown[];
		expect(row[1]).toBe(1544712660300000000n);
		expect(row[8]).toBeNaN();
	});

	it("refuse what this version cannot store, as poison", () => {
		const valid = { v: 1, id: "e:0", org: orgId, source: "logs", part: 0, parts: 1, table: "logs", rows: [] };
		const cases: [unknown, string][] = [
			["{", "the body is not JSON"],
			[JSON.stringify({ ...valid, v: 2 }), "unknown message version 2"],
			[JSON.stringify({ ...valid, table: "users" }), "unknown table"],
			[JSON.stringify({ ...valid, rows: [[orgId]] }), "a row is not 17 values"],
			[JSON.stringify({ ...valid, rows: [["org_other", ...Array(16).fill(null)]] }), "a row of another org"],
			[
				JSON.stringify({ ...valid, rows: [[orgId, ...Array(15).fill(null), { x: 1 }]] }),
				"a value that is not a string, number or null",
			],
			[
				JSON.stringify({ ...valid, rows: [[orgId, { b: "1.5" }, ...Array(15).fill(null)]] }),
				"a value that is not a string, number or null",
			],
			[
				JSON.stringify({ ...valid, rows: [[orgId, { f: "1" }, ...Array(15).fill(null)]] }),
				"a value that is not a string, number or null",
			],
			[42, "the body is not JSON text"],
			// Pointers to a body spilled to R2: version 2, their own key only, no rows of their own.
			[
				JSON.stringify({ ...valid, rows: undefined, spill: "telemetry-spill/e:0" }),
				"a spill pointer of version 1",
			],
			[
				JSON.stringify({ ...valid, v: 2, rows: undefined, spill: "telemetry-spill/other:0" }),
				"a spill key that is not the message's own",
			],
			[JSON.stringify({ ...valid, v: 2, spill: "telemetry-spill/e:0" }), "a spill pointer with rows"],
		];
		for (const [body, reason] of cases) {
			expect(() => parseMessage(body), reason).toThrow(PoisonMessage);
			expect(() => parseMessage(body), reason).toThrow(reason);
		}
	});

	it("split a large export below the message limit; a row that cannot fit alone is rejected (partial success)", async () => {
		const logs = fixture("logs") as {
			resourceLogs: { scopeLogs: { logRecords: Record<string, unknown>[] }[] }[];
		};
		const records = logs.resourceLogs[0]?.scopeLogs[0]?.logRecords as Record<string, unknown>[];
		const template = records[0] as Record<string, unknown>;
		records.length = 0;
		for (let i = 0; i < 2_000; i++)
			records.push({ ...template, body: { stringValue: `${i} ${"y".repeat(200)}` } });
		records.push({ ...template, body: { stringValue: "z".repeat(MESSAGE_LIMIT_BYTES) } });
		const { outcome, messages } = await exportMessages(logs);
		expect(outcome?.rejected).toBe(1);
		expect(outcome?.message).toMatch(
			/^Rejected 1 of 2001 log records: 1 larger than a queue message \(128 KB\)/,
		);
		expect(messages.length).toBeGreaterThan(3);
		for (const m of messages) expect(Buffer.byteLength(m)).toBeLessThan(MESSAGE_LIMIT_BYTES);
		const parsed = messages.map(parseMessage);
		expect(parsed.reduce((n, m) => n + m.rows.length, 0)).toBe(2_000);
		expect(new Set(parsed.map((m) => m.id)).size).toBe(messages.length);
	});

	it("an export over its stored-size limit is refused (413) before anything is sent to the queue", async () => {
		const limited = new OtlpIngest({ ...ingest.deps }, 16, undefined, 100_000);
		const records = Array.from({ length: 50 }, (_, i) => ({
			timeUnixNano: `${BigInt(clock.now()) * 1_000_000n}`,
			body: { stringValue: `record ${i}` },
		}));
		const body = {
			resourceLogs: [
				{
					resource: { attributes: [{ key: "blob", value: { stringValue: "r".repeat(5_000) } }] },
					scopeLogs: [{ logRecords: records }],
				},
			],
		};
		const from = sent.length;
		const error = await limited
			.export(orgId, "logs", "json", new TextEncoder().encode(JSON.stringify(body)))
			.catch((e: unknown) => e);
		expect(error).toBeInstanceOf(ExportTooLarge);
		expect((error as ExportTooLarge).status).toBe(413);
		expect(sent.length).toBe(from);
	});

	it("retry with doubling backoff, at most five minutes", () => {
		expect([1, 2, 3, 4, 7, 8, 100].map((n) => retryDelaySeconds(n))).toEqual([5, 10, 20, 40, 300, 300, 300]);
		expect(retryDelaySeconds(3, 0)).toBe(0);
	});
});

describe("dead letters and replay", () => {
	it("parked with their reason, listed by the CLI, replayed into the store once", async () => {
		const before = await countLogs();
		const { messages } = await exportMessages(fixture("logs"));
		const storedRows = messages.map(parseMessage).reduce((n, m) => n + m.rows.length, 0);
		const { batch, outcome } = letters([...messages, "{broken", messages[0]]);
		await parkDeadLetters(batch, { client, clock, log: silentLog });
		expect(Object.values(outcome)).toEqual(batch.messages.map(() => "ack"));

		const listed = await cli("queue", "dead-letters");
		// The repeated message is parked once; the broken one under its queue message id.
		expect(listed).toHaveLength(messages.length + 1);
		const ids = messages.map((m) => parseMessage(m).id);
		for (const id of ids) {
			expect(listed.find((line) => line.startsWith(`${id} `))).toMatch(
				new RegExp(`^${id} ${orgId} \\S+Z \\d+ not stored within the queue's retries$`),
			);
		}
		expect(listed).toContainEqual(
			expect.stringMatching(/^queue:dlq\d+ - \S+Z 7 malformed: the body is not JSON$/),
		);

		// Replaying everything: the good ones are stored; the broken one fails and stays parked.
		await expect(cli("queue", "replay", "--all")).rejects.toThrow("1 not replayed");
		expect(await countLogs()).toBe(before + storedRows);
		const left = await cli("queue", "dead-letters");
		expect(left).toHaveLength(1);
		expect(left[0]).toMatch(/^queue:dlq\d+ /);

		// Parked again (delivered twice) and replayed: its receipt says it is stored, so it is not stored twice.
		const again = letters([messages[messages.length - 1]]);
		await parkDeadLetters(again.batch, { client, clock, log: silentLog });
		const lastId = ids[ids.length - 1] as string;
		expect(await cli("queue", "replay", lastId)).toEqual([`${lastId} duplicate`]);
		expect(await countLogs()).toBe(before + storedRows);
		await expect(cli("queue", "replay", "nope:0")).rejects.toThrow("1 not replayed");
		await expect(cli("queue", "replay")).rejects.toThrow("name the messages to replay, or --all");
	});

	it("replays a backlog a page at a time, every letter once, and any number of named messages", async () => {
		// 250 that cannot be stored: read in pages of 100, each tried once, all left parked.
		const { batch } = letters(Array.from({ length: 250 }, (_, i) => `{broken ${i}`));
		await parkDeadLetters(batch, { client, clock, log: silentLog });
		const lines: string[] = [];
		await expect(runCli(["queue", "replay", "--all"], (line) => lines.push(line))).rejects.toThrow(
			"250 not replayed",
		);
		expect(new Set(lines.filter((l) => / failed/.test(l)).map((l) => l.split(" ")[0])).size).toBe(250);
		const parked = await client.execute("SELECT count(*) AS n FROM queue_dead_letters");
		expect(Number(parked.rows[0]?.n)).toBe(250);
		// More names than SQLite binds in one statement (32,766): read in chunks (it failed whole).
		const names = Array.from({ length: 40_000 }, (_, i) => `missing:${i}`);
		await expect(cli("queue", "replay", ...names)).rejects.toThrow("40000 not replayed");
	});

	it("a parked pointer whose body was missing from R2 fails to replay and stays parked (no receipt)", async () => {
		const pointer = JSON.stringify({
			v: 2,
			id: "spilled-export:3",
			org: orgId,
			source: "logs",
			part: 3,
			parts: 4,
			spill: "telemetry-spill/spilled-export:3",
			bytes: 300_000,
		});
		expect(parseMessage(pointer).spill).toBe("telemetry-spill/spilled-export:3");
		// No bucket here (Node): parked as the pointer, with the reason.
		const { batch, outcome } = letters([pointer]);
		await parkDeadLetters(batch, { client, clock, log: silentLog });
		expect(Object.values(outcome)).toEqual(["ack"]);
		const listed = await cli("queue", "dead-letters");
		expect(listed.find((line) => line.startsWith("spilled-export:3 "))).toMatch(
			/ a spilled body, but no TELEMETRY_SPILL binding$/,
		);
		await expect(cli("queue", "replay", "spilled-export:3")).rejects.toThrow("1 not replayed");
		expect(await cli("queue", "dead-letters")).toContainEqual(expect.stringMatching(/^spilled-export:3 /));
		const receipt = await client.execute({
			sql: "SELECT count(*) AS n FROM queue_receipts WHERE message_id = ?",
			args: ["spilled-export:3"],
		});
		expect(Number(receipt.rows[0]?.n)).toBe(0);
	});

	it("a database that cannot take the letters has them retried", async () => {
		const { batch, outcome } = letters(["{}"]);
		const closed = (await openMigratedDatabase(`file:${join(dir, "closed.db")}`)).client;
		closed.close();
		await parkDeadLetters(batch, { client: closed, clock, log: silentLog, retryBaseSeconds: 5 });
		expect(outcome).toEqual({ dlq0: 5 });
	});
});

describe("receipts", () => {
	it("make a redelivered message a duplicate, and are pruned after their TTL", async () => {
		const { messages } = await exportMessages(fixture("logs"));
		const parsed = messages.map(parseMessage);
		const memory = new DiscoveryMemory(clock);
		const first = await storeMessages(client, memory, parsed, clock.now());
		expect(first.stored).toHaveLength(parsed.length);
		const again = await storeMessages(client, memory, parsed, clock.now());
		expect(again).toEqual({ stored: [], duplicates: expect.arrayContaining(parsed.map((m) => m.id)) });
		const receipts = async () =>
			Number(
				(
					await client.execute({
						sql: `SELECT count(*) AS n FROM queue_receipts WHERE message_id IN (${parsed.map(() => "?").join(",")})`,
						args: parsed.map((m) => m.id),
					})
				).rows[0]?.n,
			);
		expect(await pruneQueueReceipts(client, clock.now() + QUEUE_RECEIPT_TTL_MS - 1)).toBe(0);
		expect(await receipts()).toBe(parsed.length);
		expect(await pruneQueueReceipts(client, clock.now() + QUEUE_RECEIPT_TTL_MS + 1)).toBeGreaterThanOrEqual(
			parsed.length,
		);
		expect(await receipts()).toBe(0);
	});
});
