/**
 * The telemetry store on ClickHouse, end to end on Node: the server started with TELEMETRY_URL (and
 * credentials) pointing at the real engine (chdb behind the HTTP stand-in, migrated by the server's
 * start), the real OpenTelemetry exporters (OTLP/HTTP JSON, OTLP/HTTP protobuf, OTLP/gRPC) export
 * logs, spans and metrics, and then: the rows are in ClickHouse and not in libSQL, `POST
 * /api/v1/dsl` answers from ClickHouse for the key's org only, schema discovery is recorded in
 * libSQL, the retention sweep deletes in ClickHouse, and a ClickHouse that is down answers 503.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { credentials, Metadata } from "@grpc/grpc-js";
import type { Client } from "@libsql/client";
import { SpanKind } from "@opentelemetry/api";
import { SeverityNumber } from "@opentelemetry/api-logs";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { OTLPLogExporter as LogsJson } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPMetricExporter as MetricsProto } from "@opentelemetry/exporter-metrics-otlp-proto";
import { OTLPTraceExporter as TracesGrpc } from "@opentelemetry/exporter-trace-otlp-grpc";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
	InMemoryLogRecordExporter,
	LoggerProvider,
	type ReadableLogRecord,
	SimpleLogRecordProcessor,
} from "@opentelemetry/sdk-logs";
import { MeterProvider, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import {
	BasicTracerProvider,
	InMemorySpanExporter,
	SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadChdb } from "../../scripts/clickhouse-engine.js";
import { runCli } from "../../src/cli.js";
import { systemClock } from "../../src/clock.js";
import type { Database } from "../../src/db/client.js";
import { openMigratedDatabase } from "../../src/db/node.js";
import { orgs } from "../../src/db/schema.js";
import { DiscoveryMemory } from "../../src/ingest/discovery.js";
import { OtlpIngest } from "../../src/ingest/ingest.js";
import { consumeTelemetry, type QueueBatch, type QueueMessage } from "../../src/ingest/queue.js";
import { libsqlClientOf } from "../../src/ingest/writer.js";
import { type RunningServer, startNodeServer } from "../../src/runtime/node.js";
import { createApiKey, createOrg } from "../../src/services/api-keys.js";
import { createUser } from "../../src/services/users.js";
import { clickHouseTelemetryStore } from "../../src/telemetry/clickhouse.js";
import { type ClickHouseStandIn, serveClickHouse } from "../../tools/clickhouse/server.js";
import { freePort, ManualReader } from "../support/otel.js";
import { countOf } from "../support/otlp.js";
import { QUIET } from "./support.js";

const USER = "hex";
const PASSWORD = "s3cret-pw";
const RESOURCE = { "service.name": "shop", "host.name": "node-7" };

let dir: string;
let chDir: string;
let standIn: ClickHouseStandIn;
let standInClosed = false;
let ch: ClickHouseClient;
let server: RunningServer;
let libsql: { client: Client; db: Database };
let grpcPort: number;
let databaseUrl: string;
const org = { a: { id: "", key: "" }, b: { id: "", key: "" } };
/** A viewer of org A (signed in by the pages test). */
let viewerToken = "";

beforeAll(async () => {
	dir = mkdtempSync(join(tmpdir(), "hexcovery-ch-store-"));
	chDir = join(dir, "clickhouse");
	standIn = await serveClickHouse(loadChdb(), { path: chDir, username: USER, password: PASSWORD });
	ch = createClient({ url: standIn.url, username: USER, password: PASSWORD, log: QUIET });
	const url = `file:${join(dir, "test.db")}`;
	databaseUrl = url;
	libsql = await openMigratedDatabase(url);
	for (const which of ["a", "b"] as const) {
		const created = await createOrg(libsql.db, systemClock, `Org ${which}`);
		org[which].id = created.id;
		org[which].key = (
			await createApiKey(libsql.db, systemClock, { orgId: created.id, name: "otel", createdBy: "cli" })
		).key;
	}
	grpcPort = await freePort();
	// The server's start applies the ClickHouse migrations (the stand-in's directory is empty).
	server = await startNodeServer({
		PORT: "0",
		HOST: "127.0.0.1",
		OTLP_GRPC_PORT: String(grpcPort),
		DATABASE_URL: url,
		DATA_DIR: join(dir, "data"),
		LOG_LEVEL: "silent",
		TELEMETRY_URL: standIn.url,
		TELEMETRY_USER: USER,
		TELEMETRY_PASSWORD: PASSWORD,
	});
});

