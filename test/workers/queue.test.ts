/**
 * Cloudflare Queues between edge ingest and storage (docs/scale-out.md), on Miniflare's real queues:
 * the producer binding QUEUED_TELEMETRY (vitest.config.ts) is bound as TELEMETRY_QUEUE for these
 * tests only, and the Worker's own queue() handler consumes the queue and its dead-letter queue.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createClient } from "@libsql/client/web";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app.js";
import { ConfigError } from "../../src/config.js";
import {
	MESSAGE_LIMIT_BYTES,
	SEND_BATCH_BYTES,
	SEND_BATCH_MESSAGES,
	shardOf,
} from "../../src/ingest/queue.js";
import worker, { buildWorkerDeps, telemetryQueuesFrom, type WorkerEnv } from "../../src/runtime/worker.js";
import logsFixture from "../fixtures/otlp/logs.json";
import metricsFixture from "../fixtures/otlp/metrics.json";
import traceFixture from "../fixtures/otlp/trace.json";
import { encodeOtlp } from "../support/otlp-protobuf.js";
import { db, nowNs, ORIGIN, orgWithKey, recent, workerFetch } from "./support.js";

const workerEnv = env as unknown as WorkerEnv;
/** The stand-in that can fail (test/support/edge-database.ts). */
const FAULTY_DATABASE_URL = "http://libsql-faults.test";
const MiB = 1024 * 1024;
/** The same database, keeping 64-bit integers exact (ns timestamps exceed 2^53). */
const exact = createClient({ url: env.DATABASE_URL, intMode: "bigint" });

/** What the producer sent: every sendBatch call's message bodies. */
interface Sent {
	calls: string[][];
}

/** The real queue binding, with every call recorded (and checked against Cloudflare's limits). */
function recordingQueue(sent: Sent, forward = true): WorkerEnv["TELEMETRY_QUEUE"] {
	return {
		async sendBatch(messages) {
			const list = [...messages];
			sent.calls.push(list.map((m) => m.body as string));
			if (forward) await env.QUEUED_TELEMETRY.sendBatch(list as MessageSendRequest<string>[]);
		},
	};
}

/**
 * The Worker's app as src/runtime/worker.ts builds it, with a telemetry queue bound (and the R2
 * spill, TELEMETRY_SPILL, unless `over` takes it away).
 */
function queuedApp(sent: Sent, forward = true, over: Partial<WorkerEnv> = {}) {
	const app = createApp(
		buildWorkerDeps({ ...workerEnv, TELEMETRY_QUEUE: recordingQueue(sent, forward), ...over }),
	);
	return (path: string, init: RequestInit) => app.fetch(new Request(ORIGIN + path, init), env);
}

const count = async (table: string, orgId: string) =>
	(await db.all<{ n: number }>(sql.raw(`SELECT count(*) AS n FROM ${table} WHERE org_id = '${orgId}'`)))[0]
		?.n;

/** Every row of an org's table without its id and org: comparable across orgs. */
async function contentOf(table: string, orgId: string, orderBy: string) {
	const result = await exact.execute({
		sql: `SELECT * FROM ${table} WHERE org_id = ? ORDER BY ${orderBy}`,
		args: [orgId],
	});
	return result.rows.map((row) => {
		const { id: _id, org_id: _org, ...rest } = Object.fromEntries(result.columns.map((c) => [c, row[c]]));
		return rest;
	});
}

const ROLLUPS = [
	["span_rollups_1m", "bucket, service, name"],
	["span_latency_1h", "bucket, service, name"],
	["log_rollups_1m", "bucket, service, level"],
	["metric_rollups_1h", "bucket, service, metric_name"],
] as const;

/** A log body of about `bytes` UTF-8 bytes, with quotes, backslashes and non-ASCII text in it. */
function largeText(bytes: number): string {
	const pieces: string[] = [];
	let size = 0;
	for (let i = 0; size < bytes; i++) {
		const piece = `${i.toString(36)} "é\\ ✓ `;
		pieces.push(piece);
		size += new TextEncoder().encode(piece).byteLength;
	}
	return pieces.join("");
}

