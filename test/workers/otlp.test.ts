import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { decodeStatus } from "../../src/ingest/messages.js";
import logsFixture from "../fixtures/otlp/logs.json";
import traceFixture from "../fixtures/otlp/trace.json";
import { encodeOtlp } from "../support/otlp-protobuf.js";
import { db, mintToken, nowNs, orgWithKey, recent, workerFetch } from "./support.js";

/** OTLP/HTTP through the Worker's real fetch handler in workerd, over libSQL through the HTTP stand-in. */

function post(path: string, key: string, type: string, body: BodyInit, headers: Record<string, string> = {}) {
	return workerFetch(path, {
		method: "POST",
		headers: { "X-API-Key": key, "Content-Type": type, ...headers },
		body,
	});
}

async function spansOf(orgId: string) {
	return db.all<Record<string, unknown>>(sql`
		SELECT CAST(timestamp AS TEXT) AS timestamp, duration_ns, trace_id, span_id, parent_span_id, name, kind,
			status_code, status_message, service, host, scope_name, attributes, events, org_id
		FROM spans WHERE org_id = ${orgId} ORDER BY id`);
}

describe("OTLP/HTTP on Workers", () => {
	it("stores a protobuf export and answers protobuf; a JSON export and answers JSON", async () => {
		const { orgId, key } = await orgWithKey("OTLP edge");
		const request = recent(traceFixture);
		const protobuf = await post(
			"/v1/traces",
			key,
			"application/x-protobuf",
			encodeOtlp("TraceRequest", request),
		);
		expect(protobuf.status).toBe(200);
		expect(protobuf.headers.get("Content-Type")).toBe("application/x-protobuf");
		expect((await protobuf.arrayBuffer()).byteLength).toBe(0);

		const json = await post("/v1/traces", key, "application/json", JSON.stringify(request));
		expect(json.status).toBe(200);
		expect(json.headers.get("Content-Type")).toBe("application/json");
		expect(await json.text()).toBe("{}");

		const span = request.resourceSpans[0]?.scopeSpans[0]?.spans[0];
		const expected = {
			org_id: orgId,
			timestamp: span?.startTimeUnixNano,
			duration_ns: 1_250_000_000,
			trace_id: "0af7651916cd43dd8448eb211c80319c",
			span_id: "b7ad6b7169203331",
			parent_span_id: "00f067aa0ba902b7",
			name: "POST /cart",
			kind: "server",
			status_code: "error",
			status_message: "upstream timeout",
			service: "checkout",
			host: "web-1",
			scope_name: "checkout.http",
			attributes: '{"http.route":"/cart","http.status_code":201}',
			events: `[{"timestamp":${BigInt(span?.events[0]?.timeUnixNano as string)},"name":"retry","attributes":{"attempt":2}}]`,
		};
		expect(await spansOf(orgId)).toEqual([expected, expected]);
	});

	it("gzip, partial success and errors as google.rpc.Status", async () => {
		const { orgId, key } = await orgWithKey("OTLP edge errors");
		const logs = recent(logsFixture);
		const compressed = await new Response(
			new Blob([JSON.stringify(logs)]).stream().pipeThrough(new CompressionStream("gzip")),
		).arrayBuffer();
		const gz = await post("/v1/logs", key, "application/json", compressed, { "Content-Encoding": "gzip" });
		expect(gz.status).toBe(200);
		const stored = await db.all<{ level: string; body: string; attributes: string }>(
			sql`SELECT level, body, attributes FROM logs WHERE org_id = ${orgId}`,
		);
		expect(stored).toEqual([
			{
				level: "error",
				body: "payment declined",
				attributes:
					'{"text.attr":"card","flag.attr":true,"count.attr":9007199254740993,"ratio.attr":0.25,' +
					'"list.attr":["a",1],"map.attr":{"inner":"x"}}',
			},
		]);

		const bad = recent(traceFixture);
		(bad.resourceSpans[0]?.scopeSpans[0]?.spans[0] as { traceId: string }).traceId = "0af765";
		const partial = await post("/v1/traces", key, "application/json", JSON.stringify(bad));
		expect(await partial.json()).toEqual({
			partialSuccess: {
				rejectedSpans: "1",
				errorMessage: "Rejected 1 of 1 spans: 1 with a missing or invalid trace id (16 bytes, not all zero).",
			},
		});

		const truncated = await post(
			"/v1/traces",
			key,
			"application/x-protobuf",
			encodeOtlp("TraceRequest", recent(traceFixture)).slice(0, 30),
		);
		expect(truncated.status).toBe(400);
		expect(decodeStatus(new Uint8Array(await truncated.arrayBuffer())).code).toBe(3);

		const token = await mintToken({ orgId, role: "owner" });
		const jwt = await workerFetch("/v1/metrics", {
			method: "POST",
			headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
			body: "{}",
		});
		expect(jwt.status).toBe(403);
		expect(((await jwt.json()) as { details: { reason: string }[] }).details[0]?.reason).toBe(
			"API_KEY_REQUIRED",
		);
		expect(await spansOf(orgId)).toEqual([]);
	});

	it("a request too big for one pipeline is written in one transaction over several round trips", async () => {
		const { orgId, key } = await orgWithKey("OTLP edge big");
		const base = nowNs() - 60_000_000_000n;
		const records = Array.from({ length: 3000 }, (_, i) => ({
			timeUnixNano: String(base + BigInt(i)),
			body: { stringValue: `${i} ${"x".repeat(1000)}` },
		}));
		const body = encodeOtlp("LogsRequest", { resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] });
		expect(body.byteLength).toBeGreaterThan(2 * 1024 * 1024);
		const response = await post("/v1/logs", key, "application/x-protobuf", body);
		expect(response.status).toBe(200);
		const [row] = await db.all<{ n: number; first: string; last: string }>(
			sql`SELECT count(*) AS n, min(substr(body, 1, 2)) AS first, max(length(body)) AS last FROM logs WHERE org_id = ${orgId}`,
		);
		expect(row).toEqual({ n: 3000, first: "0 ", last: 1005 });
	});

	it("in workerd too: attributes past 256 per record are dropped and counted; answers carry nosniff", async () => {
		const { orgId, key } = await orgWithKey("OTLP edge caps");
		const attributes = Array.from({ length: 5_000 }, (_, i) => ({
			key: `k${i}`,
			value: { intValue: String(i) },
		}));
		const request = {
			resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: String(nowNs()), attributes }] }] }],
		};
		const answer = await post("/v1/logs", key, "application/x-protobuf", encodeOtlp("LogsRequest", request));
		expect(answer.status).toBe(200);
		expect(answer.headers.get("X-Content-Type-Options")).toBe("nosniff");
		const text = new TextDecoder().decode(await answer.arrayBuffer());
		expect(text).toContain("Dropped 4744 attributes beyond the limits (per record 256: 4744).");
		const [row] = await db.all<{ n: number }>(
			sql`SELECT count(*) AS n FROM logs, json_each(logs.attributes) WHERE logs.org_id = ${orgId}`,
		);
		expect(Number(row?.n)).toBe(256);
	});

	it("in workerd too: a logs export sent to /v1/traces → 200 with a warning, nothing stored; JSON sent as protobuf → 400 that says so", async () => {
		const { orgId, key } = await orgWithKey("OTLP edge misrouted");
		const logs = JSON.stringify(recent(logsFixture));
		const json = await post("/v1/traces", key, "application/json", logs);
		expect(json.status).toBe(200);
		expect(await json.json()).toEqual({
			partialSuccess: {
				rejectedSpans: "0",
				errorMessage:
					"Nothing was stored: the body has resourceLogs and no resourceSpans, so it looks like a logs export sent to /v1/traces, the traces endpoint. Send it to /v1/logs.",
			},
		});
		const protobuf = await post(
			"/v1/traces",
			key,
			"application/x-protobuf",
			encodeOtlp("LogsRequest", recent(logsFixture)),
		);
		expect(protobuf.status).toBe(400);
		expect(decodeStatus(new Uint8Array(await protobuf.arrayBuffer())).message).toMatch(
			/but decodes as an ExportLogsServiceRequest: it looks like a logs export sent to \/v1\/traces, the traces endpoint\. Send it to \/v1\/logs\.$/,
		);
		const jsonAsProtobuf = await post("/v1/logs", key, "application/x-protobuf", logs);
		expect(jsonAsProtobuf.status).toBe(400);
		expect(decodeStatus(new Uint8Array(await jsonAsProtobuf.arrayBuffer()))).toMatchObject({
			code: 3,
			message:
				"The body looks like JSON, but the Content-Type says application/x-protobuf: send it with Content-Type: application/json (or send protobuf).",
		});
		const [row] = await db.all<{ n: number }>(
			sql`SELECT (SELECT count(*) FROM spans WHERE org_id = ${orgId}) + (SELECT count(*) FROM logs WHERE org_id = ${orgId}) AS n`,
		);
		expect(Number(row?.n)).toBe(0);
	});
});
