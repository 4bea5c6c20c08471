import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/**
 * A test-only OTLP encoder: turns an OTLP JSON object (as in test/fixtures/otlp) into the protobuf
 * bytes of the same message, from a table of field numbers taken from the .proto files. It lets the
 * fixtures be posted as protobuf too, and with `reverseFields` writes every message's fields in
 * reverse order (legal protobuf) to prove the decoder does not depend on field order.
 */

type Scalar =
	| "string"
	| "bool"
	| "int64"
	| "uint32"
	| "int32"
	| "sint32"
	| "double"
	| "fixed64"
	| "sfixed64"
	| "fixed32"
	| "hex"
	| "base64"
	| "uint64";
type Field = { no: number; type: Scalar | { message: string }; repeated?: true };

const kv = { message: "KeyValue" } as const;
const SCHEMA: Record<string, Record<string, Field>> = {
	TraceRequest: { resourceSpans: { no: 1, type: { message: "ResourceSpans" }, repeated: true } },
	LogsRequest: { resourceLogs: { no: 1, type: { message: "ResourceLogs" }, repeated: true } },
	MetricsRequest: { resourceMetrics: { no: 1, type: { message: "ResourceMetrics" }, repeated: true } },
	ResourceSpans: {
		resource: { no: 1, type: { message: "Resource" } },
		scopeSpans: { no: 2, type: { message: "ScopeSpans" }, repeated: true },
	},
	ResourceLogs: {
		resource: { no: 1, type: { message: "Resource" } },
		scopeLogs: { no: 2, type: { message: "ScopeLogs" }, repeated: true },
	},
	ResourceMetrics: {
		resource: { no: 1, type: { message: "Resource" } },
		scopeMetrics: { no: 2, type: { message: "ScopeMetrics" }, repeated: true },
	},
	Resource: { attributes: { no: 1, type: kv, repeated: true } },
	Scope: {
		name: { no: 1, type: "string" },
		version: { no: 2, type: "string" },
		attributes: { no: 3, type: kv, repeated: true },
	},
	ScopeSpans: {
		scope: { no: 1, type: { message: "Scope" } },
		spans: { no: 2, type: { message: "Span" }, repeated: true },
	},
	ScopeLogs: {
		scope: { no: 1, type: { message: "Scope" } },
		logRecords: { no: 2, type: { message: "LogRecord" }, repeated: true },
	},
	ScopeMetrics: {
		scope: { no: 1, type: { message: "Scope" } },
		metrics: { no: 2, type: { message: "Metric" }, repeated: true },
	},
	KeyValue: { key: { no: 1, type: "string" }, value: { no: 2, type: { message: "AnyValue" } } },
	AnyValue: {
		stringValue: { no: 1, type: "string" },
		boolValue: { no: 2, type: "bool" },
		intValue: { no: 3, type: "int64" },
		doubleValue: { no: 4, type: "double" },
		arrayValue: { no: 5, type: { message: "ArrayValue" } },
		kvlistValue: { no: 6, type: { message: "KeyValueList" } },
		bytesValue: { no: 7, type: "base64" },
	},
	ArrayValue: { values: { no: 1, type: { message: "AnyValue" }, repeated: true } },
	KeyValueList: { values: { no: 1, type: kv, repeated: true } },
	Span: {
		traceId: { no: 1, type: "hex" },
		spanId: { no: 2, type: "hex" },
		traceState: { no: 3, type: "string" },
		parentSpanId: { no: 4, type: "hex" },
		name: { no: 5, type: "string" },
		kind: { no: 6, type: "int32" },
		startTimeUnixNano: { no: 7, type: "fixed64" },
		endTimeUnixNano: { no: 8, type: "fixed64" },
		attributes: { no: 9, type: kv, repeated: true },
		events: { no: 11, type: { message: "Event" }, repeated: true },
		links: { no: 13, type: { message: "Link" }, repeated: true },
		status: { no: 15, type: { message: "Status" } },
		flags: { no: 16, type: "fixed32" },
	},
	Event: {
		timeUnixNano: { no: 1, type: "fixed64" },
		name: { no: 2, type: "string" },
		attributes: { no: 3, type: kv, repeated: true },
	},
	Link: {
		traceId: { no: 1, type: "hex" },
		spanId: { no: 2, type: "hex" },
		traceState: { no: 3, type: "string" },
		attributes: { no: 4, type: kv, repeated: true },
	},
	Status: { message: { no: 2, type: "string" }, code: { no: 3, type: "int32" } },
	LogRecord: {
		timeUnixNano: { no: 1, type: "fixed64" },
		severityNumber: { no: 2, type: "int32" },
		severityText: { no: 3, type: "string" },
		body: { no: 5, type: { message: "AnyValue" } },
		attributes: { no: 6, type: kv, repeated: true },
		flags: { no: 8, type: "fixed32" },
		traceId: { no: 9, type: "hex" },
		spanId: { no: 10, type: "hex" },
		observedTimeUnixNano: { no: 11, type: "fixed64" },
		eventName: { no: 12, type: "string" },
	},
	Metric: {
		name: { no: 1, type: "string" },
		description: { no: 2, type: "string" },
		unit: { no: 3, type: "string" },
		gauge: { no: 5, type: { message: "Gauge" } },
		sum: { no: 7, type: { message: "Sum" } },
		histogram: { no: 9, type: { message: "Histogram" } },
		exponentialHistogram: { no: 10, type: { message: "ExponentialHistogram" } },
		summary: { no: 11, type: { message: "Summary" } },
	},
	Gauge: { dataPoints: { no: 1, type: { message: "NumberDataPoint" }, repeated: true } },
	Sum: {
		dataPoints: { no: 1, type: { message: "NumberDataPoint" }, repeated: true },
		aggregationTemporality: { no: 2, type: "int32" },
		isMonotonic: { no: 3, type: "bool" },
	},
	Histogram: {
		dataPoints: { no: 1, type: { message: "HistogramDataPoint" }, repeated: true },
		aggregationTemporality: { no: 2, type: "int32" },
	},
	ExponentialHistogram: {
		dataPoints: { no: 1, type: { message: "ExponentialHistogramDataPoint" }, repeated: true },
		aggregationTemporality: { no: 2, type: "int32" },
	},
	Summary: { dataPoints: { no: 1, type: { message: "SummaryDataPoint" }, repeated: true } },
	NumberDataPoint: {
		startTimeUnixNano: { no: 2, type: "fixed64" },
		timeUnixNano: { no: 3, type: "fixed64" },
		asDouble: { no: 4, type: "double" },
		asInt: { no: 6, type: "sfixed64" },
		attributes: { no: 7, type: kv, repeated: true },
		flags: { no: 8, type: "uint32" },
	},
	HistogramDataPoint: {
		startTimeUnixNano: { no: 2, type: "fixed64" },
		timeUnixNano: { no: 3, type: "fixed64" },
		count: { no: 4, type: "fixed64" },
		sum: { no: 5, type: "double" },
		bucketCounts: { no: 6, type: "fixed64", repeated: true },
		explicitBounds: { no: 7, type: "double", repeated: true },
		attributes: { no: 9, type: kv, repeated: true },
		flags: { no: 10, type: "uint32" },
		min: { no: 11, type: "double" },
		max: { no: 12, type: "double" },
	},
	ExponentialHistogramDataPoint: {
		attributes: { no: 1, type: kv, repeated: true },
		startTimeUnixNano: { no: 2, type: "fixed64" },
		timeUnixNano: { no: 3, type: "fixed64" },
		count: { no: 4, type: "fixed64" },
		sum: { no: 5, type: "double" },
		scale: { no: 6, type: "sint32" },
		zeroCount: { no: 7, type: "fixed64" },
		positive: { no: 8, type: { message: "Buckets" } },
		negative: { no: 9, type: { message: "Buckets" } },
		flags: { no: 10, type: "uint32" },
		min: { no: 12, type: "double" },
		max: { no: 13, type: "double" },
		zeroThreshold: { no: 14, type: "double" },
	},
	Buckets: { offset: { no: 1, type: "sint32" }, bucketCounts: { no: 2, type: "uint64", repeated: true } },
	SummaryDataPoint: {
		startTimeUnixNano: { no: 2, type: "fixed64" },
		timeUnixNano: { no: 3, type: "fixed64" },
		count: { no: 4, type: "fixed64" },
		sum: { no: 5, type: "double" },
		quantileValues: { no: 6, type: { message: "ValueAtQuantile" }, repeated: true },
		attributes: { no: 7, type: kv, repeated: true },
		flags: { no: 8, type: "uint32" },
	},
	ValueAtQuantile: { quantile: { no: 1, type: "double" }, value: { no: 2, type: "double" } },
};

