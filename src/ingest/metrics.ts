import type { MetricKind } from "../db/schema-telemetry.js";
import { doubleJson, type ResourceInfo, type ScopeInfo } from "./attributes.js";
import { checkTime, type IngestBatch, MAX_POINT_VALUES } from "./batch.js";
import * as json from "./json.js";
import {
	at,
	attribute,
	type BinaryReader,
	type ByteRange,
	childRange,
	endMessage,
	expectWire,
	forEachChild,
	messageEnd,
	readDouble,
	readFixed64,
	readRepeated,
	readString,
	readVarint32,
	skipField,
	WireType,
	walkEnvelope,
} from "./protobuf.js";

/** The metric a data point belongs to. */
interface MetricInfo {
	name: string;
	description: string;
	unit: string;
	kind: MetricKind;
	temporality: "delta" | "cumulative" | null;
	isMonotonic: boolean | null;
}

/** One data point as decoded, before validation; fields of other kinds stay null. */
interface PointRecord {
	time: bigint;
	start: bigint;
	attributes: string;
	flags: number;
	value: number | null;
	count: bigint | null;
	sum: number | null;
	min: number | null;
	max: number | null;
	bucketCounts: bigint[] | null;
	explicitBounds: number[] | null;
	exponential: string | null;
	quantiles: string | null;
	/** A list of its values (buckets, bounds, quantiles) is longer than MAX_POINT_VALUES: rejected. */
	tooManyValues: boolean;
}

const newPoint = (): PointRecord => ({
	time: 0n,
	start: 0n,
	attributes: "{}",
	flags: 0,
	value: null,
	count: null,
	sum: null,
	min: null,
	max: null,
	bucketCounts: null,
	explicitBounds: null,
	exponential: null,
	quantiles: null,
	tooManyValues: false,
});

/** DataPointFlags.NO_RECORDED_VALUE: the point marks a gap; its value is not stored. */
const NO_RECORDED_VALUE = 1;
const INT64_MAX = 0x7fff_ffff_ffff_ffffn;
const TEMPORALITIES = [null, "delta", "cumulative"] as const;

/** SQLite cannot store NaN or ±Infinity in a REAL column (and libSQL refuses to bind them). */
const real = (n: number | null): number | null => (n !== null && Number.isFinite(n) ? n : null);

function acceptPoint(
	batch: IngestBatch,
	resource: ResourceInfo,
	scope: ScopeInfo,
	metric: MetricInfo,
	point: PointRecord,
): void {
	batch.items++;
	const rejections = batch.rejections;
	if (metric.name === "") {
		rejections.add("of a metric without a name");
		return;
	}
	if (point.tooManyValues) {
		rejections.add(`with more than ${MAX_POINT_VALUES} values in one list (buckets, bounds or quantiles)`);
		return;
	}
	if (point.time === 0n) {
		rejections.add("without a timestamp");
		return;
	}
	const time = checkTime(batch.window, point.time);
	if (time !== "ok") {
		rejections.add(batch.timeReason(time));
		return;
	}
	if (point.count !== null && point.count > INT64_MAX) {
		rejections.add("with a count beyond 64 bits");
		return;
	}
	if (
		point.bucketCounts !== null &&
		point.bucketCounts.length > 0 &&
		point.bucketCounts.length !== (point.explicitBounds?.length ?? 0) + 1
	) {
		rejections.add("with bucket counts that do not match the explicit bounds");
		return;
	}
	const recorded = (point.flags & NO_RECORDED_VALUE) === 0;
	batch.metricPoints
		.row()
		.push(
			batch.orgId,
			point.time,
			point.start > 0n && point.start <= INT64_MAX ? point.start : null,
			metric.name,
			metric.kind,
			metric.unit || null,
			metric.temporality,
			metric.isMonotonic === null ? null : metric.isMonotonic ? 1 : 0,
			recorded ? real(point.value) : null,
			point.count,
			recorded ? real(point.sum) : null,
			recorded ? real(point.min) : null,
			recorded ? real(point.max) : null,
			point.bucketCounts === null ? null : `[${point.bucketCounts.join(",")}]`,
			point.explicitBounds === null ? null : `[${point.explicitBounds.map(doubleJson).join(",")}]`,
			point.exponential,
			point.quantiles,
			resource.service,
			resource.host,
			scope.name,
			scope.version,
			resource.attributes,
			scope.attributes,
			point.attributes,
		);
}

