/**
 * Property/fuzz suite for the OTLP decoders (protobuf and JSON, every signal): random valid
 * messages, the same messages mutated (bytes flipped, cut, inserted; JSON subtrees replaced), and
 * random bytes. Each must decode, or fail with a DecodeError (the 400 path) — never another
 * exception. No wall-clock bound is asserted (timings belong in benchmarks): the attribute caps of
 * review finding 1 are checked in otlp-limits.test.ts, and decoding time is measured by
 * `npm run bench:hardening`. Fixed seed in `npm test`; longer with `npm run fuzz` (test/support/fuzz.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IngestBatch, type TimeWindow } from "../../src/ingest/batch.js";
import { DecodeError } from "../../src/ingest/decode-error.js";
import { parseJson } from "../../src/ingest/json.js";
import { decodeLogsJson, decodeLogsProtobuf } from "../../src/ingest/logs.js";
import { decodeMetricsJson, decodeMetricsProtobuf } from "../../src/ingest/metrics.js";
import { decodeProtobuf } from "../../src/ingest/protobuf.js";
import { decodeTracesJson, decodeTracesProtobuf } from "../../src/ingest/traces.js";
import { fuzzRuns, fuzzTimeout } from "../support/fuzz.js";
import { FIXTURE_NOW_MS, fixture } from "../support/otlp.js";
import { encodeOtlp, type RequestKind } from "../support/otlp-protobuf.js";

const NOW_NS = BigInt(FIXTURE_NOW_MS) * 1_000_000n;
const WINDOW: TimeWindow = {
	nowNs: NOW_NS,
	minNs: NOW_NS - 86_400_000_000_000n * 30n,
	maxNs: NOW_NS + 3_600_000_000_000n,
};

const SIGNALS = {
	traces: { kind: "TraceRequest", source: "spans", protobuf: decodeTracesProtobuf, json: decodeTracesJson },
	logs: { kind: "LogsRequest", source: "logs", protobuf: decodeLogsProtobuf, json: decodeLogsJson },
	metrics: {
		kind: "MetricsRequest",
		source: "metrics",
		protobuf: decodeMetricsProtobuf,
		json: decodeMetricsJson,
	},
} as const;
type Signal = keyof typeof SIGNALS;

/** Decodes as the ingest path does (rows and statements built, nothing written); rethrows non-DecodeErrors. */
function decode(signal: Signal, format: "protobuf" | "json", bytes: Uint8Array): "ok" | "invalid" {
	const s = SIGNALS[signal];
	const batch = new IngestBatch("org_fuzz", s.source, WINDOW, FIXTURE_NOW_MS);
	let outcome: "ok" | "invalid" = "ok";
	try {
		if (format === "protobuf") decodeProtobuf(bytes, (reader) => s.protobuf(reader, batch));
		else s.json(parseJson(bytes), batch);
		batch.dataStatements();
	} catch (error) {
		if (!(error instanceof DecodeError)) throw error;
		outcome = "invalid";
	}
	return outcome;
}

// ---- random valid messages ----

const hex = (bytes: number) =>
	fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString("hex"));
const timeNs = fc
	.bigInt({ min: WINDOW.minNs - 1_000_000_000n, max: WINDOW.maxNs + 1_000_000_000n })
	.map((ns) => ns.toString());
const key = fc.oneof(
	fc.string({ maxLength: 12 }),
	fc.constantFrom("service.name", "host.name", "http.route", ""),
);

const { anyValue } = fc.letrec<{ anyValue: Record<string, unknown>; kv: Record<string, unknown> }>((tie) => ({
	anyValue: fc.oneof(
		{ depthSize: "small", maxDepth: 4 },
		fc.string({ maxLength: 30 }).map((v) => ({ stringValue: v })),
		fc.boolean().map((v) => ({ boolValue: v })),
		fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((v) => ({ intValue: v.toString() })),
		fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => ({ doubleValue: v })),
		fc.uint8Array({ maxLength: 12 }).map((v) => ({ bytesValue: Buffer.from(v).toString("base64") })),
		fc.array(tie("anyValue"), { maxLength: 4 }).map((values) => ({ arrayValue: { values } })),
		fc.array(tie("kv"), { maxLength: 4 }).map((values) => ({ kvlistValue: { values } })),
	),
	kv: fc.record({ key, value: tie("anyValue") }),
}));
const attributes = fc.array(fc.record({ key, value: anyValue }), { maxLength: 8 });
const resource = fc.record({ attributes });
const scope = fc.record({
	name: fc.string({ maxLength: 10 }),
	version: fc.string({ maxLength: 5 }),
	attributes,
});

