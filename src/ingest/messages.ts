import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { skipField } from "./protobuf.js";

/** The three OTLP signals, by their HTTP path segment. */
export const SIGNALS = ["traces", "logs", "metrics"] as const;
export type Signal = (typeof SIGNALS)[number];
export type OtlpFormat = "protobuf" | "json";

export const CONTENT_TYPES: Record<OtlpFormat, string> = {
	protobuf: "application/x-protobuf",
	json: "application/json",
};

/** The `partial_success` counter of each Export…ServiceResponse (field 1 of Export…PartialSuccess). */
const REJECTED_FIELD: Record<Signal, string> = {
	traces: "rejectedSpans",
	logs: "rejectedLogRecords",
	metrics: "rejectedDataPoints",
};

export interface PartialSuccess {
	rejected: number;
	message: string;
}

/** Export…ServiceResponse; `partial_success` is left unset on full success, as OTLP requires. */
export function exportResponse(
	signal: Signal,
	format: OtlpFormat,
	partial: PartialSuccess | null,
): Uint8Array | string {
	if (format === "json") {
		if (!partial) return "{}";
		return JSON.stringify({
			partialSuccess: { [REJECTED_FIELD[signal]]: String(partial.rejected), errorMessage: partial.message },
		});
	}
	const writer = new BinaryWriter();
	if (partial) {
		writer.tag(1, WireType.LengthDelimited).fork();
		if (partial.rejected !== 0) writer.tag(1, WireType.Varint).int64(partial.rejected);
		if (partial.message) writer.tag(2, WireType.LengthDelimited).string(partial.message);
		writer.join();
	}
	return writer.finish();
}

/** gRPC status codes OTLP uses; an HTTP failure's Status carries the matching one. */
export const GRPC_CODES = {
	OK: 0,
	INVALID_ARGUMENT: 3,
	PERMISSION_DENIED: 7,
	RESOURCE_EXHAUSTED: 8,
	INTERNAL: 13,
	UNAVAILABLE: 14,
	UNAUTHENTICATED: 16,
} as const;

export type StatusDetail =
	| { type: "ErrorInfo"; reason: string; domain: string; metadata: Record<string, string> }
	| { type: "BadRequest"; violations: { field: string; description: string }[] }
	| { type: "RetryInfo"; seconds: number };

/** google.rpc.Status: the body of every OTLP failure, and gRPC's `grpc-status-details-bin`. */
export interface RpcStatus {
	code: number;
	message: string;
	details: StatusDetail[];
}

const TYPE_URL = "type.googleapis.com/google.rpc.";

function detailJson(detail: StatusDetail): Record<string, unknown> {
	const type = `${TYPE_URL}${detail.type}`;
	switch (detail.type) {
		case "ErrorInfo":
			return { "@type": type, reason: detail.reason, domain: detail.domain, metadata: detail.metadata };
		case "BadRequest":
			return { "@type": type, fieldViolations: detail.violations };
		case "RetryInfo":
			return { "@type": type, retryDelay: `${detail.seconds}s` };
	}
}

function detailBytes(detail: StatusDetail): Uint8Array {
	const writer = new BinaryWriter();
	switch (detail.type) {
		case "ErrorInfo":
			writer.tag(1, WireType.LengthDelimited).string(detail.reason);
			writer.tag(2, WireType.LengthDelimited).string(detail.domain);
			for (const [key, value] of Object.entries(detail.metadata)) {
				writer.tag(3, WireType.LengthDelimited).fork();
				writer.tag(1, WireType.LengthDelimited).string(key);
				writer.tag(2, WireType.LengthDelimited).string(value);
				writer.join();
			}
			break;
		case "BadRequest":
			for (const violation of detail.violations) {
				writer.tag(1, WireType.LengthDelimited).fork();
				writer.tag(1, WireType.LengthDelimited).string(violation.field);
				writer.tag(2, WireType.LengthDelimited).string(violation.description);
				writer.join();
			}
			break;
		case "RetryInfo":
			// retry_delay: google.protobuf.Duration { int64 seconds = 1; }
			writer.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.Varint).int64(detail.seconds).join();
			break;
	}
	return writer.finish();
}

export function encodeStatus(status: RpcStatus, format: OtlpFormat): Uint8Array | string {
	if (format === "json") {
		return JSON.stringify({
			code: status.code,
			message: status.message,
			details: status.details.map(detailJson),
		});
	}
	const writer = new BinaryWriter();
	if (status.code !== 0) writer.tag(1, WireType.Varint).int32(status.code);
	writer.tag(2, WireType.LengthDelimited).string(status.message);
	for (const detail of status.details) {
		writer.tag(3, WireType.LengthDelimited).fork();
		writer.tag(1, WireType.LengthDelimited).string(`${TYPE_URL}${detail.type}`);
		writer.tag(2, WireType.LengthDelimited).bytes(detailBytes(detail));
		writer.join();
	}
	return writer.finish();
}

/** The code and message of a protobuf google.rpc.Status (for the gRPC bridge and for tests). */
export function decodeStatus(bytes: Uint8Array): { code: number; message: string; detailTypes: string[] } {
	const reader = new BinaryReader(bytes);
	const status = { code: 0, message: "", detailTypes: [] as string[] };
	while (reader.pos < reader.len) {
		const [no, wt] = reader.tag();
		if (no === 1 && wt === WireType.Varint) status.code = reader.int32();
		else if (no === 2 && wt === WireType.LengthDelimited) status.message = reader.string();
		else if (no === 3 && wt === WireType.LengthDelimited) {
			const any = new BinaryReader(reader.bytes());
			while (any.pos < any.len) {
				const [anyNo, anyWt] = any.tag();
				if (anyNo === 1 && anyWt === WireType.LengthDelimited) status.detailTypes.push(any.string());
				else skipField(any, anyWt, anyNo);
			}
		} else skipField(reader, wt, no);
	}
	return status;
}