const exponentialJson = (
	scale: number,
	zeroCount: bigint,
	zeroThreshold: number,
	positive: { offset: number; counts: bigint[] },
	negative: { offset: number; counts: bigint[] },
) =>
	`{"scale":${scale},"zero_count":${zeroCount},"zero_threshold":${doubleJson(zeroThreshold)},` +
	`"positive":{"offset":${positive.offset},"bucket_counts":[${positive.counts.join(",")}]},` +
	`"negative":{"offset":${negative.offset},"bucket_counts":[${negative.counts.join(",")}]}}`;

const quantileJson = (quantile: number, value: number) =>
	`{"quantile":${doubleJson(quantile)},"value":${doubleJson(value)}}`;

// ---------------------------------------------------------------------------------------------
// protobuf: ExportMetricsServiceRequest

/** Metric.data oneof: field number → kind. */
const DATA_FIELDS: Record<number, MetricKind> = {
	5: "gauge",
	7: "sum",
	9: "histogram",
	10: "exponential_histogram",
	11: "summary",
};

function protobufBuckets(r: BinaryReader, end: number): { offset: number; counts: bigint[] } {
	const buckets = { offset: 0, counts: [] as bigint[] };
	while (r.pos < end) {
		const [no, wt] = r.tag();
		if (no === 1) {
			expectWire(wt, WireType.Varint, "Buckets.offset");
			buckets.offset = r.sint32();
		} else if (no === 2) {
			readRepeated(
				r,
				wt,
				WireType.Varint,
				() => BigInt(r.uint64()),
				buckets.counts,
				"Buckets.bucket_counts",
				MAX_POINT_VALUES,
			);
		} else skipField(r, wt, no);
	}
	endMessage(r, end);
	return buckets;
}

