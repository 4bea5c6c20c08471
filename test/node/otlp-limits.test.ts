import type { Client } from "@libsql/client";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { DEFAULT_ATTRIBUTE_LIMITS } from "../../src/ingest/batch.js";
import { DEFAULT_OTLP_SETTINGS, otlpSettingsFrom } from "../../src/ingest/settings.js";
import { FakeClock } from "../support/clock.js";
import { createTestApp, type TestApp } from "../support/node-app.js";
import { decodeExportResponse, exactReader, rowsOf } from "../support/otlp.js";
import { encodeOtlp } from "../support/otlp-protobuf.js";

/**
 * Security review finding 1: one log record with 200,000 attributes took 28 s to decode (a linear
 * scan per attribute for duplicate keys) and stalled every other request. Decoding is now linear and
 * every attribute list is capped; what is dropped is reported in partial_success.
 */

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const NS = (ms: number) => `${BigInt(ms) * 1_000_000n}`;

let t: TestApp;
let reader: Client;
afterEach(() => {
	reader?.close();
	t?.close();
});

async function setup(limits = DEFAULT_ATTRIBUTE_LIMITS) {
	t = await createTestApp({ clock: new FakeClock(T0) });
	reader = exactReader(t.database.dir);
	const { key } = await t.createOrgWithKey();
	const app = createApp({
		...t.deps,
		config: { ...t.deps.config, otlp: { ...DEFAULT_OTLP_SETTINGS, attributeLimits: limits } },
	});
	return { key, app };
}

const manyAttributes = (n: number, prefix = "k") =>
	Array.from({ length: n }, (_, i) => ({ key: `${prefix}${i}`, value: { intValue: String(i) } }));

const logRequest = (record: Record<string, unknown>, resource: unknown[] = [], scope: unknown[] = []) => ({
	resourceLogs: [
		{
			resource: { attributes: resource },
			scopeLogs: [{ scope: { name: "s", attributes: scope }, logRecords: [record] }],
		},
	],
});

