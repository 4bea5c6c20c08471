import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createGzip, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { serve } from "@hono/node-server";
import type { Client } from "@libsql/client";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { orgs } from "../../src/db/schema.js";
import { DISCOVERY_LIMITS } from "../../src/ingest/discovery.js";
import { openEmbeddedWriter } from "../../src/ingest/embedded-writer.js";
import { sweepTelemetryRetention } from "../../src/ingest/retention.js";
import { DEFAULT_OTLP_SETTINGS, maxStoredCharsOf, type OtlpSettings } from "../../src/ingest/settings.js";
import type { GroupCommitWriter } from "../../src/ingest/writer.js";
import { openWriterThread, type WriterThread } from "../../src/ingest/writer-thread.js";
import { FakeClock } from "../support/clock.js";
import { createTestApp, type TestApp } from "../support/node-app.js";
import { countOf, decodeExportResponse, exactReader, rowsOf, statusOf } from "../support/otlp.js";
import { encodeOtlp } from "../support/otlp-protobuf.js";
import { writerThreadBundle } from "../support/writer-thread-bundle.js";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const NS = (ms: number) => `${BigInt(ms) * 1_000_000n}`;
const JSON_TYPE = "application/json";
const PROTOBUF = "application/x-protobuf";

let t: TestApp;
let reader: Client;
let writer: GroupCommitWriter | undefined;
let writerThread: WriterThread | undefined;
let writerKind: "client" | "embedded" | "thread" = "client";
afterEach(async () => {
	writer?.close();
	writer = undefined;
	await writerThread?.close();
	writerThread = undefined;
	reader?.close();
	await t?.close();
});

async function setup(otlp?: Partial<OtlpSettings>) {
	t = await createTestApp({ clock: new FakeClock(T0) });
	reader = exactReader(t.database.dir);
	const org = await t.createOrgWithKey();
	if (writerKind === "embedded") writer = openEmbeddedWriter(join(t.database.dir, "test.db"));
	if (writerKind === "thread") {
		writerThread = openWriterThread(join(t.database.dir, "test.db"), {
			attributeLimits: { ...DEFAULT_OTLP_SETTINGS, ...otlp }.attributeLimits,
			maxStoredChars: maxStoredCharsOf({ ...DEFAULT_OTLP_SETTINGS, ...otlp }),
			entry: await writerThreadBundle(),
		});
		await writerThread.ready;
	}
	const app =
		otlp || writer || writerThread
			? createApp({
					...t.deps,
					writer,
					writerThread,
					config: { ...t.deps.config, otlp: { ...DEFAULT_OTLP_SETTINGS, ...otlp } },
				})
			: t.app;
	return { ...org, app };
}

let spanCounter = 0;
function span(overrides: Record<string, unknown> = {}): Record<string, unknown> {
	spanCounter++;
	return {
		traceId: "5b8efff798038103d269b633813fc60c",
		spanId: (0x1000 + spanCounter).toString(16).padStart(16, "0"),
		name: `op ${spanCounter}`,
		kind: 1,
		startTimeUnixNano: NS(T0 - 1000),
		endTimeUnixNano: NS(T0 - 900),
		...overrides,
	};
}

const traces = (
	spans: unknown[],
	resource: unknown[] = [{ key: "service.name", value: { stringValue: "api" } }],
) => ({
	resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ scope: { name: "test" }, spans }] }],
});

const logs = (records: unknown[]) => ({
	resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ logRecords: records }] }],
});

type App = Awaited<ReturnType<typeof setup>>["app"];

function post(
	app: App,
	path: string,
	init: { key?: string; type?: string; body?: BodyInit; headers?: Record<string, string> },
) {
	return app.request(path, {
		method: "POST",
		headers: {
			...(init.key ? { "X-API-Key": init.key } : {}),
			...(init.type ? { "Content-Type": init.type } : {}),
			...init.headers,
		},
		body: init.body ?? null,
	});
}

const postJson = (app: App, path: string, key: string, body: unknown, headers: Record<string, string> = {}) =>
	post(app, path, { key, type: JSON_TYPE, body: JSON.stringify(body), headers });

/** An export's partial_success, from either format: null when there is none. */
async function partialOf(
	response: Response,
	format: "json" | "protobuf",
): Promise<{ rejected: number; message: string } | null> {
	if (format === "protobuf") return decodeExportResponse(new Uint8Array(await response.arrayBuffer()));
	const body = (await response.json()) as { partialSuccess?: Record<string, string> };
	if (!body.partialSuccess) return null;
	const { errorMessage, ...counts } = body.partialSuccess;
	return { rejected: Number(Object.values(counts)[0] ?? 0), message: errorMessage ?? "" };
}

async function expectStatus(
	response: Response,
	status: number,
	grpcCode: number,
	reason: string,
	format: "json" | "protobuf" = "json",
) {
	expect(response.status).toBe(status);
	expect(response.headers.get("Content-Type")).toBe(format === "json" ? JSON_TYPE : PROTOBUF);
	expect(response.headers.get("X-Request-Id")).toBeTruthy();
	const body = await statusOf(response);
	expect(body.code).toBe(grpcCode);
	expect(body.message.length).toBeGreaterThan(0);
	expect(body.detailTypes[0]).toBe("type.googleapis.com/google.rpc.ErrorInfo");
	if (format === "json") {
		// the ErrorInfo reason carries the contract's code
		expect(body.message).not.toContain("stack");
	}
	return { ...body, reason };
}

/**
 * Every case runs over every writer: the libSQL client (Workers, remote), the embedded one on the
 * event loop, and the embedded one in its own thread (the Node server's default).
 */
