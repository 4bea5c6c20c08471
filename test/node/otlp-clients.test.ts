import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { credentials, Client as GrpcClient, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { Client } from "@libsql/client";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { SeverityNumber } from "@opentelemetry/api-logs";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { OTLPLogExporter as LogsGrpc } from "@opentelemetry/exporter-logs-otlp-grpc";
import { OTLPLogExporter as LogsJson } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPLogExporter as LogsProto } from "@opentelemetry/exporter-logs-otlp-proto";
import { OTLPMetricExporter as MetricsGrpc } from "@opentelemetry/exporter-metrics-otlp-grpc";
import { OTLPMetricExporter as MetricsJson } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as MetricsProto } from "@opentelemetry/exporter-metrics-otlp-proto";
import { OTLPTraceExporter as TracesGrpc } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPTraceExporter as TracesJson } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as TracesProto } from "@opentelemetry/exporter-trace-otlp-proto";
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
	type ReadableSpan,
	SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJwtSigner } from "../../src/auth/jwt.js";
import { systemClock } from "../../src/clock.js";
import { jwtSettingsFrom } from "../../src/config.js";
import { openMigratedDatabase } from "../../src/db/node.js";
import { decodeStatus } from "../../src/ingest/messages.js";
import { type RunningServer, startNodeServer } from "../../src/runtime/node.js";
import { createApiKey, createOrg } from "../../src/services/api-keys.js";
import { freePort, ManualReader } from "../support/otel.js";
import { exactReader, rowsOf } from "../support/otlp.js";
import { encodeOtlp } from "../support/otlp-protobuf.js";

/**
 * The real OpenTelemetry JS exporters — OTLP/HTTP JSON, OTLP/HTTP protobuf and OTLP/gRPC, for traces,
 * logs and metrics — export to the running Node server (started in-process), and the stored rows are
 * checked field by field.
 */

let dir: string;
let server: RunningServer;
let reader: Client;
let orgId: string;
let key: string;
/** The server's warnings (LOG_LEVEL=warn, written into memory): the misrouted exports are logged. */
const warnings: Record<string, unknown>[] = [];

beforeAll(async () => {
	dir = mkdtempSync(join(tmpdir(), "hexcovery-otlp-"));
	const url = `file:${join(dir, "test.db")}`;
	const setup = await openMigratedDatabase(url);
	const org = await createOrg(setup.db, systemClock, "Clients");
	orgId = org.id;
	key = (await createApiKey(setup.db, systemClock, { orgId, name: "otel", createdBy: "cli" })).key;
	setup.client.close();
	server = await startNodeServer(
		{
			PORT: "0",
			HOST: "127.0.0.1",
			OTLP_GRPC_PORT: String(await freePort()),
			DATABASE_URL: url,
			DATA_DIR: join(dir, "data"),
			LOG_LEVEL: "warn",
		},
		{
			logDestination: new Writable({
				write(chunk, _encoding, done) {
					for (const line of String(chunk).split("\n").filter(Boolean)) warnings.push(JSON.parse(line));
					done();
				},
			}),
		},
	);
	reader = exactReader(dir);
});

afterAll(async () => {
	reader?.close();
	await server?.close();
	rmSync(dir, { recursive: true, force: true });
});

const RESOURCE = { "service.name": "shop", "host.name": "node-7", "deployment.environment": "test" };
const RESOURCE_JSON = '{"service.name":"shop","host.name":"node-7","deployment.environment":"test"}';

function grpcMetadata(): Metadata {
	const metadata = new Metadata();
	metadata.set("x-api-key", key);
	return metadata;
}

const transports = () => {
	const headers = { "X-API-Key": key };
	const grpcUrl = `http://127.0.0.1:${server.grpcPort}`;
	const grpcOptions = { url: grpcUrl, metadata: grpcMetadata(), credentials: credentials.createInsecure() };
	return [
		{
			name: "http-json",
			traces: new TracesJson({ url: `${server.url}/v1/traces`, headers }),
			logs: new LogsJson({ url: `${server.url}/v1/logs`, headers }),
			metrics: new MetricsJson({ url: `${server.url}/v1/metrics`, headers }),
		},
		{
			name: "http-proto (gzip)",
			traces: new TracesProto({ url: `${server.url}/v1/traces`, headers, compression: "gzip" as never }),
			logs: new LogsProto({ url: `${server.url}/v1/logs`, headers }),
			metrics: new MetricsProto({ url: `${server.url}/v1/metrics`, headers, compression: "gzip" as never }),
		},
		{
			name: "grpc (gzip)",
			traces: new TracesGrpc({ ...grpcOptions, compression: "gzip" as never }),
			logs: new LogsGrpc(grpcOptions),
			metrics: new MetricsGrpc({ ...grpcOptions, compression: "gzip" as never }),
		},
	];
};