/** Any of the four data point messages; field numbers differ per kind. */
function protobufPoint(r: BinaryReader, end: number, kind: MetricKind, batch: IngestBatch): PointRecord {
	const point = newPoint();
	const attributes = batch.recordAttributes();
	const attributesField = kind === "exponential_histogram" ? 1 : kind === "histogram" ? 9 : 7;
	const flagsField = kind === "histogram" || kind === "exponential_histogram" ? 10 : 8;
	let scale = 0;
	let zeroCount = 0n;
	let zeroThreshold = 0;
	let positive = { offset: 0, counts: [] as bigint[] };
	let negative = { offset: 0, counts: [] as bigint[] };
	const quantiles: string[] = [];
	if (kind === "histogram") {
		point.bucketCounts = [];
		point.explicitBounds = [];
	}
	while (r.pos < end) {
		const [no, wt] = r.tag();
		if (no === attributesField) attribute(r, wt, attributes, "DataPoint.attributes");
		else if (no === 2) point.start = readFixed64(r, wt, "DataPoint.start_time_unix_nano");
		else if (no === 3) point.time = readFixed64(r, wt, "DataPoint.time_unix_nano");
		else if (no === flagsField) {
			expectWire(wt, WireType.Varint, "DataPoint.flags");
			point.flags = r.uint32();
		} else if (kind === "gauge" || kind === "sum") {
			if (no === 4) point.value = readDouble(r, wt, "NumberDataPoint.as_double");
			else if (no === 6) {
				expectWire(wt, WireType.Bit64, "NumberDataPoint.as_int");
				point.value = Number(r.sfixed64());
			} else skipField(r, wt, no);
		} else if (no === 4) point.count = readFixed64(r, wt, "DataPoint.count");
		else if (no === 5) point.sum = readDouble(r, wt, "DataPoint.sum");
		else if (kind === "histogram") {
			if (no === 6) {
				readRepeated(
					r,
					wt,
					WireType.Bit64,
					() => BigInt(r.fixed64()),
					point.bucketCounts as bigint[],
					"bucket_counts",
					MAX_POINT_VALUES,
				);
			} else if (no === 7) {
				readRepeated(
					r,
					wt,
					WireType.Bit64,
					() => r.double(),
					point.explicitBounds as number[],
					"explicit_bounds",
					MAX_POINT_VALUES,
				);
			} else if (no === 11) point.min = readDouble(r, wt, "HistogramDataPoint.min");
			else if (no === 12) point.max = readDouble(r, wt, "HistogramDataPoint.max");
			else skipField(r, wt, no);
		} else if (kind === "exponential_histogram") {
			if (no === 6) {
				expectWire(wt, WireType.Varint, "ExponentialHistogramDataPoint.scale");
				scale = r.sint32();
			} else if (no === 7) zeroCount = readFixed64(r, wt, "ExponentialHistogramDataPoint.zero_count");
			else if (no === 8 || no === 9) {
				expectWire(wt, WireType.LengthDelimited, "ExponentialHistogramDataPoint.buckets");
				const buckets = protobufBuckets(r, messageEnd(r));
				if (no === 8) positive = buckets;
				else negative = buckets;
			} else if (no === 12) point.min = readDouble(r, wt, "ExponentialHistogramDataPoint.min");
			else if (no === 13) point.max = readDouble(r, wt, "ExponentialHistogramDataPoint.max");
			else if (no === 14) zeroThreshold = readDouble(r, wt, "ExponentialHistogramDataPoint.zero_threshold");
			else skipField(r, wt, no);
		} else if (kind === "summary" && no === 6) {
			expectWire(wt, WireType.LengthDelimited, "SummaryDataPoint.quantile_values");
			const qEnd = messageEnd(r);
			let quantile = 0;
			let value = 0;
			while (r.pos < qEnd) {
				const [qNo, qWt] = r.tag();
				if (qNo === 1) quantile = readDouble(r, qWt, "ValueAtQuantile.quantile");
				else if (qNo === 2) value = readDouble(r, qWt, "ValueAtQuantile.value");
				else skipField(r, qWt, qNo);
			}
			endMessage(r, qEnd);
			if (quantiles.length <= MAX_POINT_VALUES) quantiles.push(quantileJson(quantile, value));
		} else skipField(r, wt, no);
	}
	endMessage(r, end);
	point.attributes = attributes.json();
	point.tooManyValues = [
		point.bucketCounts,
		point.explicitBounds,
		positive.counts,
		negative.counts,
		quantiles,
	].some((list) => list !== null && list.length > MAX_POINT_VALUES);
	if (point.tooManyValues) return point;
	if (kind === "exponential_histogram") {
		point.exponential = exponentialJson(scale, zeroCount, zeroThreshold, positive, negative);
	}
	if (kind === "summary") point.quantiles = `[${quantiles.join(",")}]`;
	return point;
}

