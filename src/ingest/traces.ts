import { SPAN_KINDS, SPAN_STATUS_CODES } from "../db/schema-telemetry.js";
import { idFromBytes, type ResourceInfo, type ScopeInfo } from "./attributes.js";
import { checkTime, type IngestBatch, MAX_EVENTS_PER_SPAN, MAX_LINKS_PER_SPAN } from "./batch.js";
import * as json from "./json.js";
import {
	attribute,
	type BinaryReader,
	endMessage,
	expectWire,
	messageEnd,
	readBytes,
	readFixed64,
	readString,
	readVarint32,
	skipField,
	WireType,
	walkEnvelope,
} from "./protobuf.js";

/** A span as decoded, before validation. Ids: hex, "" when absent, null when invalid. */
interface SpanRecord {
	traceId: string | null;
	spanId: string | null;
	parentSpanId: string | null;
	name: string;
	kind: number;
	start: bigint;
	end: bigint;
	attributes: string;
	events: string | null;
	links: string | null;
	statusCode: number;
	statusMessage: string;
}

const REASONS = {
	traceId: "with a missing or invalid trace id (16 bytes, not all zero)",
	spanId: "with a missing or invalid span id (8 bytes, not all zero)",
	parentSpanId: "with an invalid parent span id (8 bytes, not all zero)",
	noStart: "without a start time",
	endBeforeStart: "ending before they start",
};

/** Validates one span and appends its row, or counts it as rejected. */
function acceptSpan(batch: IngestBatch, resource: ResourceInfo, scope: ScopeInfo, span: SpanRecord): void {
	batch.items++;
	const rejections = batch.rejections;
	if (!span.traceId) {
		rejections.add(REASONS.traceId);
		return;
	}
	if (!span.spanId) {
		rejections.add(REASONS.spanId);
		return;
	}
	if (span.parentSpanId === null) {
		rejections.add(REASONS.parentSpanId);
		return;
	}
	if (span.start === 0n) {
		rejections.add(REASONS.noStart);
		return;
	}
	if (span.end < span.start) {
		rejections.add(REASONS.endBeforeStart);
		return;
	}
	const time = checkTime(batch.window, span.start);
	if (time !== "ok") {
		rejections.add(batch.timeReason(time));
		return;
	}
	if (span.end > batch.window.maxNs) {
		rejections.add(batch.timeReason("too_new"));
		return;
	}
	batch.spans
		.row()
		.push(
			batch.orgId,
			span.start,
			span.end - span.start,
			span.traceId,
			span.spanId,
			span.parentSpanId || null,
			span.name,
			SPAN_KINDS[span.kind] ?? "unspecified",
			SPAN_STATUS_CODES[span.statusCode] ?? "unset",
			span.statusMessage || null,
			resource.service,
			resource.host,
			scope.name,
			scope.version,
			resource.attributes,
			scope.attributes,
			span.attributes,
			span.events,
			span.links,
		);
}

const eventJson = (timestamp: bigint, name: string, attributes: string) =>
	`{"timestamp":${timestamp},"name":${JSON.stringify(name)},"attributes":${attributes}}`;

const linkJson = (traceId: string, spanId: string, traceState: string, attributes: string) =>
	`{"trace_id":"${traceId}","span_id":"${spanId}"${traceState ? `,"trace_state":${JSON.stringify(traceState)}` : ""},"attributes":${attributes}}`;

/** A link whose ids are not valid is dropped: it could not point anywhere. */
const validLink = (traceId: string | null, spanId: string | null): boolean => !!traceId && !!spanId;

// ---------------------------------------------------------------------------------------------
// protobuf: ExportTraceServiceRequest

function protobufEvent(r: BinaryReader, end: number, batch: IngestBatch): string {
	let time = 0n;
	let name = "";
	const attributes = batch.nestedAttributes();
	while (r.pos < end) {
		const [no, wt] = r.tag();
		if (no === 1) time = readFixed64(r, wt, "Span.Event.time_unix_nano");
		else if (no === 2) name = readString(r, wt, "Span.Event.name");
		else if (no === 3) attribute(r, wt, attributes, "Span.Event.attributes");
		else skipField(r, wt, no);
	}
	endMessage(r, end);
	return eventJson(time, name, attributes.json());
}