function exported<T>(exporter: { export(items: T, done: (result: ExportResult) => void): void }, items: T) {
	return new Promise<ExportResult>((resolve) => exporter.export(items, resolve));
}

async function makeSpans(marker: string): Promise<ReadableSpan[]> {
	const memory = new InMemorySpanExporter();
	const provider = new BasicTracerProvider({
		resource: resourceFromAttributes(RESOURCE),
		spanProcessors: [new SimpleSpanProcessor(memory)],
	});
	const tracer = provider.getTracer("shop.checkout", "3.1.0");
	const start = Date.now() - 2000;
	const root = tracer.startSpan(`GET /cart ${marker}`, {
		kind: SpanKind.SERVER,
		startTime: start,
		attributes: { "http.route": "/cart", "http.status": 500, ok: false, ratio: 0.5, tags: ["a", "b"] },
	});
	root.addEvent("cache miss", { key: "cart:42" }, start + 100);
	root.setStatus({ code: SpanStatusCode.ERROR, message: "boom" });
	const rootContext = root.spanContext();
	const child = tracer.startSpan(
		`SELECT ${marker}`,
		{ kind: SpanKind.CLIENT, startTime: start + 200 },
		// biome-ignore lint/suspicious/noExplicitAny: a minimal parent context for the SDK
		{ getValue: () => ({ spanContext: () => rootContext }) } as any,
	);
	child.end(start + 700);
	root.end(start + 1500);
	await provider.forceFlush();
	return memory.getFinishedSpans();
}

async function makeLogs(marker: string): Promise<ReadableLogRecord[]> {
	const memory = new InMemoryLogRecordExporter();
	const provider = new LoggerProvider({
		resource: resourceFromAttributes(RESOURCE),
		processors: [new SimpleLogRecordProcessor({ exporter: memory })],
	});
	const logger = provider.getLogger("shop.logger", "3.1.0");
	logger.emit({
		severityNumber: SeverityNumber.WARN,
		severityText: "WARN",
		body: `stock low ${marker}`,
		attributes: { sku: "A-1", left: 3 },
		timestamp: Date.now() - 1000,
	});
	logger.emit({
		severityNumber: SeverityNumber.ERROR2,
		body: { reason: "declined", marker },
		timestamp: Date.now() - 900,
	});
	await provider.forceFlush();
	return memory.getFinishedLogRecords();
}

async function makeMetrics(marker: string): Promise<ResourceMetrics> {
	const reader = new ManualReader();
	const provider = new MeterProvider({ resource: resourceFromAttributes(RESOURCE), readers: [reader] });
	const meter = provider.getMeter("shop.meter", "3.1.0");
	meter.createCounter(`orders.${marker}`, { unit: "1", description: "orders" }).add(5, { region: "eu" });
	meter.createHistogram(`latency.${marker}`, { unit: "ms" }).record(12, { route: "/cart" });
	meter.createGauge(`temperature.${marker}`).record(21.5);
	const { resourceMetrics, errors } = await reader.collect();
	expect(errors).toEqual([]);
	await provider.shutdown();
	return resourceMetrics;
}

const ns = (time: [number, number]) => BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);