/** One log record with `text` as its body, as an OTLP/HTTP JSON export. */
function oneLog(text: string): string {
	return JSON.stringify({
		resourceLogs: [
			{
				resource: { attributes: [{ key: "service.name", value: { stringValue: "spill" } }] },
				scopeLogs: [
					{
						logRecords: [
							{
								timeUnixNano: String(nowNs() - 1_000_000_000n),
								severityNumber: 9,
								body: { stringValue: text },
							},
							{
								timeUnixNano: String(nowNs() - 2_000_000_000n),
								severityNumber: 9,
								body: { stringValue: "small" },
							},
						],
					},
				],
			},
		],
	});
}

/** The one pointer message (to a body spilled to R2) among an export's messages. */
function pointerIn(bodies: string[]): string {
	const pointers = bodies.filter((body) => (JSON.parse(body) as { spill?: string }).spill);
	expect(pointers).toHaveLength(1);
	return pointers[0] as string;
}

/** The logs' bodies of an org, exact (as stored). */
const bodiesOf = async (orgId: string) =>
	(
		await exact.execute({ sql: "SELECT body FROM logs WHERE org_id = ? ORDER BY body", args: [orgId] })
	).rows.map((row) => row.body);

const waitFor = <T>(check: () => Promise<T>) => vi.waitFor(check, { timeout: 60_000, interval: 100 });

const fault = async (mode: "running" | "stopped") => {
	expect((await fetch(`${FAULTY_DATABASE_URL}/__fault/${mode}`, { method: "POST" })).status).toBe(204);
};
afterAll(() => fault("running"));

const SIGNALS = [
	{
		path: "/v1/traces",
		message: "TraceRequest",
		fixture: traceFixture,
		table: "spans",
		order: "timestamp, span_id",
	},
	{ path: "/v1/logs", message: "LogsRequest", fixture: logsFixture, table: "logs", order: "timestamp, body" },
	{
		path: "/v1/metrics",
		message: "MetricsRequest",
		fixture: metricsFixture,
		table: "metric_points",
		order: "metric_name, timestamp, attributes",
	},
] as const;