function protobufMetric(
	r: BinaryReader,
	end: number,
	batch: IngestBatch,
	resource: ResourceInfo,
	scope: ScopeInfo,
): void {
	const metric: MetricInfo = {
		name: "",
		description: "",
		unit: "",
		kind: "gauge",
		temporality: null,
		isMonotonic: null,
	};
	let data: ByteRange | null = null;
	while (r.pos < end) {
		const [no, wt] = r.tag();
		if (no === 1) metric.name = readString(r, wt, "Metric.name");
		else if (no === 2) metric.description = readString(r, wt, "Metric.description");
		else if (no === 3) metric.unit = readString(r, wt, "Metric.unit");
		else if (DATA_FIELDS[no] !== undefined) {
			metric.kind = DATA_FIELDS[no];
			data = childRange(r, wt, `Metric.${metric.kind}`);
		} else skipField(r, wt, no);
	}
	endMessage(r, end);
	if (!data) return;
	// The data message's own fields (temporality, monotonic) first, then its points (field 1).
	const dataEnd = at(r, data);
	while (r.pos < dataEnd) {
		const [no, wt] = r.tag();
		if (no === 2 && metric.kind !== "gauge" && metric.kind !== "summary") {
			metric.temporality = TEMPORALITIES[readVarint32(r, wt, "aggregation_temporality")] ?? null;
		} else if (no === 3 && metric.kind === "sum") {
			expectWire(wt, WireType.Varint, "Sum.is_monotonic");
			metric.isMonotonic = r.bool();
		} else skipField(r, wt, no);
	}
	endMessage(r, dataEnd);
	if (metric.kind === "sum" && metric.isMonotonic === null) metric.isMonotonic = false;
	if (metric.name !== "")
		batch.discovery.observeMetric(metric.name, metric.kind, metric.unit || null, metric.description || null);
	forEachChild(r, data, 1, "data_points", (pointEnd) =>
		acceptPoint(batch, resource, scope, metric, protobufPoint(r, pointEnd, metric.kind, batch)),
	);
}

export function decodeMetricsProtobuf(r: BinaryReader, batch: IngestBatch): void {
	walkEnvelope(r, batch.envelope, (end, resource, scope) => protobufMetric(r, end, batch, resource, scope));
}

// ---------------------------------------------------------------------------------------------
// JSON

const JSON_DATA_KEYS: [string, MetricKind][] = [
	["gauge", "gauge"],
	["sum", "sum"],
	["histogram", "histogram"],
	["exponentialHistogram", "exponential_histogram"],
	["summary", "summary"],
];
const TEMPORALITY_NAMES = [
	"AGGREGATION_TEMPORALITY_UNSPECIFIED",
	"AGGREGATION_TEMPORALITY_DELTA",
	"AGGREGATION_TEMPORALITY_CUMULATIVE",
];

/** A JSON list of a point's values; null (the point is rejected) when longer than MAX_POINT_VALUES. */
function jsonValues(value: unknown, path: string): unknown[] | null {
	const list = json.array(value, path);
	return list.length > MAX_POINT_VALUES ? null : list;
}

function jsonBuckets(value: unknown, path: string): { offset: number; counts: bigint[] } | null {
	const buckets = json.object(value, path) ?? {};
	const counts = jsonValues(buckets.bucketCounts, `${path}.bucketCounts`);
	if (!counts) return null;
	return {
		offset: json.int32(buckets.offset, `${path}.offset`),
		counts: counts.map((c, i) => json.uint64(c, `${path}.bucketCounts[${i}]`)),
	};
}