describe.each(["http-json", "http-proto (gzip)", "grpc (gzip)"])(
	"OpenTelemetry JS exporter over %s",
	(name) => {
		const transport = () =>
			transports().find((t) => t.name === name) as ReturnType<typeof transports>[number];
		const marker = name.replace(/\W+/g, "_");

		it("exports spans: stored field by field", async () => {
			const spans = await makeSpans(marker);
			const exporter = transport().traces;
			const result = await exported(exporter, spans);
			expect(result.error).toBeUndefined();
			expect(result.code).toBe(ExportResultCode.SUCCESS);
			await exporter.shutdown();

			const rows = await rowsOf(reader, "spans", {
				where: "name LIKE ?",
				args: [`% ${marker}`],
				orderBy: "timestamp",
			});
			const root = spans.find((s) => s.name.startsWith("GET")) as ReadableSpan;
			const child = spans.find((s) => s.name.startsWith("SELECT")) as ReadableSpan;
			expect(rows).toEqual([
				{
					id: expect.any(Number),
					org_id: orgId,
					timestamp: ns(root.startTime),
					duration_ns: 1_500_000_000,
					trace_id: root.spanContext().traceId,
					span_id: root.spanContext().spanId,
					parent_span_id: null,
					name: `GET /cart ${marker}`,
					kind: "server",
					status_code: "error",
					status_message: "boom",
					service: "shop",
					host: "node-7",
					scope_name: "shop.checkout",
					scope_version: "3.1.0",
					resource_attributes: RESOURCE_JSON,
					scope_attributes: null,
					attributes: '{"http.route":"/cart","http.status":500,"ok":false,"ratio":0.5,"tags":["a","b"]}',
					events: `[{"timestamp":${ns(root.startTime) + 100_000_000n},"name":"cache miss","attributes":{"key":"cart:42"}}]`,
					links: null,
				},
				{
					id: expect.any(Number),
					org_id: orgId,
					timestamp: ns(child.startTime),
					duration_ns: 500_000_000,
					trace_id: root.spanContext().traceId,
					span_id: child.spanContext().spanId,
					parent_span_id: root.spanContext().spanId,
					name: `SELECT ${marker}`,
					kind: "client",
					status_code: "unset",
					status_message: null,
					service: "shop",
					host: "node-7",
					scope_name: "shop.checkout",
					scope_version: "3.1.0",
					resource_attributes: RESOURCE_JSON,
					scope_attributes: null,
					attributes: "{}",
					events: null,
					links: null,
				},
			]);
		});

		it("exports log records: stored field by field", async () => {
			const records = await makeLogs(marker);
			const exporter = transport().logs;
			const result = await exported(exporter, records);
			expect(result.code).toBe(ExportResultCode.SUCCESS);
			await exporter.shutdown();
			const rows = await rowsOf(reader, "logs", {
				where: "body LIKE ?",
				args: [`%${marker}%`],
				orderBy: "timestamp",
			});
			const common = {
				id: expect.any(Number),
				org_id: orgId,
				trace_id: null,
				span_id: null,
				event_name: null,
				service: "shop",
				host: "node-7",
				scope_name: "shop.logger",
				scope_version: "3.1.0",
				resource_attributes: RESOURCE_JSON,
				scope_attributes: null,
			};
			expect(rows).toEqual([
				{
					...common,
					timestamp: ns(records[0]?.hrTime as [number, number]),
					observed_timestamp: ns(records[0]?.hrTimeObserved as [number, number]),
					severity_number: 13,
					severity_text: "WARN",
					level: "warn",
					body: `stock low ${marker}`,
					attributes: '{"sku":"A-1","left":3}',
				},
				{
					...common,
					timestamp: ns(records[1]?.hrTime as [number, number]),
					observed_timestamp: ns(records[1]?.hrTimeObserved as [number, number]),
					severity_number: 18,
					severity_text: null,
					level: "error",
					body: `{"reason":"declined","marker":"${marker}"}`,
					attributes: "{}",
				},
			]);
		});

		it("exports metrics: a point per instrument, with kind, temporality, value and buckets", async () => {
			const metrics = await makeMetrics(marker);
			const exporter = transport().metrics;
			const result = await exported(exporter, metrics);
			expect(result.code).toBe(ExportResultCode.SUCCESS);
			await exporter.shutdown();
			const rows = await rowsOf(reader, "metric_points", {
				where: "metric_name LIKE ?",
				args: [`%.${marker}`],
				orderBy: "metric_name",
			});
			const pick = (r: Record<string, unknown>) => ({
				metric_name: r.metric_name,
				kind: r.kind,
				unit: r.unit,
				temporality: r.temporality,
				is_monotonic: r.is_monotonic,
				value: r.value,
				count: r.count,
				sum: r.sum,
				min: r.min,
				max: r.max,
				bucket_counts: r.bucket_counts,
				attributes: r.attributes,
				org_id: r.org_id,
				service: r.service,
				host: r.host,
				scope_name: r.scope_name,
			});
			const shared = { org_id: orgId, service: "shop", host: "node-7", scope_name: "shop.meter" };
			const defaultBounds = 16;
			expect(rows.map(pick)).toEqual([
				{
					...shared,
					metric_name: `latency.${marker}`,
					kind: "histogram",
					unit: "ms",
					temporality: "cumulative",
					is_monotonic: null,
					value: null,
					count: 1,
					sum: 12,
					min: 12,
					max: 12,
					bucket_counts: `[${Array.from({ length: defaultBounds }, (_, i) => (i === 3 ? 1 : 0)).join(",")}]`,
					attributes: '{"route":"/cart"}',
				},
				{
					...shared,
					metric_name: `orders.${marker}`,
					kind: "sum",
					unit: "1",
					temporality: "cumulative",
					is_monotonic: 1,
					value: 5,
					count: null,
					sum: null,
					min: null,
					max: null,
					bucket_counts: null,
					attributes: '{"region":"eu"}',
				},
				{
					...shared,
					metric_name: `temperature.${marker}`,
					kind: "gauge",
					unit: null,
					temporality: null,
					is_monotonic: null,
					value: 21.5,
					count: null,
					sum: null,
					min: null,
					max: null,
					bucket_counts: null,
					attributes: "{}",
				},
			]);
			const histogram = rows.find((r) => r.kind === "histogram");
			expect(JSON.parse(histogram?.explicit_bounds as string)).toEqual([
				0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000,
			]);
		});
	},
);

