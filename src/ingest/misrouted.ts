import type { Signal } from "./messages.js";

/**
 * Exports sent to the wrong place. OTLP receivers must ignore unknown fields, so a logs export posted
 * to /v1/traces is, by the letter, an empty traces export. These checks only turn that silence into
 * a message: a warning in `partial_success` (nothing rejected) for a JSON body that carries another
 * signal's top-level field and nothing of its own, and a 400 that says so for a JSON body sent as
 * protobuf. Protobuf cannot be told apart by its top-level field (all three requests put their
 * resources in field 1); src/ingest/ingest.ts decodes a protobuf body that fails as the path's
 * message as the other two instead, to name the one it is.
 */

/** The top-level field of each signal's Export…ServiceRequest, in OTLP/JSON and as protobuf names it. */
export const TOP_LEVEL_FIELDS: Record<Signal, { json: string; proto: string }> = {
	traces: { json: "resourceSpans", proto: "resource_spans" },
	logs: { json: "resourceLogs", proto: "resource_logs" },
	metrics: { json: "resourceMetrics", proto: "resource_metrics" },
};

const SIGNAL_NAMES: Record<Signal, string> = { traces: "traces", logs: "logs", metrics: "metrics" };
const MESSAGE_NAMES: Record<Signal, string> = {
	traces: "ExportTraceServiceRequest",
	logs: "ExportLogsServiceRequest",
	metrics: "ExportMetricsServiceRequest",
};

/** What a body that stored nothing was, when it can be told. */
export interface Misrouted {
	/** The signal the body belongs to (a misrouted export), or null (a field name in snake_case). */
	signal: Signal | null;
	message: string;
}

const hasItems = (value: unknown) => Array.isArray(value) && value.length > 0;

/**
 * A parsed OTLP/JSON body posted to `/v1/<signal>` that has nothing under its own top-level field but
 * something under another signal's (or under its own in snake_case, which OTLP/JSON does not use):
 * the warning to answer with. Null when the body has data of its own, or nothing at all.
 */
export function misroutedJson(root: unknown, signal: Signal): Misrouted | null {
	if (typeof root !== "object" || root === null || Array.isArray(root)) return null;
	const body = root as Record<string, unknown>;
	const own = TOP_LEVEL_FIELDS[signal];
	if (hasItems(body[own.json])) return null;
	for (const other of Object.keys(TOP_LEVEL_FIELDS) as Signal[]) {
		if (other === signal) continue;
		const fields = TOP_LEVEL_FIELDS[other];
		const field = hasItems(body[fields.json])
			? fields.json
			: hasItems(body[fields.proto])
				? fields.proto
				: null;
		if (field) {
			return {
				signal: other,
				message: `Nothing was stored: the body has ${field} and no ${own.json}, so it looks like a ${SIGNAL_NAMES[other]} export sent to /v1/${signal}, the ${SIGNAL_NAMES[signal]} endpoint. Send it to /v1/${other}.`,
			};
		}
	}
	if (hasItems(body[own.proto])) {
		return {
			signal: null,
			message: `Nothing was stored: OTLP/JSON field names are lowerCamelCase, so ${own.proto} was ignored. Send ${own.json}.`,
		};
	}
	return null;
}

/** The message of a protobuf body that does not decode as `/v1/<signal>`'s but does as `others`'. */
export function misroutedProtobufMessage(signal: Signal, others: Signal[], problem: string): string {
	const messages = others.map((other) => `an ${MESSAGE_NAMES[other]}`).join(" and as ");
	const exports = others.map((other) => SIGNAL_NAMES[other]).join(" or ");
	const paths = others.map((other) => `/v1/${other}`).join(" or ");
	return `The body is not a valid ${MESSAGE_NAMES[signal]} (${problem}) but decodes as ${messages}: it looks like a ${exports} export sent to /v1/${signal}, the ${SIGNAL_NAMES[signal]} endpoint. Send it to ${paths}.`;
}

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/**
 * Whether a body sent as application/x-protobuf is JSON text. Up front (`afterFailure` false): it
 * starts with `{` or `[`, which as protobuf would be a group-start tag that no OTLP message uses.
 * Once protobuf decoding has failed: it is JSON text, leading whitespace allowed — checked by
 * parsing, since a protobuf message may begin with 0x0a (a newline) and a length of 0x7b (`{`).
 */
export function looksLikeJson(body: Uint8Array, afterFailure: boolean): boolean {
	if (!afterFailure) return body[0] === OPEN_BRACE || body[0] === OPEN_BRACKET;
	try {
		JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body));
		return true;
	} catch {
		return false;
	}
}

export const JSON_AS_PROTOBUF_MESSAGE =
	"The body looks like JSON, but the Content-Type says application/x-protobuf: send it with Content-Type: application/json (or send protobuf).";