function protobufLink(r: BinaryReader, end: number, batch: IngestBatch): string | null {
	let traceId: string | null = "";
	let spanId: string | null = "";
	let traceState = "";
	const attributes = batch.nestedAttributes();
	while (r.pos < end) {
		const [no, wt] = r.tag();
		if (no === 1) traceId = idFromBytes(readBytes(r, wt, "Span.Link.trace_id"), 16);
		else if (no === 2) spanId = idFromBytes(readBytes(r, wt, "Span.Link.span_id"), 8);
		else if (no === 3) traceState = readString(r, wt, "Span.Link.trace_state");
		else if (no === 4) attribute(r, wt, attributes, "Span.Link.attributes");
		else skipField(r, wt, no);
	}
	endMessage(r, end);
	return validLink(traceId, spanId)
		? linkJson(traceId as string, spanId as string, traceState, attributes.json())
		: null;
}

function protobufSpan(r: BinaryReader, end: number, batch: IngestBatch): SpanRecord {
	const span: SpanRecord = {
		traceId: "",
		spanId: "",
		parentSpanId: "",
		name: "",
		kind: 0,
		start: 0n,
		end: 0n,
		attributes: "{}",
		events: null,
		links: null,
		statusCode: 0,
		statusMessage: "",
	};
	const attributes = batch.recordAttributes();
	const events: string[] = [];
	const links: string[] = [];
	let linksSeen = 0;
	while (r.pos < end) {
		const [no, wt] = r.tag();
		switch (no) {
			case 1:
				span.traceId = idFromBytes(readBytes(r, wt, "Span.trace_id"), 16);
				break;
			case 2:
				span.spanId = idFromBytes(readBytes(r, wt, "Span.span_id"), 8);
				break;
			case 4:
				span.parentSpanId = idFromBytes(readBytes(r, wt, "Span.parent_span_id"), 8);
				break;
			case 5:
				span.name = readString(r, wt, "Span.name");
				break;
			case 6:
				span.kind = readVarint32(r, wt, "Span.kind");
				break;
			case 7:
				span.start = readFixed64(r, wt, "Span.start_time_unix_nano");
				break;
			case 8:
				span.end = readFixed64(r, wt, "Span.end_time_unix_nano");
				break;
			case 9:
				attribute(r, wt, attributes, "Span.attributes");
				break;
			case 11: {
				expectWire(wt, WireType.LengthDelimited, "Span.events");
				if (events.length < MAX_EVENTS_PER_SPAN) events.push(protobufEvent(r, messageEnd(r), batch));
				else {
					batch.dropped.events++;
					skipField(r, wt, no);
				}
				break;
			}
			case 13: {
				expectWire(wt, WireType.LengthDelimited, "Span.links");
				// Every link counts toward the cap, valid or not (as in JSON: the first 256 are read).
				if (linksSeen++ < MAX_LINKS_PER_SPAN) {
					const link = protobufLink(r, messageEnd(r), batch);
					if (link) links.push(link);
				} else {
					batch.dropped.links++;
					skipField(r, wt, no);
				}
				break;
			}
			case 15: {
				expectWire(wt, WireType.LengthDelimited, "Span.status");
				const statusEnd = messageEnd(r);
				while (r.pos < statusEnd) {
					const [statusNo, statusWt] = r.tag();
					if (statusNo === 2) span.statusMessage = readString(r, statusWt, "Status.message");
					else if (statusNo === 3) span.statusCode = readVarint32(r, statusWt, "Status.code");
					else skipField(r, statusWt, statusNo);
				}
				endMessage(r, statusEnd);
				break;
			}
			default:
				skipField(r, wt, no);
		}
	}
	endMessage(r, end);
	span.attributes = attributes.json();
	if (events.length > 0) span.events = `[${events.join(",")}]`;
	if (links.length > 0) span.links = `[${links.join(",")}]`;
	return span;
}