function jsonPoint(
	value: Record<string, unknown>,
	path: string,
	kind: MetricKind,
	batch: IngestBatch,
): PointRecord {
	const point = newPoint();
	const attributes = batch.recordAttributes();
	json.attributes(value.attributes, `${path}.attributes`, attributes);
	point.attributes = attributes.json();
	point.time = json.uint64(value.timeUnixNano, `${path}.timeUnixNano`);
	point.start = json.uint64(value.startTimeUnixNano, `${path}.startTimeUnixNano`);
	point.flags = json.int32(value.flags, `${path}.flags`);
	if (kind === "gauge" || kind === "sum") {
		if (value.asDouble !== undefined && value.asDouble !== null)
			point.value = json.double(value.asDouble, `${path}.asDouble`);
		else if (value.asInt !== undefined && value.asInt !== null)
			point.value = Number(json.int64(value.asInt, `${path}.asInt`));
		return point;
	}
	point.count = json.uint64(value.count, `${path}.count`);
	if (kind === "summary") {
		point.sum = json.double(value.sum, `${path}.sum`);
		const items = jsonValues(value.quantileValues, `${path}.quantileValues`);
		if (!items) {
			point.tooManyValues = true;
			return point;
		}
		const quantiles = items.map((item, i) => {
			const q = json.object(item, `${path}.quantileValues[${i}]`) ?? {};
			return quantileJson(
				json.double(q.quantile, `${path}.quantileValues[${i}].quantile`),
				json.double(q.value, `${path}.quantileValues[${i}].value`),
			);
		});
		point.quantiles = `[${quantiles.join(",")}]`;
		return point;
	}
	point.sum = json.optionalDouble(value.sum, `${path}.sum`);
	point.min = json.optionalDouble(value.min, `${path}.min`);
	point.max = json.optionalDouble(value.max, `${path}.max`);
	if (kind === "histogram") {
		const counts = jsonValues(value.bucketCounts, `${path}.bucketCounts`);
		const bounds = jsonValues(value.explicitBounds, `${path}.explicitBounds`);
		if (!counts || !bounds) {
			point.tooManyValues = true;
			return point;
		}
		point.bucketCounts = counts.map((c, i) => json.uint64(c, `${path}.bucketCounts[${i}]`));
		point.explicitBounds = bounds.map((b, i) => json.double(b, `${path}.explicitBounds[${i}]`));
	} else {
		const positive = jsonBuckets(value.positive, `${path}.positive`);
		const negative = jsonBuckets(value.negative, `${path}.negative`);
		if (!positive || !negative) {
			point.tooManyValues = true;
			return point;
		}
		point.exponential = exponentialJson(
			json.int32(value.scale, `${path}.scale`),
			json.uint64(value.zeroCount, `${path}.zeroCount`),
			json.double(value.zeroThreshold, `${path}.zeroThreshold`),
			positive,
			negative,
		);
	}
	return point;
}

function jsonMetric(
	value: Record<string, unknown>,
	path: string,
	batch: IngestBatch,
	resource: ResourceInfo,
	scope: ScopeInfo,
): void {
	const entry = JSON_DATA_KEYS.find(([key]) => value[key] !== undefined && value[key] !== null);
	if (!entry) return;
	const [key, kind] = entry;
	const data = json.object(value[key], `${path}.${key}`) ?? {};
	const metric: MetricInfo = {
		name: json.string(value.name, `${path}.name`),
		description: json.string(value.description, `${path}.description`),
		unit: json.string(value.unit, `${path}.unit`),
		kind,
		temporality:
			kind === "gauge" || kind === "summary"
				? null
				: (TEMPORALITIES[
						json.enumValue(
							data.aggregationTemporality,
							`${path}.${key}.aggregationTemporality`,
							TEMPORALITY_NAMES,
						)
					] ?? null),
		isMonotonic: kind === "sum" ? json.boolean(data.isMonotonic, `${path}.${key}.isMonotonic`) : null,
	};
	if (metric.name !== "")
		batch.discovery.observeMetric(metric.name, kind, metric.unit || null, metric.description || null);
	const points = json.array(data.dataPoints, `${path}.${key}.dataPoints`);
	for (let i = 0; i < points.length; i++) {
		const pointPath = `${path}.${key}.dataPoints[${i}]`;
		const point = json.object(points[i], pointPath);
		if (point) acceptPoint(batch, resource, scope, metric, jsonPoint(point, pointPath, kind, batch));
	}
}

export function decodeMetricsJson(root: unknown, batch: IngestBatch): void {
	json.walkJsonEnvelope(
		root,
		{ resources: "resourceMetrics", scopes: "scopeMetrics", records: "metrics" },
		batch.envelope,
		(value, path, resource, scope) => jsonMetric(value, path, batch, resource, scope),
	);
}