const logRecord = fc.record(
	{
		timeUnixNano: timeNs,
		observedTimeUnixNano: timeNs,
		severityNumber: fc.integer({ min: 0, max: 24 }),
		severityText: fc.string({ maxLength: 8 }),
		body: anyValue,
		attributes,
		traceId: fc.oneof(hex(16), fc.constant("")),
		spanId: fc.oneof(hex(8), fc.constant("")),
		eventName: fc.string({ maxLength: 8 }),
	},
	{ requiredKeys: [] },
);
const span = fc.record(
	{
		traceId: hex(16),
		spanId: hex(8),
		parentSpanId: fc.oneof(hex(8), fc.constant("")),
		name: fc.string({ maxLength: 12 }),
		kind: fc.integer({ min: 0, max: 5 }),
		startTimeUnixNano: timeNs,
		endTimeUnixNano: timeNs,
		attributes,
		events: fc.array(fc.record({ timeUnixNano: timeNs, name: fc.string({ maxLength: 8 }), attributes }), {
			maxLength: 3,
		}),
		links: fc.array(fc.record({ traceId: hex(16), spanId: hex(8), attributes }), { maxLength: 2 }),
		status: fc.record({ code: fc.integer({ min: 0, max: 2 }), message: fc.string({ maxLength: 8 }) }),
	},
	{ requiredKeys: ["traceId", "spanId"] },
);
const numberPoint = fc.record({
	timeUnixNano: timeNs,
	startTimeUnixNano: timeNs,
	asDouble: fc.double({ noNaN: true, noDefaultInfinity: true }),
	attributes,
});
const metric = fc.record({
	name: fc.string({ minLength: 1, maxLength: 12 }),
	unit: fc.string({ maxLength: 4 }),
	gauge: fc.record({ dataPoints: fc.array(numberPoint, { maxLength: 4 }) }),
});

const envelope = <T>(records: fc.Arbitrary<T>, keys: [string, string, string]) =>
	fc
		.array(
			fc.record({
				resource,
				[keys[1]]: fc.array(fc.record({ scope, [keys[2]]: fc.array(records, { maxLength: 5 }) }), {
					maxLength: 3,
				}),
			}),
			{ maxLength: 3 },
		)
		.map((entries) => ({ [keys[0]]: entries }));

const REQUESTS: Record<Signal, fc.Arbitrary<Record<string, unknown>>> = {
	logs: envelope(logRecord, ["resourceLogs", "scopeLogs", "logRecords"]),
	traces: envelope(span, ["resourceSpans", "scopeSpans", "spans"]),
	metrics: envelope(metric, ["resourceMetrics", "scopeMetrics", "metrics"]),
};
const FIXTURES: Record<Signal, Record<string, unknown>> = {
	traces: fixture("trace"),
	logs: fixture("logs"),
	metrics: fixture("metrics"),
};

// ---- mutations ----

type ByteEdit = { at: number; op: "flip" | "delete" | "insert" | "cut"; byte: number };
const byteEdits = fc.array(
	fc.record({
		at: fc.nat(),
		op: fc.constantFrom("flip", "delete", "insert", "cut"),
		byte: fc.nat({ max: 255 }),
	}),
	{ minLength: 1, maxLength: 6 },
) as fc.Arbitrary<ByteEdit[]>;