describe("OTLP through the queue", () => {
	it("every signal, protobuf and JSON: answered once enqueued; the consumer stores what the direct path stores", async () => {
		const queued = await orgWithKey("Queued");
		const direct = await orgWithKey("Direct");
		const sent: Sent = { calls: [] };
		const call = queuedApp(sent);
		for (const signal of SIGNALS) {
			const request = recent(signal.fixture);
			const bodies = [
				["application/x-protobuf", encodeOtlp(signal.message, request)],
				["application/json", JSON.stringify(request)],
			] as const;
			for (const [type, body] of bodies) {
				const viaQueue = await call(signal.path, {
					method: "POST",
					headers: { "X-API-Key": queued.key, "Content-Type": type },
					body,
				});
				const viaDirect = await workerFetch(signal.path, {
					method: "POST",
					headers: { "X-API-Key": direct.key, "Content-Type": type },
					body,
				});
				expect(viaQueue.status).toBe(200);
				expect(await viaQueue.arrayBuffer()).toEqual(await viaDirect.arrayBuffer());
			}
		}
		expect(sent.calls.length).toBeGreaterThanOrEqual(6);
		const messages = sent.calls.flat();
		for (const signal of SIGNALS) {
			const expected = await count(signal.table, direct.orgId);
			expect(expected).toBeGreaterThan(0);
			await waitFor(async () => expect(await count(signal.table, queued.orgId)).toBe(expected));
			expect(await contentOf(signal.table, queued.orgId, signal.order)).toEqual(
				await contentOf(signal.table, direct.orgId, signal.order),
			);
		}
		// Rollups and discovery as the direct path writes them; one receipt per message.
		for (const [table, order] of ROLLUPS) {
			const expected = await contentOf(table, direct.orgId, order);
			expect(expected.length, table).toBeGreaterThan(0);
			await waitFor(async () => expect(await contentOf(table, queued.orgId, order)).toEqual(expected));
		}
		const keys = (orgId: string) =>
			db.all(sql`SELECT source, namespace, key, value_types, examples FROM attribute_keys
				WHERE org_id = ${orgId} ORDER BY source, namespace, key`);
		expect((await keys(direct.orgId)).length).toBeGreaterThan(0);
		expect(await keys(queued.orgId)).toEqual(await keys(direct.orgId));
		const ids = messages.map((body) => (JSON.parse(body) as { id: string }).id);
		const receipts = await db.all<{ n: number }>(
			sql`SELECT count(*) AS n FROM queue_receipts WHERE message_id IN ${ids}`,
		);
		expect(receipts[0]?.n).toBe(ids.length);
	});

	it("bad input is answered at once and enqueues nothing, nor do heartbeats; rejected items are left out", async () => {
		const { orgId, key } = await orgWithKey("Queued bad input");
		const sent: Sent = { calls: [] };
		const call = queuedApp(sent);
		const bad = await call("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: "{not json",
		});
		expect(bad.status).toBe(400);
		expect(sent.calls).toEqual([]);
		// Heartbeats stay synchronous: the answer carries the monitor's state, stored at once.
		const ping = await call("/api/v1/heartbeat/queued-nightly", {
			method: "POST",
			headers: { "X-API-Key": key },
		});
		expect(ping.status).toBe(201);
		expect(((await ping.json()) as { monitor: { status: string } }).monitor.status).toBe("up");
		expect(sent.calls).toEqual([]);

		const request = recent(logsFixture) as {
			resourceLogs: { scopeLogs: { logRecords: { traceId?: string }[] }[] }[];
		};
		const records = request.resourceLogs[0]?.scopeLogs[0]?.logRecords ?? [];
		const valid = records.length;
		records.push({ ...(records[0] as object), traceId: "00" });
		const partial = await call("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: JSON.stringify(request),
		});
		expect(partial.status).toBe(200);
		const answer = (await partial.json()) as { partialSuccess?: { rejectedLogRecords?: string } };
		expect(answer.partialSuccess?.rejectedLogRecords).toBe("1");
		await waitFor(async () => expect(await count("logs", orgId)).toBe(valid));
	});

	it("acknowledged = stored: concurrent exports, once the consumer drains, are all stored exactly once", async () => {
		const { orgId, key } = await orgWithKey("Queued many");
		const sent: Sent = { calls: [] };
		const call = queuedApp(sent);
		const request = recent(logsFixture);
		const perExport = request.resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords)).length;
		// 30 exports, 10 at a time (under the org's limit of requests in flight).
		const answers: Response[] = [];
		for (let round = 0; round < 3; round++) {
			const exports = Array.from({ length: 10 }, () =>
				call("/v1/logs", {
					method: "POST",
					headers: { "X-API-Key": key, "Content-Type": "application/x-protobuf" },
					body: encodeOtlp("LogsRequest", request),
				}),
			);
			answers.push(...(await Promise.all(exports)));
		}
		expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
		await waitFor(async () => expect(await count("logs", orgId)).toBe(30 * perExport));
		const rollup = await db.all<{ n: number }>(
			sql`SELECT sum(count) AS n FROM log_rollups_1m WHERE org_id = ${orgId}`,
		);
		expect(rollup[0]?.n).toBe(30 * perExport);
		// Each message's receipt: none stored twice, none missing.
		const ids = sent.calls.flat().map((body) => (JSON.parse(body) as { id: string }).id);
		expect(new Set(ids).size).toBe(ids.length);
		expect(ids.length).toBeGreaterThanOrEqual(30);
		const receipts = await db.all<{ n: number }>(
			sql`SELECT count(*) AS n FROM queue_receipts WHERE message_id IN ${ids}`,
		);
		expect(receipts[0]?.n).toBe(ids.length);
	});

	it("a 16 MiB export is split into messages within the limits and stored whole", async () => {
		const { orgId, key } = await orgWithKey("Queued large");
		const sent: Sent = { calls: [] };
		const call = queuedApp(sent);
		const base = nowNs() - 60_000_000_000n;
		const logRecords = [];
		const filler = "x".repeat(300);
		let size = 0;
		for (let i = 0; size < 16 * MiB - 2_000; i++) {
			const record = {
				timeUnixNano: String(base + BigInt(i)),
				severityNumber: 9,
				body: { stringValue: `line ${i} ${filler}` },
				attributes: [{ key: "n", value: { intValue: String(i) } }],
			};
			size += JSON.stringify(record).length + 1;
			logRecords.push(record);
		}
		logRecords.pop();
		const body = JSON.stringify({
			resourceLogs: [
				{
					resource: { attributes: [{ key: "service.name", value: { stringValue: "bulk" } }] },
					scopeLogs: [{ logRecords }],
				},
			],
		});
		expect(body.length).toBeGreaterThan(15.9 * MiB);
		expect(body.length).toBeLessThanOrEqual(16 * MiB);
		const answer = await call("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body,
		});
		expect(answer.status, await answer.clone().text()).toBe(200);
		const messages = sent.calls.flat();
		expect(messages.length).toBeGreaterThan(100);
		for (const message of messages)
			expect(new TextEncoder().encode(message).byteLength).toBeLessThan(MESSAGE_LIMIT_BYTES);
		for (const callBodies of sent.calls) {
			expect(callBodies.length).toBeLessThanOrEqual(SEND_BATCH_MESSAGES);
			const bytes = callBodies.reduce((n, m) => n + new TextEncoder().encode(m).byteLength, 0);
			expect(bytes).toBeLessThanOrEqual(SEND_BATCH_BYTES);
		}
		await waitFor(async () => expect(await count("logs", orgId)).toBe(logRecords.length));
		const ends = await db.all<{ first: string; last: string }>(
			sql`SELECT min(body) AS first, max(CAST(json_extract(attributes, '$.n') AS INTEGER)) AS last FROM logs WHERE org_id = ${orgId}`,
		);
		expect(ends[0]).toEqual({ first: `line 0 ${filler}`, last: logRecords.length - 1 });
	});

	it("a row larger than a message (a ~300 KB log body) is parked in R2, stored whole, and the object deleted", async () => {
		const { orgId, key } = await orgWithKey("Queued spill");
		const sent: Sent = { calls: [] };
		const text = largeText(300_000);
		expect(new TextEncoder().encode(text).byteLength).toBeGreaterThan(2 * MESSAGE_LIMIT_BYTES);
		const answer = await queuedApp(sent)("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: oneLog(text),
		});
		expect(answer.status).toBe(200);
		expect(await answer.json()).toEqual({}); // nothing rejected
		const messages = sent.calls.flat();
		for (const message of messages)
			expect(new TextEncoder().encode(message).byteLength).toBeLessThan(MESSAGE_LIMIT_BYTES);
		const pointers = messages
			.map((body) => JSON.parse(body) as { id: string; spill?: string; bytes?: number })
			.filter((m) => m.spill);
		expect(pointers).toHaveLength(1);
		const pointer = pointers[0] as { id: string; spill: string; bytes: number };
		expect(pointer.spill).toBe(`telemetry-spill/${pointer.id}`);
		expect(pointer.bytes).toBeGreaterThan(300_000);
		await waitFor(async () => expect(await count("logs", orgId)).toBe(2));
		expect(await bodiesOf(orgId)).toEqual(["small", text].sort());
		// Deleted once stored (the consumer acknowledges first, then deletes).
		await waitFor(async () => expect(await env.TELEMETRY_SPILL.get(pointer.spill)).toBeNull());
	});

	it("a row larger than the export limit as stored is rejected even with R2 (partial success)", async () => {
		const { orgId, key } = await orgWithKey("Queued spill limit");
		const sent: Sent = { calls: [] };
		// An attribute of 60,000 quotes: ~120 KB in the OTLP JSON (each escaped once), ~240 KB as stored
		// (the attributes' JSON text escaped again in the row), over a limit of 200,000 bytes.
		const request = JSON.parse(oneLog("big")) as {
			resourceLogs: { scopeLogs: { logRecords: { attributes?: unknown[] }[] }[] }[];
		};
		const record = request.resourceLogs[0]?.scopeLogs[0]?.logRecords[0] as { attributes?: unknown[] };
		record.attributes = [{ key: "q", value: { stringValue: '"'.repeat(60_000) } }];
		const body = JSON.stringify(request);
		expect(body.length).toBeLessThan(200_000);
		const answer = await queuedApp(sent, true, { OTLP_MAX_BODY_BYTES: "200000" })("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body,
		});
		expect(answer.status).toBe(200);
		expect(await answer.json()).toEqual({
			partialSuccess: {
				rejectedLogRecords: "1",
				errorMessage: expect.stringContaining("larger than the export limit (200000 bytes) as stored"),
			},
		});
		expect(sent.calls.flat().filter((body) => (JSON.parse(body) as { spill?: string }).spill)).toEqual([]);
		await waitFor(async () => expect(await bodiesOf(orgId)).toEqual(["small"]));
	});

	it("without the R2 binding, a row larger than a message is rejected as before (partial success)", async () => {
		const { orgId, key } = await orgWithKey("Queued no spill");
		const sent: Sent = { calls: [] };
		const answer = await queuedApp(sent, true, { TELEMETRY_SPILL: undefined })("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: oneLog(largeText(300_000)),
		});
		expect(answer.status).toBe(200);
		expect(await answer.json()).toEqual({
			partialSuccess: {
				rejectedLogRecords: "1",
				errorMessage: expect.stringContaining("larger than a queue message (128 KB) as stored"),
			},
		});
		expect(sent.calls.flat().filter((body) => (JSON.parse(body) as { spill?: string }).spill)).toEqual([]);
		await waitFor(async () => expect(await bodiesOf(orgId)).toEqual(["small"]));
	});
});