describe("an exporter pointed at another signal's path", () => {
	it("JSON: a logs exporter at /v1/traces succeeds with a warning in partialSuccess, stores nothing, and the server logs it", async () => {
		const marker = "misrouted_json";
		const records = await makeLogs(marker);
		const exporter = new LogsJson({ url: `${server.url}/v1/traces`, headers: { "X-API-Key": key } });
		const result = await exported(exporter, records);
		// 200 with partial_success is a success to the SDK (its message goes to the SDK's diag log).
		expect(result.code).toBe(ExportResultCode.SUCCESS);
		await exporter.shutdown();
		expect(await rowsOf(reader, "logs", { where: "body LIKE ?", args: [`%${marker}%`] })).toEqual([]);
		expect(warnings).toContainEqual(
			expect.objectContaining({
				level: 40,
				msg: "OTLP export stored nothing: it belongs to another endpoint",
				org_id: orgId,
				path: "/v1/traces",
				looks_like: "logs",
			}),
		);
		// What the exporter received, asked again with the same body by hand.
		const { JsonLogsSerializer } = await import("@opentelemetry/otlp-transformer");
		const answer = await fetch(`${server.url}/v1/traces`, {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: JsonLogsSerializer.serializeRequest(records) as Uint8Array<ArrayBuffer>,
		});
		expect(await answer.json()).toEqual({
			partialSuccess: {
				rejectedSpans: "0",
				errorMessage:
					"Nothing was stored: the body has resourceLogs and no resourceSpans, so it looks like a logs export sent to /v1/traces, the traces endpoint. Send it to /v1/logs.",
			},
		});
	});

	it("protobuf: a metrics exporter at /v1/logs fails with a 400 whose message names the metrics endpoint", async () => {
		const marker = "misrouted_proto";
		const metrics = await makeMetrics(marker);
		const exporter = new MetricsProto({ url: `${server.url}/v1/logs`, headers: { "X-API-Key": key } });
		const result = await exported(exporter, metrics);
		expect(result.code).toBe(ExportResultCode.FAILED);
		const error = result.error as Error & { code?: number; data?: string };
		expect(error.code).toBe(400);
		// The exporter keeps the body (a protobuf google.rpc.Status) as text: its message is readable in it.
		expect(error.data).toMatch(
			/The body is not a valid ExportLogsServiceRequest \(.+\) but decodes as an ExportMetricsServiceRequest: it looks like a metrics export sent to \/v1\/logs, the logs endpoint\. Send it to \/v1\/metrics\./,
		);
		await exporter.shutdown();
		expect(
			await rowsOf(reader, "metric_points", { where: "metric_name LIKE ?", args: [`%.${marker}`] }),
		).toEqual([]);
	});
});