function applyEdits(bytes: Uint8Array, edits: ByteEdit[]): Uint8Array {
	let out = Array.from(bytes);
	for (const edit of edits) {
		if (out.length === 0) break;
		const at = edit.at % out.length;
		if (edit.op === "flip") out[at] = (out[at] as number) ^ (1 << (edit.byte % 8));
		else if (edit.op === "delete") out.splice(at, 1);
		else if (edit.op === "insert") out.splice(at, 0, edit.byte);
		else out = out.slice(0, at);
	}
	return Uint8Array.from(out);
}

/** Replaces the `pick`-th node of a JSON tree (pre-order) with `replacement`. */
function replaceNode(root: unknown, pick: number, replacement: unknown): unknown {
	let index = 0;
	const visit = (node: unknown): unknown => {
		if (index++ === pick) return replacement;
		if (Array.isArray(node)) return node.map(visit);
		if (node && typeof node === "object")
			return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, visit(v)]));
		return node;
	};
	const out = visit(root);
	return out;
}

const encode = (signal: Signal, request: unknown) => encodeOtlp(SIGNALS[signal].kind as RequestKind, request);
const utf8 = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe("OTLP decoders: property and fuzz suite", () => {
	for (const signal of Object.keys(SIGNALS) as Signal[]) {
		describe(signal, () => {
			it(
				"random valid messages decode in both formats, to the same outcome",
				() => {
					fc.assert(
						fc.property(REQUESTS[signal], (request) => {
							expect(decode(signal, "json", utf8(request))).toBe("ok");
							expect(decode(signal, "protobuf", encode(signal, request))).toBe("ok");
						}),
						fuzzRuns(150),
					);
				},
				fuzzTimeout(60_000),
			);

			it(
				"mutated protobuf decodes or fails with a DecodeError, in bounded time",
				() => {
					const sample = fc.oneof(REQUESTS[signal], fc.constant(FIXTURES[signal]));
					fc.assert(
						fc.property(sample, byteEdits, (request, edits) => {
							decode(signal, "protobuf", applyEdits(encode(signal, request), edits));
						}),
						fuzzRuns(300),
					);
				},
				fuzzTimeout(60_000),
			);

			it(
				"mutated JSON (bytes, and subtrees replaced by any JSON) decodes or fails with a DecodeError",
				() => {
					const sample = fc.oneof(REQUESTS[signal], fc.constant(FIXTURES[signal]));
					fc.assert(
						fc.property(
							sample,
							byteEdits,
							fc.nat(),
							fc.jsonValue({ maxDepth: 3 }),
							(request, edits, pick, json) => {
								decode(signal, "json", applyEdits(utf8(request), edits));
								decode(signal, "json", utf8(replaceNode(request, pick % 200, json)));
							},
						),
						fuzzRuns(300),
					);
				},
				fuzzTimeout(60_000),
			);

			it(
				"random bytes never escape as anything but a DecodeError",
				() => {
					fc.assert(
						fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
							decode(signal, "protobuf", bytes);
							decode(signal, "json", bytes);
						}),
						fuzzRuns(300),
					);
				},
				fuzzTimeout(60_000),
			);
		});
	}

	it("hostile sizes stay linear: 100,000 repeated and distinct keys, deep nesting refused", () => {
		const many = (n: number, distinct: boolean) => ({
			resourceLogs: [
				{
					scopeLogs: [
						{
							logRecords: [
								{
									timeUnixNano: NOW_NS.toString(),
									attributes: Array.from({ length: n }, (_, i) => ({
										key: distinct ? `k${i}` : "k",
										value: { intValue: String(i) },
									})),
								},
							],
						},
					],
				},
			],
		});
		for (const distinct of [true, false]) {
			expect(decode("logs", "json", utf8(many(100_000, distinct)))).toBe("ok");
			expect(decode("logs", "protobuf", encode("logs", many(100_000, distinct)))).toBe("ok");
		}
		// 5,000 nested arrays (built as text: JSON.stringify itself cannot go that deep).
		const depth = 5_000;
		const body = `${'{"arrayValue":{"values":['.repeat(depth)}{"stringValue":"x"}${"]}}".repeat(depth)}`;
		const nested = `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":${body}}]}]}]}`;
		expect(decode("logs", "json", new TextEncoder().encode(nested))).toBe("invalid");
	});
});