describe("the consumer", () => {
	/** Messages as the producer makes them, captured without being sent. */
	async function captured(key: string, fixture: object = logsFixture) {
		const sent: Sent = { calls: [] };
		const answer = await queuedApp(sent, false)("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: JSON.stringify(recent(fixture)),
		});
		expect(answer.status).toBe(200);
		return sent.calls.flat();
	}

	const batchOf = (bodies: string[], attempts: number, ids = bodies.map((_, i) => `m${i}`)) =>
		createMessageBatch<string>(
			"hexcovery-telemetry",
			bodies.map((body, i) => ({ id: ids[i] as string, timestamp: new Date(), attempts, body })),
		);

	/**
	 * The batch through the Worker's queue() handler; its ack/retry state, and the delay each retry
	 * asked for (the pool's result does not carry it: each message's retry() is recorded on its way).
	 */
	async function deliver(batch: MessageBatch<string>, over: Partial<WorkerEnv> = {}) {
		const ctx = createExecutionContext();
		const delays: Record<string, number | undefined> = {};
		const messages = batch.messages.map((m) => ({
			id: m.id,
			body: m.body,
			attempts: m.attempts,
			ack: () => m.ack(),
			retry: (options?: { delaySeconds?: number }) => {
				delays[m.id] = options?.delaySeconds;
				m.retry(options);
			},
		}));
		await worker.queue({ queue: batch.queue, messages }, { ...workerEnv, ...over });
		const result = await getQueueResult(batch, ctx);
		return {
			acked: [...result.explicitAcks].sort(),
			retried: result.retryMessages.map((m: { msgId: string }) => m.msgId).sort(),
			delays,
		};
	}

	/** The messages of an export that carry rows (its first ones carry its schema discovery). */
	const withRows = (bodies: string[]) =>
		bodies.filter((body) => (JSON.parse(body) as { rows?: unknown }).rows);

	it("store unavailable: every message retried with backoff; delivered again: stored; and again: stored once", async () => {
		const { orgId, key } = await orgWithKey("Queue outage");
		const bodies = await captured(key);
		const records = logsFixture.resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords)).length;
		const ids = bodies.map((_, i) => `m${i}`).sort();
		await fault("stopped");
		const faulty = { DATABASE_URL: FAULTY_DATABASE_URL, TELEMETRY_RETRY_BASE_SECONDS: "5" };
		const failed = await deliver(batchOf(bodies, 1), faulty);
		expect(failed.acked).toEqual([]);
		expect(failed.retried).toEqual(ids);
		expect(Object.values(failed.delays)).toEqual(ids.map(() => 5));
		const again = await deliver(batchOf(bodies, 3), faulty);
		expect(again.retried).toEqual(ids);
		expect(Object.values(again.delays)).toEqual(ids.map(() => 20));
		expect(await count("logs", orgId)).toBe(0);

		await fault("running");
		const stored = await deliver(batchOf(bodies, 4), faulty);
		expect(stored.retried).toEqual([]);
		expect(stored.acked).toEqual(ids);
		expect(await count("logs", orgId)).toBe(records);
		// Delivered again (at least once), even twice in one batch: acknowledged, nothing stored twice.
		const twice = [...bodies, ...bodies];
		const duplicate = await deliver(
			batchOf(
				twice,
				5,
				twice.map((_, i) => `d${i}`),
			),
		);
		expect(duplicate.retried).toEqual([]);
		expect(duplicate.acked).toHaveLength(twice.length);
		expect(await count("logs", orgId)).toBe(records);
		const rollup = await db.all<{ n: number }>(
			sql`SELECT sum(count) AS n FROM log_rollups_1m WHERE org_id = ${orgId}`,
		);
		expect(rollup[0]?.n).toBe(records);
	});

	it("a message the store refuses is retried alone; the rest of its batch is stored", async () => {
		const { orgId, key } = await orgWithKey("Queue refusal");
		const good = await captured(key);
		const [refused] = withRows(await captured(key));
		// A row the table refuses (attributes is NOT NULL), in an otherwise valid message.
		const message = JSON.parse(refused as string) as { rows: unknown[][] };
		const row = message.rows[0] as unknown[];
		row[row.length - 1] = null;
		const batch = batchOf([JSON.stringify(message), ...good], 1);
		const result = await deliver(batch, { TELEMETRY_RETRY_BASE_SECONDS: "5" });
		expect(result.retried).toEqual(["m0"]);
		expect(result.delays).toEqual({ m0: 5 });
		expect(result.acked).toEqual(good.map((_, i) => `m${i + 1}`).sort());
		expect(await count("logs", orgId)).toBe(message.rows.length);
	});

	it("a spilled message: stored from R2 and the object deleted; delivered again: acknowledged, stored once", async () => {
		const { orgId, key } = await orgWithKey("Queue spill consumer");
		const sent: Sent = { calls: [] };
		const text = largeText(200_000);
		const answer = await queuedApp(sent, false)("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: oneLog(text),
		});
		expect(answer.status).toBe(200);
		const bodies = sent.calls.flat();
		const pointer = bodies.map((b) => JSON.parse(b) as { spill?: string }).find((m) => m.spill);
		const spillKey = pointer?.spill as string;
		const spilledText = await (await env.TELEMETRY_SPILL.get(spillKey))?.text();
		expect(spilledText).toContain(JSON.stringify(text));
		const first = await deliver(batchOf(bodies, 1));
		expect(first.retried).toEqual([]);
		expect(first.acked).toHaveLength(bodies.length);
		expect(await bodiesOf(orgId)).toEqual(["small", text].sort());
		expect(await env.TELEMETRY_SPILL.get(spillKey)).toBeNull();
		// Delivered again (its object gone, its receipt there): acknowledged, not stored again.
		const again = await deliver(
			batchOf(
				bodies,
				2,
				bodies.map((_, i) => `again${i}`),
			),
		);
		expect(again.retried).toEqual([]);
		expect(again.acked).toHaveLength(bodies.length);
		expect(await count("logs", orgId)).toBe(2);

		// A spilled body put back and its message delivered again (stored, receipt there): the
		// duplicate path deletes the object too.
		await env.TELEMETRY_SPILL.put(spillKey, spilledText as string);
		const pointerBody = pointerIn(bodies);
		expect((await deliver(batchOf([pointerBody], 3, ["dup"]))).acked).toEqual(["dup"]);
		expect(await count("logs", orgId)).toBe(2);
		expect(await env.TELEMETRY_SPILL.get(spillKey)).toBeNull();
	});

	it("a pointer whose body is missing from R2 is dead-lettered and parked with that reason", async () => {
		const { orgId, key } = await orgWithKey("Queue spill missing");
		const sent: Sent = { calls: [] };
		const answer = await queuedApp(sent, false)("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: oneLog(largeText(150_000)),
		});
		expect(answer.status).toBe(200);
		const pointerBody = pointerIn(sent.calls.flat());
		const pointer = JSON.parse(pointerBody) as { id: string; spill: string };
		// The body never reached R2 (or was removed by hand).
		await env.TELEMETRY_SPILL.delete(pointer.spill);
		await env.QUEUED_TELEMETRY.sendBatch([{ body: pointerBody, contentType: "text" }]);
		const parked = await waitFor(async () => {
			const rows = await db.all<{ org_id: string; reason: string; body: string }>(
				sql`SELECT org_id, reason, body FROM queue_dead_letters WHERE message_id = ${pointer.id}`,
			);
			expect(rows).toHaveLength(1);
			return rows[0];
		});
		expect(parked).toEqual({
			org_id: orgId,
			reason: `the spilled body ${pointer.spill} is missing from R2`,
			body: pointerBody,
		});
		expect(await count("logs", orgId)).toBe(0);
	});

	it("a spilled message the store keeps refusing is parked with its body from R2, and the object deleted", async () => {
		const { orgId, key } = await orgWithKey("Queue spill refused");
		const sent: Sent = { calls: [] };
		const answer = await queuedApp(sent, false)("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: oneLog(largeText(150_000)),
		});
		expect(answer.status).toBe(200);
		const pointerBody = pointerIn(sent.calls.flat());
		const pointer = JSON.parse(pointerBody) as { id: string; spill: string };
		// A row the table refuses (attributes is NOT NULL) in the spilled body.
		const object = await env.TELEMETRY_SPILL.get(pointer.spill);
		const message = JSON.parse((await object?.text()) as string) as { rows: unknown[][] };
		const row = message.rows[0] as unknown[];
		row[row.length - 1] = null;
		const refused = JSON.stringify(message);
		await env.TELEMETRY_SPILL.put(pointer.spill, refused);
		await env.QUEUED_TELEMETRY.sendBatch([{ body: pointerBody, contentType: "text" }]);
		const parked = await waitFor(async () => {
			const rows = await db.all<{ reason: string; body: string }>(
				sql`SELECT reason, body FROM queue_dead_letters WHERE message_id = ${pointer.id}`,
			);
			expect(rows).toHaveLength(1);
			return rows[0];
		});
		expect(parked).toEqual({ reason: "not stored within the queue's retries", body: refused });
		await waitFor(async () => expect(await env.TELEMETRY_SPILL.get(pointer.spill)).toBeNull());
		expect(await count("logs", orgId)).toBe(0);
	});

	it("poison messages go to the dead-letter queue and are parked there with the reason", async () => {
		const { orgId, key } = await orgWithKey("Queue poison");
		const [valid] = withRows(await captured(key));
		const refused = JSON.parse(valid as string) as { id: string; rows: unknown[][] };
		refused.id = `${refused.id}-refused`;
		const row = refused.rows[0] as unknown[];
		row[row.length - 1] = null;
		const otherOrg = JSON.parse(valid as string) as { id: string; org: string };
		otherOrg.id = `${otherOrg.id}-other-org`;
		otherOrg.org = "org_someone_else";
		await env.QUEUED_TELEMETRY.sendBatch([
			{ body: "{not json", contentType: "text" },
			{ body: JSON.stringify(refused), contentType: "text" },
			{ body: JSON.stringify(otherOrg), contentType: "text" },
		]);
		type Parked = {
			message_id: string;
			org_id: string | null;
			reason: string;
			attempts: number;
			queue: string;
		};
		const parked = await waitFor(async () => {
			const rows =
				await db.all<Parked>(sql`SELECT message_id, org_id, reason, attempts, queue FROM queue_dead_letters
				WHERE message_id IN (${refused.id}, ${otherOrg.id}) OR reason = 'malformed: the body is not JSON'
				ORDER BY reason`);
			expect(rows.length).toBeGreaterThanOrEqual(3);
			return rows;
		});
		expect(parked.find((p) => p.message_id === refused.id)).toMatchObject({
			org_id: orgId,
			reason: "not stored within the queue's retries",
			queue: "hexcovery-telemetry-dlq",
		});
		expect(parked.find((p) => p.message_id === otherOrg.id)).toMatchObject({
			org_id: "org_someone_else",
			reason: "malformed: a row of another org",
		});
		expect(parked.some((p) => p.reason === "malformed: the body is not JSON" && p.org_id === null)).toBe(
			true,
		);
		expect(await count("logs", orgId)).toBe(0);
		expect(await count("logs", "org_someone_else")).toBe(0);
	});
});

