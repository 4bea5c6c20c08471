/**
 * Rows of the OQL bench's data set (bench/oql-data.ts: `logRows`, `spanRows`, in the stored
 * tables' columns) written back as the OTLP/HTTP protobuf export an SDK would have sent for them:
 * one ResourceLogs / ResourceSpans per resource (service and host) in the order met, its scope,
 * and the records with their attributes. bench/clickhouse.ts sends them to the Node server, so
 * libSQL's end-to-end ingest is measured over the same rows as the queue consumer's.
 */
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { attribute } from "./otlp.js";

type Row = Record<string, unknown>;

const SPAN_KIND: Record<string, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
const STATUS_CODE: Record<string, number> = { unset: 0, ok: 1, error: 2 };

const bytesOfHex = (hex: string) =>
	Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));

function attributes(w: BinaryWriter, field: number, json: unknown): void {
	for (const [key, value] of Object.entries(JSON.parse(String(json ?? "{}")) as Record<string, unknown>))
		attribute(w, field, key, typeof value === "number" ? value : String(value));
}

function logRecord(w: BinaryWriter, row: Row): void {
	w.tag(1, WireType.Bit64).fixed64(row.timestamp as bigint);
	w.tag(11, WireType.Bit64).fixed64(row.observed_timestamp as bigint);
	if (row.severity_number !== null) w.tag(2, WireType.Varint).int32(row.severity_number as number);
	w.tag(3, WireType.LengthDelimited).string(String(row.severity_text));
	w.tag(5, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(String(row.body)).join();
	attributes(w, 6, row.attributes);
	if (typeof row.trace_id === "string") w.tag(9, WireType.LengthDelimited).bytes(bytesOfHex(row.trace_id));
	if (typeof row.span_id === "string") w.tag(10, WireType.LengthDelimited).bytes(bytesOfHex(row.span_id));
}

function span(w: BinaryWriter, row: Row): void {
	w.tag(1, WireType.LengthDelimited).bytes(bytesOfHex(String(row.trace_id)));
	w.tag(2, WireType.LengthDelimited).bytes(bytesOfHex(String(row.span_id)));
	if (typeof row.parent_span_id === "string")
		w.tag(4, WireType.LengthDelimited).bytes(bytesOfHex(row.parent_span_id));
	w.tag(5, WireType.LengthDelimited).string(String(row.name));
	w.tag(6, WireType.Varint).int32(SPAN_KIND[String(row.kind)] ?? 0);
	const start = row.timestamp as bigint;
	w.tag(7, WireType.Bit64).fixed64(start);
	w.tag(8, WireType.Bit64).fixed64(start + (row.duration_ns as bigint));
	attributes(w, 9, row.attributes);
	const code = STATUS_CODE[String(row.status_code)] ?? 0;
	if (code !== 0 || row.status_message !== null) {
		w.tag(15, WireType.LengthDelimited).fork();
		if (row.status_message !== null) w.tag(2, WireType.LengthDelimited).string(String(row.status_message));
		if (code !== 0) w.tag(3, WireType.Varint).int32(code);
		w.join();
	}
}

/** An ExportLogsServiceRequest (`logs`) or ExportTraceServiceRequest (`spans`) of `rows`. */
export function otlpExportOfRows(table: "logs" | "spans", rows: readonly Row[]): Uint8Array<ArrayBuffer> {
	const byResource = new Map<string, Row[]>();
	for (const row of rows) {
		const key = `${row.resource_attributes}\u0000${row.scope_name}`;
		const group = byResource.get(key);
		if (group) group.push(row);
		else byResource.set(key, [row]);
	}
	const w = new BinaryWriter();
	for (const group of byResource.values()) {
		const first = group[0] as Row;
		w.tag(1, WireType.LengthDelimited).fork(); // ResourceLogs / ResourceSpans
		w.tag(1, WireType.LengthDelimited).fork(); // Resource
		attributes(w, 1, first.resource_attributes);
		w.join();
		w.tag(2, WireType.LengthDelimited).fork(); // ScopeLogs / ScopeSpans
		w.tag(1, WireType.LengthDelimited)
			.fork()
			.tag(1, WireType.LengthDelimited)
			.string(String(first.scope_name))
			.join();
		for (const row of group) {
			w.tag(2, WireType.LengthDelimited).fork();
			if (table === "logs") logRecord(w, row);
			else span(w, row);
			w.join();
		}
		w.join().join();
	}
	return w.finish();
}