export interface EncodeOptions {
	reverseFields?: boolean;
	/** Write repeated scalars one tag per value instead of packed. */
	unpacked?: boolean;
}

const WIRE: Record<Scalar, WireType> = {
	string: WireType.LengthDelimited,
	hex: WireType.LengthDelimited,
	base64: WireType.LengthDelimited,
	bool: WireType.Varint,
	int64: WireType.Varint,
	uint64: WireType.Varint,
	uint32: WireType.Varint,
	int32: WireType.Varint,
	sint32: WireType.Varint,
	double: WireType.Bit64,
	fixed64: WireType.Bit64,
	sfixed64: WireType.Bit64,
	fixed32: WireType.Bit32,
};

function writeScalar(w: BinaryWriter, type: Scalar, value: unknown): void {
	switch (type) {
		case "string":
			w.string(String(value));
			break;
		case "hex":
			w.bytes(Buffer.from(String(value), "hex"));
			break;
		case "base64":
			w.bytes(Buffer.from(String(value), "base64"));
			break;
		case "bool":
			w.bool(Boolean(value));
			break;
		case "int64":
			w.int64(String(value));
			break;
		case "uint64":
			w.uint64(String(value));
			break;
		case "uint32":
			w.uint32(Number(value));
			break;
		case "int32":
			w.int32(Number(value));
			break;
		case "sint32":
			w.sint32(Number(value));
			break;
		case "double":
			w.double(Number(value));
			break;
		case "fixed64":
			w.fixed64(String(value));
			break;
		case "sfixed64":
			w.sfixed64(String(value));
			break;
		case "fixed32":
			w.fixed32(Number(value));
			break;
	}
}