afterAll(async () => {
	await server?.close();
	await ch?.close();
	if (!standInClosed) await standIn?.close();
	libsql?.client.close();
	rmSync(dir, { recursive: true, force: true });
});

function exported<T>(exporter: { export(items: T, done: (result: ExportResult) => void): void }, items: T) {
	return new Promise<ExportResult>((resolve) => exporter.export(items, resolve));
}

async function makeLogs(marker: string, times: number[]): Promise<ReadableLogRecord[]> {
	const memory = new InMemoryLogRecordExporter();
	const provider = new LoggerProvider({
		resource: resourceFromAttributes(RESOURCE),
		processors: [new SimpleLogRecordProcessor({ exporter: memory })],
	});
	const logger = provider.getLogger("shop.logger", "1.0.0");
	for (const [i, timestamp] of times.entries()) {
		logger.emit({
			severityNumber: i % 2 === 0 ? SeverityNumber.ERROR : SeverityNumber.INFO,
			body: `${marker} line ${i}`,
			attributes: { sku: `A-${i}`, left: i },
			timestamp,
		});
	}
	await provider.forceFlush();
	return memory.getFinishedLogRecords();
}

async function makeMetrics(): Promise<ResourceMetrics> {
	const reader = new ManualReader();
	const provider = new MeterProvider({ resource: resourceFromAttributes(RESOURCE), readers: [reader] });
	const meter = provider.getMeter("shop.meter", "1.0.0");
	meter.createCounter("orders", { unit: "1" }).add(5, { region: "eu" });
	meter.createGauge("temperature").record(21.5);
	const { resourceMetrics } = await reader.collect();
	await provider.shutdown();
	return resourceMetrics;
}