export function decodeTracesProtobuf(r: BinaryReader, batch: IngestBatch): void {
	walkEnvelope(r, batch.envelope, (end, resource, scope) =>
		acceptSpan(batch, resource, scope, protobufSpan(r, end, batch)),
	);
}

// ---------------------------------------------------------------------------------------------
// JSON

const KIND_NAMES = [
	"SPAN_KIND_UNSPECIFIED",
	"SPAN_KIND_INTERNAL",
	"SPAN_KIND_SERVER",
	"SPAN_KIND_CLIENT",
	"SPAN_KIND_PRODUCER",
	"SPAN_KIND_CONSUMER",
];
const STATUS_NAMES = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

function jsonSpan(value: Record<string, unknown>, path: string, batch: IngestBatch): SpanRecord {
	const attributes = batch.recordAttributes();
	json.attributes(value.attributes, `${path}.attributes`, attributes);
	const allEvents = json.array(value.events, `${path}.events`);
	batch.dropped.events += Math.max(0, allEvents.length - MAX_EVENTS_PER_SPAN);
	const events = allEvents.slice(0, MAX_EVENTS_PER_SPAN).map((item, i) => {
		const eventPath = `${path}.events[${i}]`;
		const event = json.object(item, eventPath) ?? {};
		const eventAttributes = batch.nestedAttributes();
		json.attributes(event.attributes, `${eventPath}.attributes`, eventAttributes);
		return eventJson(
			json.uint64(event.timeUnixNano, `${eventPath}.timeUnixNano`),
			json.string(event.name, `${eventPath}.name`),
			eventAttributes.json(),
		);
	});
	const links: string[] = [];
	const allLinks = json.array(value.links, `${path}.links`);
	batch.dropped.links += Math.max(0, allLinks.length - MAX_LINKS_PER_SPAN);
	allLinks.slice(0, MAX_LINKS_PER_SPAN).forEach((item, i) => {
		const linkPath = `${path}.links[${i}]`;
		const link = json.object(item, linkPath) ?? {};
		const linkAttributes = batch.nestedAttributes();
		json.attributes(link.attributes, `${linkPath}.attributes`, linkAttributes);
		const traceId = json.hexId(link.traceId, 16, `${linkPath}.traceId`);
		const spanId = json.hexId(link.spanId, 8, `${linkPath}.spanId`);
		if (validLink(traceId, spanId)) {
			links.push(
				linkJson(
					traceId as string,
					spanId as string,
					json.string(link.traceState, `${linkPath}.traceState`),
					linkAttributes.json(),
				),
			);
		}
	});
	const status = json.object(value.status, `${path}.status`) ?? {};
	return {
		traceId: json.hexId(value.traceId, 16, `${path}.traceId`),
		spanId: json.hexId(value.spanId, 8, `${path}.spanId`),
		parentSpanId: json.hexId(value.parentSpanId, 8, `${path}.parentSpanId`),
		name: json.string(value.name, `${path}.name`),
		kind: json.enumValue(value.kind, `${path}.kind`, KIND_NAMES),
		start: json.uint64(value.startTimeUnixNano, `${path}.startTimeUnixNano`),
		end: json.uint64(value.endTimeUnixNano, `${path}.endTimeUnixNano`),
		attributes: attributes.json(),
		events: events.length > 0 ? `[${events.join(",")}]` : null,
		links: links.length > 0 ? `[${links.join(",")}]` : null,
		statusCode: json.enumValue(status.code, `${path}.status.code`, STATUS_NAMES),
		statusMessage: json.string(status.message, `${path}.status.message`),
	};
}

export function decodeTracesJson(root: unknown, batch: IngestBatch): void {
	json.walkJsonEnvelope(
		root,
		{ resources: "resourceSpans", scopes: "scopeSpans", records: "spans" },
		batch.envelope,
		(value, path, resource, scope) => acceptSpan(batch, resource, scope, jsonSpan(value, path, batch)),
	);
}
