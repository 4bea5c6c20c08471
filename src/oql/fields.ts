/**
 * What a query may name, per source: friendly field names with their types and meanings. This is the
 * language's view; how each field is stored is in columns.ts (the compiler's view), kept apart so
 * storage can change without changing the language. A test keeps the two tables in step.
 */

export type FieldType = "number" | "string" | "time" | "bool";

export interface FieldInfo {
	type: FieldType;
	description: string;
}

export type SourceName = "logs" | "spans" | "metrics" | "annotations" | "heartbeats";

export interface SourceInfo {
	description: string;
	fields: Record<string, FieldInfo>;
	/** Whether `attributes['…']` and `resource['…']` may be read (OTLP key-value maps). */
	attributes: boolean;
	resource: boolean;
}

/** Other names a query may use for a source. */
export const SOURCE_ALIASES: Record<string, SourceName> = { traces: "spans" };

const timestamp: FieldInfo = { type: "time", description: "When it happened (UTC)." };
const service: FieldInfo = {
	type: "string",
	description: "The service name (resource attribute service.name).",
};
const host: FieldInfo = { type: "string", description: "The host name (resource attribute host.name)." };
const traceId: FieldInfo = { type: "string", description: "The trace id, 32 lower-case hex digits." };
const spanId: FieldInfo = { type: "string", description: "The span id, 16 lower-case hex digits." };

export const SOURCES: Record<SourceName, SourceInfo> = {
	logs: {
		description: "OTLP log records.",
		attributes: true,
		resource: true,
		fields: {
			timestamp,
			service,
			host,
			level: {
				type: "string",
				description:
					"trace, debug, info, warn, error or fatal from the severity number (1–4, 5–8, 9–12, 13–16, 17–20, 21–24), else the lower-cased severity text.",
			},
			severity: { type: "number", description: "The OTLP severity number, 1–24 (0: unspecified)." },
			severity_text: { type: "string", description: "The severity text as sent." },
			body: { type: "string", description: "The log message." },
			trace_id: traceId,
			span_id: spanId,
		},
	},
	spans: {
		description: "OTLP spans (also `traces`).",
		attributes: true,
		resource: true,
		fields: {
			timestamp: { type: "time", description: "When the span started (UTC)." },
			service,
			host,
			trace_id: traceId,
			span_id: spanId,
			parent_span_id: { type: "string", description: "The parent span's id; null for a root span." },
			name: { type: "string", description: "The span name, e.g. GET /users/:id." },
			kind: {
				type: "string",
				description: "unspecified, internal, server, client, producer or consumer.",
			},
			duration_ms: { type: "number", description: "End minus start, in milliseconds (a float)." },
			status: { type: "string", description: "The status code: unset, ok or error." },
			status_message: { type: "string", description: "The status message (set with an error status)." },
		},
	},
	metrics: {
		description: "OTLP metric data points (gauges and sums; one row per point).",
		attributes: true,
		resource: true,
		fields: {
			timestamp,
			service,
			host,
			name: { type: "string", description: "The metric name, e.g. http.server.duration." },
			value: { type: "number", description: "The point's value." },
			unit: { type: "string", description: "The metric unit, e.g. ms or By." },
		},
	},
	annotations: {
		description: "Annotations: deploy markers and other events on the timeline.",
		attributes: false,
		resource: false,
		fields: {
			timestamp: { type: "time", description: "The annotation's time." },
			time_end: { type: "time", description: "The end of a ranged annotation; null for a point." },
			title: { type: "string", description: "The title." },
			text: { type: "string", description: "The longer text." },
			tags: { type: "string", description: 'The tags as a JSON array, e.g. ["deploy","api"].' },
			service: { type: "string", description: "The service." },
			environment: { type: "string", description: "The environment, e.g. production." },
			version: { type: "string", description: "The version deployed." },
			url: { type: "string", description: "A link." },
			external_id: { type: "string", description: "The idempotency key given on creation." },
			author: { type: "string", description: "The name of the user or API key that created it." },
		},
	},
	heartbeats: {
		description: "Heartbeat pings of cron and job monitors.",
		attributes: false,
		resource: false,
		fields: {
			timestamp: { type: "time", description: "When the ping arrived." },
			monitor: { type: "string", description: "The monitor's slug." },
			kind: { type: "string", description: "success, start, fail or log." },
			exit_code: { type: "number", description: "The exit code of an exit-code ping; null otherwise." },
			run_id: { type: "string", description: "The rid pairing a start with its end." },
			duration_ms: { type: "number", description: "For an end paired with its start: the run's duration." },
			body: { type: "string", description: "The first 10,000 bytes of the ping's body." },
		},
	},
};

export function resolveSource(name: string): SourceName | null {
	if (Object.hasOwn(SOURCES, name)) return name as SourceName;
	return Object.hasOwn(SOURCE_ALIASES, name) ? (SOURCE_ALIASES[name] ?? null) : null;
}

/** A field of a source, or null (own properties only: `constructor` is no field). */
export function fieldOf(source: SourceName, name: string): FieldInfo | null {
	const fields = SOURCES[source].fields;
	return Object.hasOwn(fields, name) ? (fields[name] ?? null) : null;
}

/** Every name a query may write after FROM. */
export function sourceNames(): string[] {
	return [...Object.keys(SOURCES), ...Object.keys(SOURCE_ALIASES)];
}