describe("OTLP attribute limits (finding 1: quadratic attributes)", () => {
	it("one JSON log record with 200,000 attributes: the first 256 kept, the rest dropped and counted", async () => {
		const { key, app } = await setup();
		const body = JSON.stringify(
			logRequest({
				timeUnixNano: NS(T0),
				body: { stringValue: "flood" },
				attributes: manyAttributes(200_000),
			}),
		);
		const response = await app.request("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body,
		});
		expect(response.status).toBe(200);
		const answer = (await response.json()) as {
			partialSuccess: { rejectedLogRecords?: string; errorMessage: string };
		};
		expect(answer.partialSuccess.rejectedLogRecords ?? "0").toBe("0");
		expect(answer.partialSuccess.errorMessage).toBe(
			"Dropped 199744 attributes beyond the limits (per record 256: 199744).",
		);
		const [row] = await rowsOf(reader, "logs");
		const stored = JSON.parse(row?.attributes as string) as Record<string, number>;
		expect(Object.keys(stored)).toHaveLength(256);
		expect(stored.k0).toBe(0);
		expect(stored.k255).toBe(255);
		expect(stored.k256).toBeUndefined();
	});

	it("100,000 attributes as protobuf, and resource and scope lists, are capped by their own limits", async () => {
		const { key, app } = await setup({ perRecord: 10, perResource: 5, perScope: 3 });
		const request = logRequest(
			{ timeUnixNano: NS(T0), body: { stringValue: "flood" }, attributes: manyAttributes(100_000) },
			[{ key: "service.name", value: { stringValue: "api" } }, ...manyAttributes(50_000, "r")],
			manyAttributes(20_000, "s"),
		);
		const response = await app.request("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/x-protobuf" },
			body: encodeOtlp("LogsRequest", request),
		});
		expect(response.status).toBe(200);
		const partial = decodeExportResponse(new Uint8Array(await response.arrayBuffer()));
		expect(partial).toEqual({
			rejected: 0,
			message:
				"Dropped 169983 attributes beyond the limits (per record 10: 99990; per resource 5: 49996; per scope 3: 19997).",
		});
		const [row] = await rowsOf(reader, "logs");
		expect(Object.keys(JSON.parse(row?.attributes as string))).toHaveLength(10);
		expect(Object.keys(JSON.parse(row?.resource_attributes as string))).toEqual([
			"service.name",
			"r0",
			"r1",
			"r2",
			"r3",
		]);
		expect(Object.keys(JSON.parse(row?.scope_attributes as string))).toEqual(["s0", "s1", "s2"]);
		expect(row?.service).toBe("api");
	});

	it("a repeated key keeps its first value and is not counted as dropped, however often it repeats", async () => {
		const { key, app } = await setup({ perRecord: 2, perResource: 2, perScope: 2 });
		const repeated = Array.from({ length: 100_000 }, (_, i) => ({
			key: "same",
			value: { intValue: String(i) },
		}));
		const response = await app.request("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: JSON.stringify(logRequest({ timeUnixNano: NS(T0), attributes: repeated })),
		});
		expect(response.status).toBe(200);
		expect(await response.json()).toEqual({});
		const [row] = await rowsOf(reader, "logs");
		expect(JSON.parse(row?.attributes as string)).toEqual({ same: 0 });
	});

	it("a map value with 200,000 distinct keys decodes (nested maps are bounded by the body size only)", async () => {
		const { key, app } = await setup();
		const map = { kvlistValue: { values: manyAttributes(200_000, "m") } };
		const response = await app.request("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/x-protobuf" },
			body: encodeOtlp("LogsRequest", logRequest({ timeUnixNano: NS(T0), body: map })),
		});
		expect(response.status).toBe(200);
		const [row] = await rowsOf(reader, "logs");
		expect(Object.keys(JSON.parse(row?.body as string))).toHaveLength(200_000);
	});

	it("span event and link attributes are capped like a record's", async () => {
		const { key, app } = await setup({ perRecord: 4, perResource: 4, perScope: 4 });
		const span = {
			traceId: "5b8efff798038103d269b633813fc60c",
			spanId: "eee19b7ec3c1b174",
			name: "op",
			startTimeUnixNano: NS(T0 - 1000),
			endTimeUnixNano: NS(T0),
			events: [{ timeUnixNano: NS(T0 - 500), name: "e", attributes: manyAttributes(1000) }],
			links: [
				{
					traceId: "5b8efff798038103d269b633813fc60d",
					spanId: "eee19b7ec3c1b175",
					attributes: manyAttributes(1000),
				},
			],
		};
		const response = await app.request("/v1/traces", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }),
		});
		const answer = (await response.json()) as { partialSuccess: { errorMessage: string } };
		expect(answer.partialSuccess.errorMessage).toBe(
			"Dropped 1992 attributes beyond the limits (per record 4: 1992).",
		);
		const [row] = await rowsOf(reader, "spans");
		const [event] = JSON.parse(row?.events as string) as { attributes: object }[];
		expect(Object.keys(event?.attributes ?? {})).toHaveLength(4);
	});

	it("the limits are settings: OTLP_MAX_ATTRIBUTES_PER_RECORD|RESOURCE|SCOPE, 256 by default", () => {
		expect(otlpSettingsFrom({}).attributeLimits).toEqual({ perRecord: 256, perResource: 256, perScope: 256 });
		expect(
			otlpSettingsFrom({
				OTLP_MAX_ATTRIBUTES_PER_RECORD: "128",
				OTLP_MAX_ATTRIBUTES_PER_RESOURCE: "64",
				OTLP_MAX_ATTRIBUTES_PER_SCOPE: "32",
			}).attributeLimits,
		).toEqual({ perRecord: 128, perResource: 64, perScope: 32 });
		expect(() => otlpSettingsFrom({ OTLP_MAX_ATTRIBUTES_PER_RECORD: "0" })).toThrow(
			/OTLP_MAX_ATTRIBUTES_PER_RECORD/,
		);
	});
});