function writeMessage(
	w: BinaryWriter,
	name: string,
	value: Record<string, unknown>,
	options: EncodeOptions,
): void {
	const schema = SCHEMA[name];
	if (!schema) throw new Error(`no schema for ${name}`);
	const keys = Object.keys(value).filter((key) => schema[key] !== undefined);
	if (options.reverseFields) keys.reverse();
	for (const key of keys) {
		const field = schema[key] as Field;
		const values = field.repeated ? (value[key] as unknown[]) : [value[key]];
		if (typeof field.type === "object") {
			const message = field.type.message;
			for (const item of values) {
				w.tag(field.no, WireType.LengthDelimited).fork();
				writeMessage(w, message, item as Record<string, unknown>, options);
				w.join();
			}
		} else if (field.repeated && !options.unpacked && WIRE[field.type] !== WireType.LengthDelimited) {
			w.tag(field.no, WireType.LengthDelimited).fork();
			for (const item of values) writeScalar(w, field.type, item);
			w.join();
		} else {
			for (const item of values) {
				w.tag(field.no, WIRE[field.type]);
				writeScalar(w, field.type, item);
			}
		}
	}
}

export type RequestKind = "TraceRequest" | "LogsRequest" | "MetricsRequest";

export function encodeOtlp(
	kind: RequestKind,
	request: unknown,
	options: EncodeOptions = {},
): Uint8Array<ArrayBuffer> {
	const w = new BinaryWriter();
	writeMessage(w, kind, request as Record<string, unknown>, options);
	return w.finish();
}