describe.each(["client", "embedded", "thread"] as const)("with the %s writer", (kind) => {
	beforeEach(() => {
		writerKind = kind;
	});

	describe("OTLP/HTTP: credentials and content negotiation", () => {
		it("needs an API key: none → 401, a JWT → 403 api_key_required, both → 400, all as google.rpc.Status", async () => {
			const { app, orgId, key } = await setup();
			const none = await post(app, "/v1/traces", { type: PROTOBUF, body: new Uint8Array(0) });
			await expectStatus(none, 401, 16, "MISSING_CREDENTIALS", "protobuf");
			expect(none.headers.get("WWW-Authenticate")).toBe('ApiKey realm="hexcovery", header="X-API-Key"');

			const token = await t.mintToken({ orgId, role: "owner" });
			const jwt = await post(app, "/v1/logs", {
				type: JSON_TYPE,
				body: "{}",
				headers: { Authorization: `Bearer ${token}` },
			});
			expect(jwt.status).toBe(403);
			const jwtStatus = (await jwt.json()) as {
				code: number;
				message: string;
				details: Record<string, unknown>[];
			};
			expect(jwtStatus.code).toBe(7);
			expect(jwtStatus.details[0]).toMatchObject({
				"@type": "type.googleapis.com/google.rpc.ErrorInfo",
				reason: "API_KEY_REQUIRED",
				domain: "hexcovery",
				metadata: { request_id: jwt.headers.get("X-Request-Id") },
			});

			const both = await post(app, "/v1/metrics", {
				key,
				type: JSON_TYPE,
				body: "{}",
				headers: { Authorization: `Bearer ${token}` },
			});
			await expectStatus(both, 400, 3, "AMBIGUOUS_CREDENTIALS");

			const badKey = await post(app, "/v1/traces", { key: "hxk_not-a-key", type: JSON_TYPE, body: "{}" });
			await expectStatus(badKey, 401, 16, "INVALID_API_KEY");
			expect(await countOf(reader, "spans")).toBe(0);
		});

		it("415 for other content types and codings; 405 for other methods; JSON answers JSON, protobuf answers protobuf", async () => {
			const { app, key } = await setup();
			const text = await post(app, "/v1/traces", { key, type: "text/plain", body: "hello" });
			await expectStatus(text, 415, 3, "UNSUPPORTED_MEDIA_TYPE");
			const brotli = await post(app, "/v1/traces", {
				key,
				type: PROTOBUF,
				body: new Uint8Array(0),
				headers: { "Content-Encoding": "br" },
			});
			await expectStatus(brotli, 415, 3, "UNSUPPORTED_MEDIA_TYPE", "protobuf");
			const get = await app.request("/v1/traces", { headers: { "X-API-Key": key } });
			expect(get.status).toBe(405);
			expect(get.headers.get("Allow")).toBe("POST");

			const withCharset = await post(app, "/v1/logs", {
				key,
				type: "application/json; charset=utf-8",
				body: "{}",
			});
			expect(withCharset.status).toBe(200);
			expect(withCharset.headers.get("Content-Type")).toBe(JSON_TYPE);
			expect(await withCharset.text()).toBe("{}");
		});

		it("refuses an org_id in the query: the key decides the organization", async () => {
			const { app, key } = await setup();
			const response = await postJson(app, "/v1/traces?org_id=org_other", key, traces([span()]));
			await expectStatus(response, 400, 3, "INVALID_REQUEST");
			expect(await countOf(reader, "spans")).toBe(0);
		});

		it("is in the OpenAPI document", async () => {
			const { app } = await setup();
			const doc = (await (await app.request("/api/v1/openapi.json")).json()) as {
				paths: Record<string, unknown>;
			};
			expect(Object.keys(doc.paths)).toEqual(
				expect.arrayContaining(["/v1/traces", "/v1/logs", "/v1/metrics"]),
			);
		});
	});

	describe("OTLP/HTTP: a body sent to the wrong place says so", () => {
		const metrics = () => ({
			resourceMetrics: [
				{
					resource: { attributes: [] },
					scopeMetrics: [
						{
							metrics: [
								{ name: "queue.depth", gauge: { dataPoints: [{ asDouble: 4, timeUnixNano: NS(T0) }] } },
							],
						},
					],
				},
			],
		});
		const bodies = {
			traces: () => traces([span()]),
			logs: () => logs([{ timeUnixNano: NS(T0 - 1000), body: { stringValue: "misrouted" } }]),
			metrics,
		};
		const counts = async () => ({
			spans: await countOf(reader, "spans"),
			logs: await countOf(reader, "logs"),
			metric_points: await countOf(reader, "metric_points"),
		});
		const REJECTED = { traces: "rejectedSpans", logs: "rejectedLogRecords", metrics: "rejectedDataPoints" };

		it("JSON: another signal's export and nothing of its own → 200, a warning in partialSuccess with 0 rejected, a log line, nothing stored", async () => {
			const { app, key, orgId } = await setup();
			for (const [sent, path] of [
				["logs", "traces"],
				["metrics", "traces"],
				["traces", "logs"],
				["metrics", "logs"],
				["traces", "metrics"],
				["logs", "metrics"],
			] as const) {
				const response = await postJson(app, `/v1/${path}`, key, bodies[sent](), {
					"X-Request-Id": `mis-${sent}-${path}`,
				});
				expect(response.status).toBe(200);
				const answer = (await response.json()) as { partialSuccess: Record<string, string> };
				expect(answer.partialSuccess[REJECTED[path]]).toBe("0");
				expect(answer.partialSuccess.errorMessage).toContain(
					`looks like a ${sent} export sent to /v1/${path}, the ${path} endpoint. Send it to /v1/${sent}.`,
				);
				expect(t.logged.find((line) => line.request_id === `mis-${sent}-${path}`)).toMatchObject({
					level: "warn",
					msg: "OTLP export stored nothing: it belongs to another endpoint",
					org_id: orgId,
					path: `/v1/${path}`,
					looks_like: sent,
				});
			}
			expect(await counts()).toEqual({ spans: 0, logs: 0, metric_points: 0 });
		});

		it("JSON: its own data beside another signal's field, an empty export or only unknown fields → no warning", async () => {
			const { app, key } = await setup();
			const both = await postJson(app, "/v1/traces", key, { ...traces([span()]), ...bodies.logs() });
			expect(await both.text()).toBe("{}");
			for (const body of [{}, { resourceSpans: [], resourceLogs: [] }, { somethingElse: [1] }]) {
				const answer = await postJson(app, "/v1/traces", key, body);
				expect(answer.status).toBe(200);
				expect(await answer.text()).toBe("{}");
			}
			expect(await counts()).toEqual({ spans: 1, logs: 0, metric_points: 0 });
			expect(t.logged.filter((line) => line.level === "warn")).toEqual([]);
		});

		it("JSON: the top-level field in snake_case → a warning that names the lowerCamelCase one", async () => {
			const { app, key } = await setup();
			const response = await postJson(app, "/v1/traces", key, {
				resource_spans: traces([span()]).resourceSpans,
			});
			expect(response.status).toBe(200);
			expect(((await response.json()) as { partialSuccess: Record<string, string> }).partialSuccess).toEqual({
				rejectedSpans: "0",
				errorMessage:
					"Nothing was stored: OTLP/JSON field names are lowerCamelCase, so resource_spans was ignored. Send resourceSpans.",
			});
			expect(await countOf(reader, "spans")).toBe(0);
		});

		it("protobuf: another signal's export → 400 that names the signal it decodes as, not only a wire-type error", async () => {
			const { app, key } = await setup();
			const cases = [
				["LogsRequest", "logs", "traces", "ExportTraceServiceRequest", "ExportLogsServiceRequest"],
				["TraceRequest", "traces", "metrics", "ExportMetricsServiceRequest", "ExportTraceServiceRequest"],
				["MetricsRequest", "metrics", "logs", "ExportLogsServiceRequest", "ExportMetricsServiceRequest"],
			] as const;
			for (const [message, sent, path, expected, actual] of cases) {
				const response = await post(app, `/v1/${path}`, {
					key,
					type: PROTOBUF,
					body: encodeOtlp(message, bodies[sent]()),
				});
				const status = await expectStatus(response, 400, 3, "INVALID_REQUEST", "protobuf");
				expect(status.message).toMatch(
					new RegExp(
						`^The body is not a valid ${expected} \\(.+\\) but decodes as an ${actual}: it looks like a ${sent} export sent to /v1/${path}, the ${path} endpoint\\. Send it to /v1/${sent}\\.$`,
					),
				);
			}
			// Garbage decodes as nothing: the plain decoding error.
			const garbage = await post(app, "/v1/traces", {
				key,
				type: PROTOBUF,
				body: new Uint8Array([0x0a, 0x05, 1]),
			});
			expect((await expectStatus(garbage, 400, 3, "INVALID_REQUEST", "protobuf")).message).toMatch(
				/^The body cannot be decoded: /,
			);
			expect(await counts()).toEqual({ spans: 0, logs: 0, metric_points: 0 });
		});

		it("JSON sent as application/x-protobuf → 400 saying the body looks like JSON; a protobuf body that starts with a newline and 0x7b is still protobuf", async () => {
			const { app, key } = await setup();
			for (const body of [
				JSON.stringify(traces([span()])),
				` \n\t${JSON.stringify(traces([span()]))}`,
				"[]",
				"{}",
			]) {
				const response = await post(app, "/v1/traces", { key, type: PROTOBUF, body });
				const status = await expectStatus(response, 400, 3, "INVALID_REQUEST", "protobuf");
				expect(status.message).toBe(
					"The body looks like JSON, but the Content-Type says application/x-protobuf: send it with Content-Type: application/json (or send protobuf).",
				);
			}
			const gzipped = await post(app, "/v1/logs", {
				key,
				type: PROTOBUF,
				body: gzipSync(JSON.stringify(bodies.logs())),
				headers: { "Content-Encoding": "gzip" },
			});
			expect((await expectStatus(gzipped, 400, 3, "INVALID_REQUEST", "protobuf")).message).toContain(
				"looks like JSON",
			);
			expect(await counts()).toEqual({ spans: 0, logs: 0, metric_points: 0 });

			// A ResourceSpans of exactly 0x7b bytes: the body starts 0x0a 0x7b ("\n{"), and is stored.
			let name = "x";
			let bytes = encodeOtlp("TraceRequest", traces([span({ name })]));
			while (bytes[1] !== 0x7b) {
				name += "x";
				bytes = encodeOtlp("TraceRequest", traces([span({ name })]));
				expect(bytes[1]).toBeLessThanOrEqual(0x7b);
			}
			expect([...bytes.subarray(0, 2)]).toEqual([0x0a, 0x7b]);
			const protobuf = await post(app, "/v1/traces", { key, type: PROTOBUF, body: bytes });
			expect(protobuf.status).toBe(200);
			expect(await countOf(reader, "spans")).toBe(1);
		});
	});

	describe("OTLP/HTTP: bad input leaves stored data intact", () => {
		async function withStoredSpan() {
			const setupResult = await setup();
			const ok = await postJson(
				setupResult.app,
				"/v1/traces",
				setupResult.key,
				traces([span({ name: "kept" })]),
			);
			expect(ok.status).toBe(200);
			return setupResult;
		}

		it("an empty request is a success: zero-byte protobuf, {} and empty lists", async () => {
			const { app, key } = await setup();
			for (const path of ["/v1/traces", "/v1/logs", "/v1/metrics"]) {
				const empty = await post(app, path, { key, type: PROTOBUF, body: new Uint8Array(0) });
				expect(empty.status).toBe(200);
				expect(new Uint8Array(await empty.arrayBuffer())).toEqual(new Uint8Array(0));
				const emptyJson = await postJson(app, path, key, {});
				expect(emptyJson.status).toBe(200);
				expect(await emptyJson.text()).toBe("{}");
			}
			const emptyScopes = await postJson(app, "/v1/traces", key, {
				resourceSpans: [{ scopeSpans: [{ spans: [] }] }],
			});
			expect(await emptyScopes.text()).toBe("{}");
			expect(await countOf(reader, "spans")).toBe(0);
		});

		it("truncated protobuf → 400 with BadRequest; nothing of it stored", async () => {
			const { app, key } = await withStoredSpan();
			const whole = encodeOtlp("TraceRequest", traces([span(), span()]));
			for (const cut of [1, 7, Math.floor(whole.length / 2), whole.length - 1]) {
				const response = await post(app, "/v1/traces", { key, type: PROTOBUF, body: whole.slice(0, cut) });
				const status = await expectStatus(response, 400, 3, "INVALID_REQUEST", "protobuf");
				expect(status.detailTypes).toContain("type.googleapis.com/google.rpc.BadRequest");
			}
			const garbage = await post(app, "/v1/logs", {
				key,
				type: PROTOBUF,
				body: new Uint8Array([0x0a, 0xff, 0xff, 0xff]),
			});
			await expectStatus(garbage, 400, 3, "INVALID_REQUEST", "protobuf");
			// A field declared 4 GiB long (2^32: its low 32 bits are 0) with nothing in it was taken as empty:
			// a message, a span's name (a string) and a field the decoder skips.
			const fourGiB = [0x80, 0x80, 0x80, 0x80, 0x10];
			/** A length-delimited field: its tag, then its length as a varint, then the bytes. */
			const field = (tag: number, bytes: number[]) => {
				const length: number[] = [];
				for (let n = bytes.length; ; n >>>= 7) {
					if (n < 0x80) {
						length.push(n);
						break;
					}
					length.push((n & 0x7f) | 0x80);
				}
				return [tag, ...length, ...bytes];
			};
			const inSpan = (spanBytes: number[]) => field(0x0a, field(0x12, field(0x12, spanBytes)));
			for (const body of [
				[0x0a, ...fourGiB],
				[0x0a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
				inSpan([0x2a, ...fourGiB]),
				inSpan([0x9a, 0x06, ...fourGiB]),
			]) {
				const huge = await post(app, "/v1/traces", { key, type: PROTOBUF, body: new Uint8Array(body) });
				await expectStatus(huge, 400, 3, "INVALID_REQUEST", "protobuf");
			}
			expect((await rowsOf(reader, "spans")).map((r) => r.name)).toEqual(["kept"]);
		});

		it("invalid JSON and JSON of the wrong shape → 400 naming the field", async () => {
			const { app, key } = await withStoredSpan();
			const broken = await post(app, "/v1/traces", { key, type: JSON_TYPE, body: '{"resourceSpans": [' });
			await expectStatus(broken, 400, 3, "INVALID_REQUEST");
			const wrongType = await postJson(app, "/v1/traces", key, traces([span({ startTimeUnixNano: "soon" })]));
			expect(wrongType.status).toBe(400);
			const body = (await wrongType.json()) as { details: { fieldViolations?: { field: string }[] }[] };
			expect(body.details[1]?.fieldViolations?.[0]?.field).toBe(
				"resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano",
			);
			const notObject = await postJson(app, "/v1/logs", key, [1, 2]);
			await expectStatus(notObject, 400, 3, "INVALID_REQUEST");
			expect(await countOf(reader, "spans")).toBe(1);
			expect(await countOf(reader, "logs")).toBe(0);
		});

		it("ignores unknown fields and accepts int64 as numbers and enum names", async () => {
			const { app, key } = await setup();
			const response = await postJson(
				app,
				"/v1/traces",
				key,
				traces([
					span({
						futureField: { anything: true },
						kind: "SPAN_KIND_CLIENT",
						startTimeUnixNano: Number(NS(T0 - 2000)),
						status: { code: "STATUS_CODE_OK" },
					}),
				]),
			);
			expect(response.status).toBe(200);
			const [row] = await rowsOf(reader, "spans");
			expect([row?.kind, row?.status_code, row?.duration_ns]).toEqual(["client", "ok", 1_100_000_000]);
		});

		it("a NUL character in a string is stored as U+FFFD, JSON and protobuf alike (it cut the text when read back)", async () => {
			const { app, key } = await setup();
			const json = await postJson(
				app,
				"/v1/traces",
				key,
				traces(
					[
						span({ name: "check\u0000out" }),
						// The text "\u0000" (an escaped backslash, then "u0000") is no NUL: kept as sent.
						span({ name: "literal \\u0000" }),
					],
					[{ key: "service.name", value: { stringValue: "shop\u0000front" } }],
				),
			);
			expect(json.status).toBe(200);
			const proto = await post(app, "/v1/traces", {
				key,
				type: PROTOBUF,
				body: encodeOtlp("TraceRequest", traces([span({ name: "proto\u0000name" })])),
			});
			expect(proto.status).toBe(200);
			const rows = await rowsOf(reader, "spans");
			expect(rows.map((r) => r.name).sort()).toEqual([
				"check\uFFFDout",
				"literal \\u0000",
				"proto\uFFFDname",
			]);
			expect(rows.filter((r) => r.service === "shop\uFFFDfront")).toHaveLength(2);
		});

		it("ids of the wrong length, missing start times and out-of-range timestamps → partial_success, the rest stored", async () => {
			const { app, key } = await setup();
			const request = traces([
				span({ name: "good" }),
				span({ traceId: "abcd" }),
				span({ spanId: "0000000000000000" }),
				span({ parentSpanId: "abcd" }),
				span({ startTimeUnixNano: "0" }),
				span({ endTimeUnixNano: NS(T0 - 5000) }),
				span({ startTimeUnixNano: NS(T0 - 31 * 86_400_000) }),
				span({ startTimeUnixNano: NS(T0 + 2 * 3_600_000), endTimeUnixNano: NS(T0 + 2 * 3_600_000) }),
			]);
			const json = await postJson(app, "/v1/traces", key, request);
			expect(json.status).toBe(200);
			const partial = (await json.json()) as {
				partialSuccess: { rejectedSpans: string; errorMessage: string };
			};
			expect(partial.partialSuccess.rejectedSpans).toBe("7");
			expect(partial.partialSuccess.errorMessage).toMatch(/^Rejected 7 of 8 spans: /);
			for (const reason of [
				"trace id",
				"span id",
				"parent span id",
				"without a start time",
				"ending before",
				"retention",
				"future",
			]) {
				expect(partial.partialSuccess.errorMessage).toContain(reason);
			}

			const protobuf = await post(app, "/v1/traces", {
				key,
				type: PROTOBUF,
				body: encodeOtlp("TraceRequest", request),
			});
			expect(protobuf.status).toBe(200);
			const decoded = decodeExportResponse(new Uint8Array(await protobuf.arrayBuffer()));
			expect(decoded?.rejected).toBe(7);
			expect(decoded?.message).toMatch(/^Rejected 7 of 8 spans/);
			expect((await rowsOf(reader, "spans")).map((r) => r.name)).toEqual(["good", "good"]);

			const badLogs = await postJson(
				app,
				"/v1/logs",
				key,
				logs([{ body: { stringValue: "ok" } }, { body: { stringValue: "bad trace" }, traceId: "123" }]),
			);
			expect(
				((await badLogs.json()) as { partialSuccess: { rejectedLogRecords: string } }).partialSuccess
					.rejectedLogRecords,
			).toBe("1");
			const stored = await rowsOf(reader, "logs");
			// No timestamps at all: stamped with the time it was received.
			expect(stored.map((r) => [r.body, r.timestamp, r.observed_timestamp])).toEqual([
				["ok", BigInt(NS(T0)), BigInt(NS(T0))],
			]);

			const badPoints = await postJson(app, "/v1/metrics", key, {
				resourceMetrics: [
					{
						scopeMetrics: [
							{
								metrics: [
									{
										name: "g",
										gauge: { dataPoints: [{ asDouble: 1, timeUnixNano: NS(T0) }, { asDouble: 2 }] },
									},
									{ name: "", gauge: { dataPoints: [{ asDouble: 3, timeUnixNano: NS(T0) }] } },
									{
										name: "h",
										histogram: {
											dataPoints: [
												{ timeUnixNano: NS(T0), count: "2", bucketCounts: ["1", "1"], explicitBounds: [] },
											],
										},
									},
								],
							},
						],
					},
				],
			});
			const pointAnswer = (await badPoints.json()) as {
				partialSuccess: { rejectedDataPoints: string; errorMessage: string };
			};
			expect(pointAnswer.partialSuccess.rejectedDataPoints).toBe("3");
			expect((await rowsOf(reader, "metric_points")).map((r) => [r.metric_name, r.value])).toEqual([
				["g", 1],
			]);
		});

		it("a body over the limit → 413, by Content-Length, while streaming, and after decompression", async () => {
			const { app, key } = await setup({ maxBodyBytes: 64 * 1024 });
			const big = new Uint8Array(64 * 1024 + 1);
			const declared = await post(app, "/v1/traces", { key, type: PROTOBUF, body: big });
			await expectStatus(declared, 413, 8, "PAYLOAD_TOO_LARGE", "protobuf");

			const streamed = await app.request("/v1/traces", {
				method: "POST",
				headers: { "X-API-Key": key, "Content-Type": PROTOBUF },
				body: new ReadableStream({
					start(controller) {
						for (let i = 0; i < 20; i++) controller.enqueue(new Uint8Array(8 * 1024));
						controller.close();
					},
				}),
				duplex: "half",
			} as RequestInit);
			await expectStatus(streamed, 413, 8, "PAYLOAD_TOO_LARGE", "protobuf");

			// 2 MiB of JSON whitespace compresses to a few KiB: small on the wire, over the limit inflated.
			const inflatesBig = gzipSync(Buffer.from(`{${" ".repeat(2 * 1024 * 1024)}}`));
			expect(inflatesBig.length).toBeLessThan(64 * 1024);
			const inflated = await post(app, "/v1/logs", {
				key,
				type: JSON_TYPE,
				body: inflatesBig,
				headers: { "Content-Encoding": "gzip" },
			});
			await expectStatus(inflated, 413, 8, "PAYLOAD_TOO_LARGE");
		});

		it("records repeating a large resource past 4× the body limit as stored → 413, nothing of the export stored; under it → 200", async () => {
			// A 64 KiB body limit: an export's rows may take 256 Ki characters as stored.
			const { app, key } = await setup({ maxBodyBytes: 64 * 1024 });
			expect((await postJson(app, "/v1/traces", key, traces([span({ name: "before" })]))).status).toBe(200);
			const resource = [
				{ key: "service.name", value: { stringValue: "api" } },
				{ key: "blob", value: { stringValue: "r".repeat(2_000) } },
			];
			// 200 spans × 2 KB of resource ≈ 470 KB stored from a body of ~30 KB: over, past the first
			// 64 rows a streaming writer has already written (they are rolled back).
			const amplified = traces(
				Array.from({ length: 200 }, () => span({ name: "amplified" })),
				resource,
			);
			for (const format of ["json", "protobuf"] as const) {
				const body = format === "json" ? JSON.stringify(amplified) : encodeOtlp("TraceRequest", amplified);
				expect(body.length).toBeLessThan(48 * 1024);
				const response = await post(app, "/v1/traces", {
					key,
					type: format === "json" ? JSON_TYPE : PROTOBUF,
					body,
				});
				const status = await expectStatus(response, 413, 8, "PAYLOAD_TOO_LARGE", format);
				expect(status.message).toMatch(/as stored.*fewer records per export/);
			}
			// 80 of them (≈ 190 KB stored) are taken whole.
			const under = await postJson(
				app,
				"/v1/traces",
				key,
				traces(
					Array.from({ length: 80 }, () => span({ name: "under" })),
					resource,
				),
			);
			expect(under.status).toBe(200);
			expect(((await under.json()) as { partialSuccess?: unknown }).partialSuccess).toBeUndefined();
			const names = (await rowsOf(reader, "spans")).map((r) => r.name);
			expect(names.filter((n) => n === "amplified")).toEqual([]);
			expect(names.filter((n) => n === "under")).toHaveLength(80);
			expect(names).toContain("before");
		});

		it("span events and links beyond 256 per span are dropped and reported; the span and the rest are kept", async () => {
			const { app, key } = await setup();
			const event = (i: number) => ({ name: `e${i}`, timeUnixNano: NS(T0 - 950) });
			const link = (i: number) => ({
				traceId: "5b8efff798038103d269b633813fc60c",
				spanId: (0x9000 + i).toString(16).padStart(16, "0"),
			});
			for (const format of ["json", "protobuf"] as const) {
				const request = traces([
					span({
						name: `crowded ${format}`,
						events: Array.from({ length: 300 }, (_, i) => event(i)),
						links: Array.from({ length: 260 }, (_, i) => link(i)),
					}),
				]);
				const response = await post(app, "/v1/traces", {
					key,
					type: format === "json" ? JSON_TYPE : PROTOBUF,
					body: format === "json" ? JSON.stringify(request) : encodeOtlp("TraceRequest", request),
				});
				expect(response.status).toBe(200);
				expect(await partialOf(response, format)).toEqual({
					rejected: 0,
					message: "Dropped 44 span events and 4 span links beyond 256 per span.",
				});
				const [row] = await rowsOf(reader, "spans", { where: "name = ?", args: [`crowded ${format}`] });
				const events = JSON.parse(String(row?.events)) as { name: string }[];
				const links = JSON.parse(String(row?.links)) as { span_id: string }[];
				expect(events).toHaveLength(256);
				expect(events[0]?.name).toBe("e0");
				expect(events[255]?.name).toBe("e255");
				expect(links).toHaveLength(256);
			}
		});

		it("every span link counts toward the 256, valid or not, in JSON and protobuf alike", async () => {
			const { app, key } = await setup();
			const invalid = { traceId: "", spanId: "" };
			const valid = (i: number) => ({
				traceId: "5b8efff798038103d269b633813fc60c",
				spanId: (0xa000 + i).toString(16).padStart(16, "0"),
			});
			for (const format of ["json", "protobuf"] as const) {
				const request = traces([
					span({
						name: `linked ${format}`,
						links: [
							...Array.from({ length: 10 }, () => invalid),
							...Array.from({ length: 300 }, (_, i) => valid(i)),
						],
					}),
				]);
				const response = await post(app, "/v1/traces", {
					key,
					type: format === "json" ? JSON_TYPE : PROTOBUF,
					body: format === "json" ? JSON.stringify(request) : encodeOtlp("TraceRequest", request),
				});
				expect(await partialOf(response, format)).toEqual({
					rejected: 0,
					message: "Dropped 54 span links beyond 256 per span.",
				});
				const [row] = await rowsOf(reader, "spans", { where: "name = ?", args: [`linked ${format}`] });
				expect(JSON.parse(String(row?.links))).toHaveLength(246);
			}
		});

		it("a data point with more than 4,096 values in a list (buckets, bounds, quantiles) is rejected; the others are stored", async () => {
			const { app, key } = await setup();
			const many = 4097;
			const metric = (name: string, data: Record<string, unknown>) => ({ name, ...data });
			const point = { timeUnixNano: NS(T0 - 1000), count: "1" };
			const request = {
				resourceMetrics: [
					{
						resource: { attributes: [] },
						scopeMetrics: [
							{
								metrics: [
									metric("h_ok", {
										histogram: {
											aggregationTemporality: 2,
											dataPoints: [
												{
													...point,
													bucketCounts: Array.from({ length: 4096 }, () => "0"),
													explicitBounds: Array.from({ length: 4095 }, (_, i) => i),
												},
											],
										},
									}),
									metric("h_many", {
										histogram: {
											aggregationTemporality: 2,
											dataPoints: [
												{
													...point,
													bucketCounts: Array.from({ length: many }, () => "0"),
													explicitBounds: Array.from({ length: many - 1 }, (_, i) => i),
												},
											],
										},
									}),
									metric("e_many", {
										exponentialHistogram: {
											aggregationTemporality: 2,
											dataPoints: [
												{
													...point,
													positive: { offset: 0, bucketCounts: Array.from({ length: many }, () => "1") },
												},
											],
										},
									}),
									metric("s_many", {
										summary: {
											dataPoints: [
												{
													...point,
													quantileValues: Array.from({ length: many }, (_, i) => ({
														quantile: i / many,
														value: i,
													})),
												},
											],
										},
									}),
									metric("g", { gauge: { dataPoints: [{ timeUnixNano: NS(T0 - 1000), asDouble: 1 }] } }),
								],
							},
						],
					},
				],
			};
			for (const format of ["json", "protobuf"] as const) {
				const response = await post(app, "/v1/metrics", {
					key,
					type: format === "json" ? JSON_TYPE : PROTOBUF,
					body: format === "json" ? JSON.stringify(request) : encodeOtlp("MetricsRequest", request),
				});
				expect(response.status).toBe(200);
				expect(await partialOf(response, format)).toEqual({
					rejected: 3,
					message:
						"Rejected 3 of 5 data points: 3 with more than 4096 values in one list (buckets, bounds or quantiles).",
				});
			}
			const names = (await rowsOf(reader, "metric_points")).map((r) => r.metric_name).sort();
			expect(names).toEqual(["g", "g", "h_ok", "h_ok"]);
		});

		it("over a real socket on Node: fixed-length, chunked and gzip bodies are read from Node's request; one over the limit while streaming is 413 and the server goes on", async () => {
			const { app, key } = await setup({ maxBodyBytes: 64 * 1024 });
			const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
			await new Promise<void>((resolve) => server.once("listening", () => resolve()));
			const port = (server.address() as AddressInfo).port;
			/** A raw HTTP/1.1 request, so the framing is exactly as given. */
			const send = (headers: Record<string, string>, chunks: Uint8Array[]) =>
				new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
					const req = httpRequest(
						{
							host: "127.0.0.1",
							port,
							method: "POST",
							path: "/v1/traces",
							headers: { "X-API-Key": key, ...headers },
						},
						(res) => {
							const parts: Buffer[] = [];
							res.on("data", (part: Buffer) => parts.push(part));
							res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
						},
					);
					req.on("error", reject);
					for (const chunk of chunks) req.write(chunk);
					req.end();
				});
			const json = (n: number) =>
				Buffer.from(JSON.stringify(traces(Array.from({ length: n }, () => span()))));
			try {
				const fixed = json(2);
				expect(
					(await send({ "Content-Type": JSON_TYPE, "Content-Length": String(fixed.length) }, [fixed])).status,
				).toBe(200);
				const chunked = json(3);
				const halves = [chunked.subarray(0, 50), chunked.subarray(50)];
				expect(
					(await send({ "Content-Type": JSON_TYPE, "Transfer-Encoding": "chunked" }, halves)).status,
				).toBe(200);
				const gzipped = gzipSync(json(4));
				expect(
					(
						await send(
							{
								"Content-Type": JSON_TYPE,
								"Content-Encoding": "gzip",
								"Content-Length": String(gzipped.length),
							},
							[gzipped],
						)
					).status,
				).toBe(200);
				const over = await send(
					{ "Content-Type": PROTOBUF, "Transfer-Encoding": "chunked" },
					Array.from({ length: 20 }, () => new Uint8Array(8 * 1024)),
				);
				expect(over.status).toBe(413);
				const empty = await send({ "Content-Type": JSON_TYPE }, []);
				expect(empty.status).toBe(400);
				expect(
					(await send({ "Content-Type": JSON_TYPE, "Content-Length": String(fixed.length) }, [fixed])).status,
				).toBe(200);
				expect(await countOf(reader, "spans")).toBe(2 + 3 + 4 + 2);
			} finally {
				await new Promise<void>((resolve) => {
					if ("closeAllConnections" in server) server.closeAllConnections();
					server.close(() => resolve());
				});
			}
		});

		it("the default limit is 16 MiB", async () => {
			const { app, key } = await setup();
			const over = await post(app, "/v1/traces", {
				key,
				type: PROTOBUF,
				body: new Uint8Array(16 * 1024 * 1024 + 1),
			});
			await expectStatus(over, 413, 8, "PAYLOAD_TOO_LARGE", "protobuf");
		});

		it("a gzip bomb is never inflated past the limit", async () => {
			const { app, key } = await setup({ maxBodyBytes: 1024 * 1024 });
			// 1 GiB of zeros, gzipped to about 1 MiB, streamed through zlib so the test never holds it.
			const gzip = createGzip({ level: 9 });
			const parts: Buffer[] = [];
			gzip.on("data", (chunk: Buffer) => parts.push(chunk));
			const zeros = Buffer.alloc(1024 * 1024);
			for (let i = 0; i < 1024; i++) {
				if (!gzip.write(zeros)) await new Promise((resolve) => gzip.once("drain", resolve));
			}
			await new Promise((resolve) => gzip.end(resolve));
			const bomb = Buffer.concat(parts);
			expect(bomb.length).toBeLessThan(1024 * 1024);

			let peak = process.memoryUsage().rss;
			const before = peak;
			const sampler = setInterval(() => {
				peak = Math.max(peak, process.memoryUsage().rss);
			}, 2);
			try {
				const response = await post(app, "/v1/traces", {
					key,
					type: PROTOBUF,
					body: bomb,
					headers: { "Content-Encoding": "gzip" },
				});
				await expectStatus(response, 413, 8, "PAYLOAD_TOO_LARGE", "protobuf");
			} finally {
				clearInterval(sampler);
			}
			peak = Math.max(peak, process.memoryUsage().rss);
			// Inflating it all would take 1 GiB; the limit is 1 MiB.
			expect(peak - before).toBeLessThan(256 * 1024 * 1024);
		});

		it("gzip, zlib deflate and raw deflate bodies are accepted; corrupt compression is 400", async () => {
			const { app, key } = await setup();
			const body = encodeOtlp("TraceRequest", traces([span({ name: "gz" })]));
			for (const [encoding, bytes] of [
				["gzip", gzipSync(body)],
				["deflate", deflateSync(body)],
				["deflate", deflateRawSync(body)],
			] as const) {
				const response = await post(app, "/v1/traces", {
					key,
					type: PROTOBUF,
					body: bytes,
					headers: { "Content-Encoding": encoding },
				});
				expect(response.status).toBe(200);
			}
			const corrupt = await post(app, "/v1/traces", {
				key,
				type: PROTOBUF,
				body: new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]),
				headers: { "Content-Encoding": "gzip" },
			});
			await expectStatus(corrupt, 400, 3, "INVALID_REQUEST", "protobuf");
			expect(await countOf(reader, "spans")).toBe(3);
		});

		it("a database failure → 503 with Retry-After; nothing of the request is kept, earlier data is", async () => {
			const { app, key } = await withStoredSpan();
			// The 550th record fails: its INSERT is the second statement of the request's transaction.
			await reader.execute(
				"CREATE TRIGGER fail_ingest BEFORE INSERT ON logs WHEN NEW.body = 'boom' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
			);
			const records = Array.from({ length: 600 }, (_, i) => ({
				body: { stringValue: i === 549 ? "boom" : `line ${i}` },
			}));
			for (const type of [JSON_TYPE, PROTOBUF]) {
				const body =
					type === JSON_TYPE ? JSON.stringify(logs(records)) : encodeOtlp("LogsRequest", logs(records));
				const response = await post(app, "/v1/logs", { key, type, body });
				await expectStatus(
					response,
					503,
					14,
					"STORAGE_UNAVAILABLE",
					type === JSON_TYPE ? "json" : "protobuf",
				);
				expect(response.headers.get("Retry-After")).toBe("5");
			}
			expect(await countOf(reader, "logs")).toBe(0);
			expect(await countOf(reader, "attribute_keys")).toBeGreaterThan(0);
			const keysBefore = await countOf(reader, "attribute_keys");
			expect(await countOf(reader, "spans")).toBe(1);

			await reader.execute("DROP TRIGGER fail_ingest");
			const retry = await postJson(app, "/v1/logs", key, logs(records));
			expect(retry.status).toBe(200);
			expect(await countOf(reader, "logs")).toBe(600);
			expect(await countOf(reader, "attribute_keys")).toBeGreaterThanOrEqual(keysBefore);
		});

		it("too many requests of one org in flight → 429 with Retry-After; other orgs go on", async () => {
			const { app, key } = await setup({ maxConcurrentPerOrg: 1, maxBodyBytes: 64 * 1024 });
			const other = await t.createOrgWithKey("Other");
			let finish!: () => void;
			const held = new Promise<void>((resolve) => {
				finish = resolve;
			});
			const body = new TextEncoder().encode(JSON.stringify(traces([span({ name: "slow" })])));
			const slow = app.request("/v1/traces", {
				method: "POST",
				headers: { "X-API-Key": key, "Content-Type": JSON_TYPE },
				body: new ReadableStream({
					async pull(controller) {
						await held;
						controller.enqueue(body);
						controller.close();
					},
				}),
				duplex: "half",
			} as RequestInit);
			// Let the slow request authenticate and take its slot.
			for (let i = 0; i < 50 && (await countInFlight()) === 0; i++)
				await new Promise((r) => setTimeout(r, 5));
			const limited = await postJson(app, "/v1/traces", key, traces([span()]));
			await expectStatus(limited, 429, 8, "RATE_LIMITED");
			expect(limited.headers.get("Retry-After")).toBe("1");
			// A body over the limit is 413 even then: a 429 would have it retried forever.
			const tooBig = await post(app, "/v1/traces", {
				key,
				type: PROTOBUF,
				body: new Uint8Array(64 * 1024 + 1),
				headers: { "Content-Length": String(64 * 1024 + 1) },
			});
			await expectStatus(tooBig, 413, 8, "PAYLOAD_TOO_LARGE", "protobuf");
			const otherOrg = await postJson(app, "/v1/traces", other.key, traces([span({ name: "other org" })]));
			expect(otherOrg.status).toBe(200);
			finish();
			expect((await slow).status).toBe(200);
			const after = await postJson(app, "/v1/traces", key, traces([span({ name: "after" })]));
			expect(after.status).toBe(200);
			expect((await rowsOf(reader, "spans")).map((r) => r.name).sort()).toEqual([
				"after",
				"other org",
				"slow",
			]);

			async function countInFlight(): Promise<number> {
				const probe = await postJson(app, "/v1/traces", key, {});
				return probe.status === 429 ? 1 : 0;
			}
		});
	});

	describe("OTLP/HTTP: tenancy, discovery and retention", () => {
		it("rows carry the key's org whatever the payload says", async () => {
			const { app, orgId, key } = await setup();
			const other = await t.createOrgWithKey("Other");
			const sneaky = [
				{ key: "service.name", value: { stringValue: "api" } },
				{ key: "org_id", value: { stringValue: other.orgId } },
			];
			const response = await postJson(app, "/v1/traces", key, {
				...traces(
					[span({ name: "mine", attributes: [{ key: "org_id", value: { stringValue: other.orgId } }] })],
					sneaky,
				),
				org_id: other.orgId,
			});
			expect(response.status).toBe(200);
			const rows = await rowsOf(reader, "spans");
			expect(rows.map((r) => r.org_id)).toEqual([orgId]);
			expect(JSON.parse(rows[0]?.resource_attributes as string).org_id).toBe(other.orgId);
			expect(await rowsOf(reader, "spans", { where: "org_id = ?", args: [other.orgId] })).toEqual([]);
		});

		it("records attribute keys per org and source: types OR-ed, up to five examples, bounded, written once per key", async () => {
			const { app, orgId, key } = await setup();
			const attrs = (value: unknown) => [{ key: "http.route", value }];
			await postJson(
				app,
				"/v1/traces",
				key,
				traces([
					span({ attributes: attrs({ stringValue: "/a" }) }),
					span({ attributes: attrs({ stringValue: "/b" }) }),
				]),
			);
			await postJson(app, "/v1/traces", key, traces([span({ attributes: attrs({ intValue: "7" }) })]));
			const keys = await rowsOf(reader, "attribute_keys", { orderBy: "namespace, key" });
			expect(
				keys.map((k) => [
					k.org_id,
					k.source,
					k.namespace,
					k.key,
					k.value_types,
					JSON.parse(k.examples as string),
				]),
			).toEqual([
				[orgId, "spans", "attributes", "http.route", 1 | 4, ["/a", "/b", "7"]],
				[orgId, "spans", "resource", "service.name", 1, ["api"]],
			]);
			expect(keys[0]?.first_seen).toBe(T0);

			// Nothing new within the refresh window: no write (last_seen stays); after it, one refresh.
			t.clock.advance(60_000);
			await postJson(app, "/v1/traces", key, traces([span({ attributes: attrs({ stringValue: "/a" }) })]));
			expect(
				(await rowsOf(reader, "attribute_keys", { where: "key = 'http.route'", orderBy: "key" }))[0]
					?.last_seen,
			).toBe(T0);
			t.clock.advance(DISCOVERY_LIMITS.refreshMs);
			await postJson(app, "/v1/traces", key, traces([span({ attributes: attrs({ stringValue: "/a" }) })]));
			expect(
				(await rowsOf(reader, "attribute_keys", { where: "key = 'http.route'", orderBy: "key" }))[0]
					?.last_seen,
			).toBe(T0 + 60_000 + DISCOVERY_LIMITS.refreshMs);

			// The key cap is a module constant this test lowers in its own process; the writer thread has
			// its own copy of the module, so the cap is checked here over the writers in this process (the
			// thread runs the same DiscoveryMemory.plan).
			if (writerKind !== "thread") {
				const cap = DISCOVERY_LIMITS.maxKeysPerOrg;
				DISCOVERY_LIMITS.maxKeysPerOrg = 4;
				try {
					const many = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: { boolValue: true } }));
					// 2 keys stored, under the cap of 4: this request's 10 new keys all go in (the bound's slack).
					await postJson(app, "/v1/logs", key, logs([{ body: { stringValue: "x" }, attributes: many }]));
					// Over the cap: a new key is refused, known keys are still updated.
					await postJson(
						app,
						"/v1/logs",
						key,
						logs([
							{
								body: { stringValue: "x" },
								attributes: [
									{ key: "k0", value: { stringValue: "s" } },
									{ key: "new", value: { stringValue: "n" } },
								],
							},
						]),
					);
				} finally {
					DISCOVERY_LIMITS.maxKeysPerOrg = cap;
				}
				const logKeys = await rowsOf(reader, "attribute_keys", { where: "source = 'logs'", orderBy: "key" });
				expect(logKeys.map((k) => k.key)).toEqual([
					"k0",
					"k1",
					"k2",
					"k3",
					"k4",
					"k5",
					"k6",
					"k7",
					"k8",
					"k9",
				]);
				expect([logKeys[0]?.value_types, JSON.parse(logKeys[0]?.examples as string)]).toEqual([
					2 | 1,
					["s", "true"],
				]);
			}
		});

		it("metric names longer than a key may be are not recorded for discovery; a long unit or description is cut (the points are stored)", async () => {
			const { app, key } = await setup();
			const point = { timeUnixNano: NS(T0 - 1000), asDouble: 1 };
			const metric = (name: string, unit: string, description: string) => ({
				name,
				unit,
				description,
				gauge: { dataPoints: [point] },
			});
			const long = `m.${"x".repeat(300)}`;
			const response = await postJson(app, "/v1/metrics", key, {
				resourceMetrics: [
					{
						resource: { attributes: [] },
						scopeMetrics: [
							{
								metrics: [
									metric("described", "u".repeat(100), "d".repeat(5_000)),
									metric(long, "By", "a name past 256 characters"),
								],
							},
						],
					},
				],
			});
			expect(response.status).toBe(200);
			const names = await rowsOf(reader, "metric_names", { orderBy: "name" });
			expect(names.map((r) => r.name)).toEqual(["described"]);
			expect(String(names[0]?.unit)).toHaveLength(DISCOVERY_LIMITS.maxUnitLength);
			expect(String(names[0]?.description)).toHaveLength(DISCOVERY_LIMITS.maxDescriptionLength);
			expect((await rowsOf(reader, "metric_points")).map((r) => r.metric_name).sort()).toEqual([
				"described",
				long,
			]);
		});

		it("the sweep deletes telemetry past each org's retention, in bounded batches", async () => {
			const { app, orgId, key } = await setup();
			const shortLived = await t.createOrgWithKey("Short");
			await t.deps.db.update(orgs).set({ retentionDays: 1 }).where(eq(orgs.id, shortLived.orgId));
			const old = Array.from({ length: 12 }, (_, i) =>
				span({
					name: `old ${i}`,
					startTimeUnixNano: NS(T0 - 20 * 3_600_000),
					endTimeUnixNano: NS(T0 - 20 * 3_600_000),
				}),
			);
			for (const k of [key, shortLived.key]) {
				expect((await postJson(app, "/v1/traces", k, traces([...old, span({ name: "fresh" })]))).status).toBe(
					200,
				);
				expect(
					(
						await postJson(
							app,
							"/v1/logs",
							k,
							logs([{ body: { stringValue: "l" }, timeUnixNano: NS(T0 - 20 * 3_600_000) }]),
						)
					).status,
				).toBe(200);
			}
			t.clock.advance(5 * 3_600_000);
			const limits = { batchRows: 5, maxBatches: 2 };
			expect(await sweepTelemetryRetention(t.deps.db, t.clock.now(), limits)).toBe(10 + 1);
			expect(await sweepTelemetryRetention(t.deps.db, t.clock.now(), limits)).toBe(2);
			expect(await sweepTelemetryRetention(t.deps.db, t.clock.now(), limits)).toBe(0);
			expect(
				(await rowsOf(reader, "spans", { where: "org_id = ?", args: [shortLived.orgId] })).map((r) => r.name),
			).toEqual(["fresh"]);
			expect(await rowsOf(reader, "spans", { where: "org_id = ?", args: [orgId] })).toHaveLength(13);
			expect(await countOf(reader, "logs")).toBe(1);
		});
	});
});