describe("sharding across queues by org", () => {
	it("each org's exports go to one shard (TELEMETRY_QUEUE_0 … _2) by its id's hash, and are stored", async () => {
		const shards: Sent[] = [{ calls: [] }, { calls: [] }, { calls: [] }];
		const app = createApp(
			buildWorkerDeps({
				...workerEnv,
				...Object.fromEntries(shards.map((sent, i) => [`TELEMETRY_QUEUE_${i}`, recordingQueue(sent)])),
			} as WorkerEnv),
		);
		const orgs = await Promise.all(Array.from({ length: 8 }, (_, i) => orgWithKey(`Sharded ${i}`)));
		const records = logsFixture.resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords)).length;
		for (const org of orgs) {
			for (let n = 0; n < 2; n++) {
				const answer = await app.fetch(
					new Request(`${ORIGIN}/v1/logs`, {
						method: "POST",
						headers: { "X-API-Key": org.key, "Content-Type": "application/json" },
						body: JSON.stringify(recent(logsFixture)),
					}),
					env,
				);
				expect(answer.status).toBe(200);
			}
		}
		// Every message of an org on its own shard, none on another.
		const orgsOn = shards.map(
			(sent) => new Set(sent.calls.flat().map((body) => (JSON.parse(body) as { org: string }).org)),
		);
		for (const org of orgs) {
			const shard = shardOf(org.orgId, 3);
			expect(orgsOn.map((set) => set.has(org.orgId))).toEqual([0, 1, 2].map((i) => i === shard));
		}
		expect(orgsOn.filter((set) => set.size > 0).length).toBeGreaterThanOrEqual(2);
		for (const org of orgs)
			await waitFor(async () => expect(await count("logs", org.orgId)).toBe(2 * records));
	});

	it("the shard choice is stable and spreads orgs", () => {
		expect(shardOf("org_a", 4)).toBe(shardOf("org_a", 4));
		const counts = [0, 0, 0, 0];
		for (let i = 0; i < 400; i++) {
			const shard = shardOf(`org_${i.toString(36)}x`, 4);
			counts[shard] = (counts[shard] ?? 0) + 1;
		}
		for (const n of counts) expect(n).toBeGreaterThan(40);
		expect(shardOf("anything", 1)).toBe(0);
	});

	it("the Worker consumes any shard's queue and parks any shard's dead letters", async () => {
		const { orgId, key } = await orgWithKey("Shard consumer");
		const sent: Sent = { calls: [] };
		const answer = await queuedApp(sent, false)("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: JSON.stringify(recent(logsFixture)),
		});
		expect(answer.status).toBe(200);
		const [first, ...rest] = sent.calls.flat();
		const outcome = (queue: string, bodies: string[]) => {
			const acked: string[] = [];
			const retried: string[] = [];
			const messages = bodies.map((body, i) => ({
				id: `${queue}-${i}`,
				body,
				attempts: 1,
				ack: () => acked.push(`${queue}-${i}`),
				retry: () => retried.push(`${queue}-${i}`),
			}));
			return { batch: { queue, messages }, acked, retried };
		};
		const stored = outcome("hexcovery-telemetry-2", rest);
		await worker.queue(stored.batch, workerEnv);
		expect(stored.retried).toEqual([]);
		expect(stored.acked).toHaveLength(rest.length);
		expect(await count("logs", orgId)).toBeGreaterThan(0);
		const parked = outcome("hexcovery-telemetry-2-dlq", [first as string]);
		await worker.queue(parked.batch, workerEnv);
		expect(parked.acked).toEqual(["hexcovery-telemetry-2-dlq-0"]);
		const id = (JSON.parse(first as string) as { id: string }).id;
		const rows = await db.all<{ queue: string }>(
			sql`SELECT queue FROM queue_dead_letters WHERE message_id = ${id}`,
		);
		expect(rows).toEqual([{ queue: "hexcovery-telemetry-2-dlq" }]);
	});

	it("shards numbered with a gap, or beside TELEMETRY_QUEUE, are a configuration error naming the binding", () => {
		const queue = recordingQueue({ calls: [] }, false);
		const gap = () =>
			telemetryQueuesFrom({ TELEMETRY_QUEUE_0: queue, TELEMETRY_QUEUE_2: queue } as WorkerEnv);
		expect(gap).toThrow(ConfigError);
		expect(gap).toThrow("Setting TELEMETRY_QUEUE_2 is invalid");
		const both = () => telemetryQueuesFrom({ TELEMETRY_QUEUE: queue, TELEMETRY_QUEUE_0: queue } as WorkerEnv);
		expect(both).toThrow("Setting TELEMETRY_QUEUE is invalid");
		expect(telemetryQueuesFrom({ TELEMETRY_QUEUE: queue } as WorkerEnv)).toBe(queue);
		expect(telemetryQueuesFrom({ TELEMETRY_QUEUE_0: queue } as WorkerEnv)).toBe(queue);
		expect(telemetryQueuesFrom({} as WorkerEnv)).toBeUndefined();
	});
});