async function dsl(key: string, query: string): Promise<{ status: number; body: Record<string, unknown> }> {
	const response = await fetch(`${server.url}/api/v1/dsl`, {
		method: "POST",
		headers: { "X-API-Key": key, "Content-Type": "application/json" },
		body: JSON.stringify({ query }),
	});
	return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function clickhouseCount(table: string, orgId: string): Promise<number> {
	const result = await ch.query({
		query: `SELECT count() AS n FROM ${table} WHERE org_id = {org:String}`,
		format: "JSONEachRow",
		query_params: { org: orgId },
	});
	return Number((await result.json<{ n: string | number }>())[0]?.n);
}

/** The store as the queue consumer gets it (the Worker builds the same from TELEMETRY_URL). */
function testStore() {
	return clickHouseTelemetryStore({
		db: libsql.db,
		client: ch,
		settings: { url: standIn.url, username: USER, password: PASSWORD, database: "default" },
	});
}

/** An export's queue messages, as the Worker's producer makes them (src/ingest/queue.ts). */
async function queuedExport(orgId: string, bodies: string[]): Promise<string[]> {
	const sent: string[] = [];
	const ingest = new OtlpIngest(
		{
			db: libsql.db,
			clock: systemClock,
			telemetry: testStore(),
			telemetryQueue: {
				async sendBatch(messages: Iterable<{ body: unknown }>) {
					for (const m of messages) sent.push(String(m.body));
				},
			},
		},
		16,
	);
	const now = BigInt(Date.now()) * 1_000_000n;
	const body = {
		resourceLogs: [
			{
				scopeLogs: [
					{
						logRecords: bodies.map((text, i) => ({
							timeUnixNano: String(now - BigInt(i) * 1_000_000n),
							body: { stringValue: text },
							attributes: [{ key: "queued", value: { boolValue: true } }],
						})),
					},
				],
			},
		],
	};
	expect(
		(await ingest.export(orgId, "logs", "json", new TextEncoder().encode(JSON.stringify(body)))).partial,
	).toBeNull();
	return sent;
}

/** Delivers bodies as one queue batch; counts the acknowledgements and the retries' delays. */
async function deliver(bodies: string[]): Promise<{ acked: number; retries: (number | undefined)[] }> {
	const outcome = { acked: 0, retries: [] as (number | undefined)[] };
	const messages: QueueMessage[] = bodies.map((body, i) => ({
		id: `delivery-${i}`,
		body,
		attempts: 1,
		ack: () => {
			outcome.acked++;
		},
		retry: (options) => {
			outcome.retries.push(options?.delaySeconds);
		},
	}));
	const batch: QueueBatch = { queue: "hexcovery-telemetry", messages };
	await consumeTelemetry(batch, {
		client: libsqlClientOf(libsql.db),
		store: testStore(),
		clock: systemClock,
		discovery: new DiscoveryMemory(systemClock),
		log: () => {},
	});
	return outcome;
}

describe("telemetry in ClickHouse (TELEMETRY_URL) on Node", () => {
	it("stores what the real exporters send in ClickHouse, not in libSQL", async () => {
		const now = Date.now();
		const logsA = new LogsJson({ url: `${server.url}/v1/logs`, headers: { "X-API-Key": org.a.key } });
		const logsResult = await exported(logsA, await makeLogs("alpha", [now - 3000, now - 2000, now - 1000]));
		expect(logsResult.code).toBe(ExportResultCode.SUCCESS);
		await logsA.shutdown();
		const logsB = new LogsJson({ url: `${server.url}/v1/logs`, headers: { "X-API-Key": org.b.key } });
		expect((await exported(logsB, await makeLogs("bravo", [now - 1500]))).code).toBe(
			ExportResultCode.SUCCESS,
		);
		await logsB.shutdown();

		const metadata = new Metadata();
		metadata.set("x-api-key", org.a.key);
		const traces = new TracesGrpc({
			url: `http://127.0.0.1:${grpcPort}`,
			metadata,
			credentials: credentials.createInsecure(),
		});
		const memory = new InMemorySpanExporter();
		const provider = new BasicTracerProvider({
			resource: resourceFromAttributes(RESOURCE),
			spanProcessors: [new SimpleSpanProcessor(memory)],
		});
		const tracer = provider.getTracer("shop.checkout");
		for (const [i, route] of ["/cart", "/pay"].entries()) {
			const span = tracer.startSpan(`GET ${route}`, {
				kind: SpanKind.SERVER,
				startTime: now - 5000 + i,
				attributes: { "http.route": route, "http.status_code": 200 + i * 300 },
			});
			span.end(now - 4000 + i * 500);
		}
		await provider.forceFlush();
		expect((await exported(traces, memory.getFinishedSpans())).code).toBe(ExportResultCode.SUCCESS);
		await traces.shutdown();

		const metrics = new MetricsProto({
			url: `${server.url}/v1/metrics`,
			headers: { "X-API-Key": org.a.key },
		});
		expect((await exported(metrics, await makeMetrics())).code).toBe(ExportResultCode.SUCCESS);
		await metrics.shutdown();

		// Acknowledged = in ClickHouse: every row is there once the exporters have their answers.
		expect(await clickhouseCount("logs", org.a.id)).toBe(3);
		expect(await clickhouseCount("logs", org.b.id)).toBe(1);
		expect(await clickhouseCount("spans", org.a.id)).toBe(2);
		expect(await clickhouseCount("metric_points", org.a.id)).toBe(2);
		const stored = await ch.query({
			query:
				"SELECT body, level, service, host, attributes FROM logs WHERE org_id = {org:String} ORDER BY timestamp",
			format: "JSONEachRow",
			query_params: { org: org.a.id },
		});
		expect((await stored.json())[0]).toEqual({
			body: "alpha line 0",
			level: "error",
			service: "shop",
			host: "node-7",
			attributes: { sku: "A-0", left: "0" },
		});
		// …and nothing in libSQL: no rows, no rollups.
		for (const table of ["logs", "spans", "metric_points", "log_rollups_1m", "span_rollups_1m"])
			expect(await countOf(libsql.client, table)).toBe(0);
	});

	it("answers POST /api/v1/dsl from ClickHouse, each key its own org's rows only", async () => {
		const a = await dsl(org.a.key, "SELECT count(*), count_distinct(body) FROM logs LAST 1h");
		expect(a.status).toBe(200);
		expect(a.body.rows).toEqual([[3, 3]]);
		expect((a.body.meta as { source: string }).source).toBe("raw");
		// A count alone is read from ClickHouse's rollups (whole minutes; raw rows at the edges).
		const count = await dsl(org.a.key, "SELECT count(*) FROM logs LAST 1h");
		expect(count.body.rows).toEqual([[3]]);
		expect((count.body.meta as { source: string }).source).toMatch(/^rollup_1[mh]$/);
		const b = await dsl(org.b.key, "SELECT body FROM logs LAST 1h");
		expect(b.body.rows).toEqual([["bravo line 0"]]);
		// Org A's text is invisible to org B, whatever the query says.
		const probe = await dsl(org.b.key, "SELECT count(*) FROM logs WHERE body CONTAINS 'alpha' LAST 1h");
		expect(probe.body.rows).toEqual([[0]]);
		const spans = await dsl(
			org.a.key,
			"SELECT name, count(*) FROM spans WHERE attributes['http.status_code'] >= 500 GROUP BY name LAST 1h",
		);
		expect(spans.body.rows).toEqual([["GET /pay", 1]]);
		expect((await dsl(org.b.key, "SELECT count(*) FROM spans LAST 1h")).body.rows).toEqual([[0]]);
		const metrics = await dsl(
			org.a.key,
			"SELECT name, max(value) FROM metrics GROUP BY name ORDER BY name LAST 1h",
		);
		expect(metrics.body.rows).toEqual([
			["orders", 5],
			["temperature", 21.5],
		]);
		// The same error codes as on libSQL.
		const bad = await dsl(org.a.key, "SELECT count(* FROM logs");
		expect(bad.status).toBe(400);
		expect((bad.body.error as { code: string }).code).toBe("oql_syntax_error");
	});

	it("serves the built-in pages from ClickHouse over HTTP, each user their own org's rows only", async () => {
		const tokenFor = async (orgId: string, email: string) => {
			const password = "plum-tractor-ocean-41";
			await createUser(libsql.db, systemClock, { orgId, email, name: "Viewer", role: "viewer", password });
			const login = await fetch(`${server.url}/api/v1/auth/login`, {
				method: "POST",
				headers: { "Content-Type": "application/json" },
				body: JSON.stringify({ email, password, org: orgId }),
			});
			expect(login.status).toBe(200);
			return ((await login.json()) as { access_token: string }).access_token;
		};
		const page = async (token: string, path: string) => {
			const response = await fetch(`${server.url}/api/v1/pages/${path}`, {
				headers: { Authorization: `Bearer ${token}` },
			});
			expect(response.status, path).toBe(200);
			return (await response.json()) as { data: Record<string, unknown>[] };
		};
		const a = await tokenFor(org.a.id, "viewer-a@example.com");
		viewerToken = a;
		const b = await tokenFor(org.b.id, "viewer-b@example.com");
		// libSQL holds no telemetry: these rows can only come from ClickHouse.
		expect(await countOf(libsql.client, "logs")).toBe(0);
		const logsA = await page(a, "logs?range=1h");
		expect(logsA.data.map((row) => row.body).sort()).toEqual([
			"alpha line 0",
			"alpha line 1",
			"alpha line 2",
		]);
		expect((await page(b, "logs?range=1h")).data.map((row) => row.body)).toEqual(["bravo line 0"]);
		const traces = await page(a, "traces?range=1h");
		expect(traces.data.length).toBeGreaterThan(0);
		expect((await page(b, "traces?range=1h")).data).toEqual([]);
		const hosts = await page(a, "hosts?range=1h");
		expect(hosts.data.map((row) => row.host)).toContain("node-7");
	});

	it("records schema discovery in libSQL, per org", async () => {
		for (const id of [org.a.id, org.b.id]) {
			const keys = await libsql.client.execute({
				sql: "SELECT key FROM attribute_keys WHERE org_id = ? AND source = 'logs' AND namespace = 'attributes' ORDER BY key",
				args: [id],
			});
			expect(keys.rows.map((r) => r.key)).toEqual(["left", "sku"]);
		}
		const names = await libsql.client.execute({
			sql: "SELECT name FROM metric_names WHERE org_id = ? ORDER BY name",
			args: [org.a.id],
		});
		expect(names.rows.map((r) => r.name)).toEqual(["orders", "temperature"]);
	});

	it("deletes rows past the org's retention in ClickHouse (the sweep), after a retention change", async () => {
		const now = Date.now();
		const twoDaysAgo = now - 2 * 86_400_000;
		const logs = new LogsJson({ url: `${server.url}/v1/logs`, headers: { "X-API-Key": org.b.key } });
		expect((await exported(logs, await makeLogs("old", [twoDaysAgo]))).code).toBe(ExportResultCode.SUCCESS);
		await logs.shutdown();
		expect(await clickhouseCount("logs", org.b.id)).toBe(2);
		// Org B's retention shortened to one day: the sweep removes its two-day-old row, nothing else.
		await libsql.db.update(orgs).set({ retentionDays: 1 }).where(eq(orgs.id, org.b.id));
		const store = clickHouseTelemetryStore({
			db: libsql.db,
			client: ch,
			settings: { url: standIn.url, username: USER, password: PASSWORD, database: "default" },
		});
		const rolledUp = async (orgId: string) => {
			const result = await ch.query({
				query: "SELECT sum(count) AS n FROM log_rollups_1m WHERE org_id = {org:String}",
				query_params: { org: orgId },
				format: "JSONEachRow",
			});
			return Number((await result.json<{ n: string }>())[0]?.n);
		};
		expect(await rolledUp(org.b.id)).toBe(2);
		expect(await store.sweepRetention(now)).toBe(1);
		expect(await clickhouseCount("logs", org.b.id)).toBe(1);
		expect(await clickhouseCount("logs", org.a.id)).toBe(3);
		// The rollups follow: the old row's minute is gone, the others' stay.
		expect(await rolledUp(org.b.id)).toBe(1);
		expect(await rolledUp(org.a.id)).toBe(3);
		expect(await store.sweepRetention(now)).toBe(0);
	});

	it("the queue consumer stores a batch in ClickHouse once, however often it is delivered", async () => {
		const a = await clickhouseCount("logs", org.a.id);
		const bodies = await queuedExport(org.a.id, ["queued one", "queued two"]);
		expect(bodies.length).toBeGreaterThan(0);
		// Enqueued, not stored yet.
		expect(await clickhouseCount("logs", org.a.id)).toBe(a);
		expect(await deliver(bodies)).toEqual({ acked: bodies.length, retries: [] });
		expect(await clickhouseCount("logs", org.a.id)).toBe(a + 2);
		// Delivered again (at least once): acknowledged, not stored twice.
		expect(await deliver(bodies)).toEqual({ acked: bodies.length, retries: [] });
		expect(await clickhouseCount("logs", org.a.id)).toBe(a + 2);
		expect(await countOf(libsql.client, "logs")).toBe(0);
		const receipts = await libsql.client.execute("SELECT count(*) AS n FROM queue_receipts");
		expect(Number(receipts.rows[0]?.n)).toBe(bodies.length);
	});

	it("the CLI: `migrate` and `queue replay` reach ClickHouse with TELEMETRY_URL", async () => {
		const saved = { ...process.env };
		Object.assign(process.env, {
			DATABASE_URL: databaseUrl,
			TELEMETRY_URL: standIn.url,
			TELEMETRY_USER: USER,
			TELEMETRY_PASSWORD: PASSWORD,
		});
		try {
			const lines: string[] = [];
			await runCli(["migrate"], (line) => lines.push(line));
			expect(lines).toEqual([
				"migrations applied",
				`ClickHouse migrations applied (${standIn.url}, database default)`,
			]);
			// A parked dead letter (a real producer message) replayed: stored in ClickHouse, once.
			const before = await clickhouseCount("logs", org.b.id);
			const [message] = (await queuedExport(org.b.id, ["parked"])).filter((body) => body.includes('"rows"'));
			if (!message) throw new Error("no row message");
			const id = (JSON.parse(message) as { id: string }).id;
			await libsql.client.execute({
				sql: "INSERT INTO queue_dead_letters (message_id, org_id, queue, body, attempts, reason, parked_at) VALUES (?, ?, 'hexcovery-telemetry', ?, 3, 'test', ?)",
				args: [id, org.b.id, message, Date.now()],
			});
			const replayed: string[] = [];
			await runCli(["queue", "replay", "--all"], (line) => replayed.push(line));
			expect(replayed).toEqual([`${id} stored`]);
			expect(await clickhouseCount("logs", org.b.id)).toBe(before + 1);
			expect(await countOf(libsql.client, "logs")).toBe(0);
		} finally {
			for (const name of ["DATABASE_URL", "TELEMETRY_URL", "TELEMETRY_USER", "TELEMETRY_PASSWORD"]) {
				if (saved[name] === undefined) delete process.env[name];
				else process.env[name] = saved[name];
			}
		}
	});

	it("answers 503 storage_unavailable with Retry-After while ClickHouse is down", async () => {
		const queued = await queuedExport(org.a.id, ["while down"]);
		await standIn.close();
		standInClosed = true;
		const dslDown = await fetch(`${server.url}/api/v1/dsl`, {
			method: "POST",
			headers: { "X-API-Key": org.a.key, "Content-Type": "application/json" },
			body: JSON.stringify({ query: "SELECT count(*) FROM logs LAST 1h" }),
		});
		expect(dslDown.status).toBe(503);
		expect(((await dslDown.json()) as { error: { code: string } }).error.code).toBe("storage_unavailable");
		expect(dslDown.headers.get("Retry-After")).toMatch(/^\d+$/);
		const pageDown = await fetch(`${server.url}/api/v1/pages/logs?range=1h`, {
			headers: { Authorization: `Bearer ${viewerToken}` },
		});
		expect(pageDown.status).toBe(503);
		expect(((await pageDown.json()) as { error: { code: string } }).error.code).toBe("storage_unavailable");
		expect(pageDown.headers.get("Retry-After")).toMatch(/^\d+$/);
		const exportDown = await fetch(`${server.url}/v1/logs`, {
			method: "POST",
			headers: { "X-API-Key": org.a.key, "Content-Type": "application/json" },
			body: JSON.stringify({
				resourceLogs: [
					{
						scopeLogs: [
							{
								logRecords: [
									{ timeUnixNano: String(BigInt(Date.now()) * 1_000_000n), body: { stringValue: "x" } },
								],
							},
						],
					},
				],
			}),
		});
		expect(exportDown.status).toBe(503);
		expect(exportDown.headers.get("Retry-After")).toMatch(/^\d+$/);
		expect(await countOf(libsql.client, "logs")).toBe(0);
		// The queue consumer retries every message with backoff; none is acknowledged.
		expect(await deliver(queued)).toEqual({ acked: 0, retries: queued.map(() => 5) });
	});
});
