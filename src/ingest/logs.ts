import { LOG_LEVELS } from "../db/schema-telemetry.js";
import {
	type DecodedValue,
	EMPTY_VALUE,
	idFromBytes,
	type ResourceInfo,
	type ScopeInfo,
} from "./attributes.js";
import { checkTime, type IngestBatch } from "./batch.js";
import * as json from "./json.js";
import {
	anyValue,
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

/** A log record as decoded, before validation. Ids: hex, "" when absent, null when invalid. */
interface LogRecord {
	time: bigint;
	observedTime: bigint;
	severityNumber: number;
	severityText: string;
	body: DecodedValue;
	attributes: string;
	traceId: string | null;
	spanId: string | null;
	eventName: string;
}

/**
 * trace|debug|info|warn|error|fatal from the severity number (1–4, 5–8, …, 21–24), else the
 * severity text lower-cased, else null.
 */
export function levelOf(severityNumber: number | null, severityText: string): string | null {
	if (severityNumber !== null && severityNumber >= 1 && severityNumber <= 24) {
		return LOG_LEVELS[Math.floor((severityNumber - 1) / 4)] as string;
	}
	return severityText ? severityText.toLowerCase() : null;
}

function acceptLog(batch: IngestBatch, resource: ResourceInfo, scope: ScopeInfo, log: LogRecord): void {
	batch.items++;
	const rejections = batch.rejections;
	if (log.traceId === null) {
		rejections.add("with an invalid trace id (16 bytes, not all zero)");
		return;
	}
	if (log.spanId === null) {
		rejections.add("with an invalid span id (8 bytes, not all zero)");
		return;
	}
	// OTLP: a record without time_unix_nano is placed at its observed time; without either, at receipt.
	const observed = log.observedTime || batch.window.nowNs;
	const timestamp = log.time || observed;
	const time = checkTime(batch.window, timestamp);
	if (time !== "ok") {
		rejections.add(batch.timeReason(time));
		return;
	}
	if (observed > batch.window.maxNs) {
		rejections.add(batch.timeReason("too_new"));
		return;
	}
	const severityNumber = log.severityNumber >= 1 && log.severityNumber <= 24 ? log.severityNumber : null;
	const body = log.body.type === 0 ? null : (log.body.text ?? log.body.json);
	batch.logs
		.row()
		.push(
			batch.orgId,
			timestamp,
			observed,
			severityNumber,
			log.severityText || null,
			levelOf(severityNumber, log.severityText),
			body,
			log.traceId || null,
			log.spanId || null,
			log.eventName || null,
			resource.service,
			resource.host,
			scope.name,
			scope.version,
			resource.attributes,
			scope.attributes,
			log.attributes,
		);
}

// ---------------------------------------------------------------------------------------------
// protobuf: ExportLogsServiceRequest

function protobufLog(r: BinaryReader, end: number, batch: IngestBatch): LogRecord {
	const log: LogRecord = {
		time: 0n,
		observedTime: 0n,
		severityNumber: 0,
		severityText: "",
		body: EMPTY_VALUE,
		attributes: "{}",
		traceId: "",
		spanId: "",
		eventName: "",
	};
	const attributes = batch.recordAttributes();
	while (r.pos < end) {
		const [no, wt] = r.tag();
		switch (no) {
			case 1:
				log.time = readFixed64(r, wt, "LogRecord.time_unix_nano");
				break;
			case 11:
				log.observedTime = readFixed64(r, wt, "LogRecord.observed_time_unix_nano");
				break;
			case 2:
				log.severityNumber = readVarint32(r, wt, "LogRecord.severity_number");
				break;
			case 3:
				log.severityText = readString(r, wt, "LogRecord.severity_text");
				break;
			case 5:
				expectWire(wt, WireType.LengthDelimited, "LogRecord.body");
				log.body = anyValue(r, messageEnd(r), 0);
				break;
			case 6:
				attribute(r, wt, attributes, "LogRecord.attributes");
				break;
			case 9:
				log.traceId = idFromBytes(readBytes(r, wt, "LogRecord.trace_id"), 16);
				break;
			case 10:
				log.spanId = idFromBytes(readBytes(r, wt, "LogRecord.span_id"), 8);
				break;
			case 12:
				log.eventName = readString(r, wt, "LogRecord.event_name");
				break;
			default:
				skipField(r, wt, no);
		}
	}
	endMessage(r, end);
	log.attributes = attributes.json();
	return log;
}

export function decodeLogsProtobuf(r: BinaryReader, batch: IngestBatch): void {
	walkEnvelope(r, batch.envelope, (end, resource, scope) =>
		acceptLog(batch, resource, scope, protobufLog(r, end, batch)),
	);
}

// ---------------------------------------------------------------------------------------------
// JSON

const SEVERITY_NAMES = [
	"SEVERITY_NUMBER_UNSPECIFIED",
	...["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"].flatMap((level) =>
		["", "2", "3", "4"].map((n) => `SEVERITY_NUMBER_${level}${n}`),
	),
];

function jsonLog(value: Record<string, unknown>, path: string, batch: IngestBatch): LogRecord {
	const attributes = batch.recordAttributes();
	json.attributes(value.attributes, `${path}.attributes`, attributes);
	return {
		time: json.uint64(value.timeUnixNano, `${path}.timeUnixNano`),
		observedTime: json.uint64(value.observedTimeUnixNano, `${path}.observedTimeUnixNano`),
		severityNumber: json.enumValue(value.severityNumber, `${path}.severityNumber`, SEVERITY_NAMES),
		severityText: json.string(value.severityText, `${path}.severityText`),
		body: json.anyValue(value.body, `${path}.body`),
		attributes: attributes.json(),
		traceId: json.hexId(value.traceId, 16, `${path}.traceId`),
		spanId: json.hexId(value.spanId, 8, `${path}.spanId`),
		eventName: json.string(value.eventName, `${path}.eventName`),
	};
}

export function decodeLogsJson(root: unknown, batch: IngestBatch): void {
	json.walkJsonEnvelope(
		root,
		{ resources: "resourceLogs", scopes: "scopeLogs", records: "logRecords" },
		batch.envelope,
		(value, path, resource, scope) => acceptLog(batch, resource, scope, jsonLog(value, path, batch)),
	);
}