describe("OTLP/gRPC failures map to gRPC status codes, with the google.rpc.Status in the trailers", () => {
	const TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
	type Outcome = { code: number; details: string; statusTypes: string[]; response?: Buffer };

	function call(metadata: Metadata, message: Uint8Array, options: { gzip?: boolean } = {}): Promise<Outcome> {
		const client = new GrpcClient(
			`127.0.0.1:${server.grpcPort}`,
			credentials.createInsecure(),
			options.gzip ? { "grpc.default_compression_algorithm": 2 } : {},
		);
		return new Promise((resolve) => {
			client.makeUnaryRequest(
				TRACE_EXPORT,
				(bytes: Buffer) => bytes,
				(bytes: Buffer) => bytes,
				Buffer.from(message),
				metadata,
				(error: ServiceError | null, response?: Buffer) => {
					client.close();
					if (!error) return resolve({ code: 0, details: "", statusTypes: [], response });
					const details = error.metadata.get("grpc-status-details-bin")[0];
					resolve({
						code: error.code,
						details: error.details,
						statusTypes: details ? decodeStatus(new Uint8Array(details as Buffer)).detailTypes : [],
					});
				},
			);
		});
	}

	const spanRequest = (name: string) =>
		encodeOtlp("TraceRequest", {
			resourceSpans: [
				{
					scopeSpans: [
						{
							spans: [
								{
									traceId: "11112222333344445555666677778888",
									spanId: "1111222233334444",
									name,
									startTimeUnixNano: `${BigInt(Date.now() - 1000) * 1_000_000n}`,
									endTimeUnixNano: `${BigInt(Date.now()) * 1_000_000n}`,
								},
							],
						},
					],
				},
			],
		});

	it("UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, RESOURCE_EXHAUSTED and UNAVAILABLE", async () => {
		expect((await call(new Metadata(), spanRequest("x"))).code).toBe(status.UNAUTHENTICATED);
		const wrongKey = new Metadata();
		wrongKey.set("x-api-key", "hxk_000000000000000000000000000000000000");
		expect((await call(wrongKey, spanRequest("x"))).code).toBe(status.UNAUTHENTICATED);

		const signer = createJwtSigner(
			jwtSettingsFrom({}, readFileSync(join(dir, "data/jwt-keys.json"), "utf8")),
			systemClock,
		);
		const withJwt = new Metadata();
		withJwt.set("authorization", `Bearer ${await signer({ orgId, userId: "usr_1", role: "owner" })}`);
		const denied = await call(withJwt, spanRequest("x"));
		expect([denied.code, denied.statusTypes[0]]).toEqual([
			status.PERMISSION_DENIED,
			"type.googleapis.com/google.rpc.ErrorInfo",
		]);

		const truncated = await call(grpcMetadata(), spanRequest("x").slice(0, 20));
		expect(truncated.code).toBe(status.INVALID_ARGUMENT);
		expect(truncated.statusTypes).toContain("type.googleapis.com/google.rpc.BadRequest");

		// 17 MiB of zeros: gzip makes it tiny on the wire; grpc-js refuses it once inflated past 16 MiB.
		const bomb = await call(grpcMetadata(), new Uint8Array(17 * 1024 * 1024), { gzip: true });
		expect(bomb.code).toBe(status.RESOURCE_EXHAUSTED);

		await reader.execute(
			"CREATE TRIGGER fail_grpc BEFORE INSERT ON spans WHEN NEW.name = 'grpc boom' BEGIN SELECT RAISE(ABORT, 'injected'); END",
		);
		try {
			const unavailable = await call(grpcMetadata(), spanRequest("grpc boom"));
			expect(unavailable.code).toBe(status.UNAVAILABLE);
			expect(unavailable.statusTypes).toContain("type.googleapis.com/google.rpc.RetryInfo");
		} finally {
			await reader.execute("DROP TRIGGER fail_grpc");
		}
		expect(await rowsOf(reader, "spans", { where: "name IN ('x', 'grpc boom')" })).toEqual([]);

		const ok = await call(grpcMetadata(), spanRequest("grpc ok"), { gzip: true });
		expect([ok.code, ok.response?.length]).toEqual([0, 0]);
		expect((await rowsOf(reader, "spans", { where: "name = 'grpc ok'" })).map((r) => r.org_id)).toEqual([
			orgId,
		]);
	});
});
