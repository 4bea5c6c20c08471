import type { Row } from "@libsql/client";
import { spans } from "../db/schema-telemetry.js";
import { parseJsonExact } from "../http/json-exact.js";
import { type LogJson, logColumns, logJson } from "./logs.js";
import {
	ERROR_RULES,
	exactTime,
	type Filter,
	filterSql,
	filtersSql,
	jsonObject,
	nsTime,
	nsToMs,
	orgOnly,
	type PageReader,
	readBatch,
	Statement,
	scope,
	type TableRef,
	table,
	text,
} from "./store.js";
import type { PageWindow } from "./window.js";

export interface TraceFilters {
	service?: string | undefined;
	minDurationMs?: number | undefined;
	/** `error`: traces with at least one error span; `ok`: traces without one. */
	status?: "error" | "ok" | undefined;
}

export interface TraceSummaryJson {
	trace_id: string;
	time: string;
	time_unix_nano: string;
	/** The root span's duration. */
	duration_ms: number;
	root: {
		span_id: string;
		name: string;
		service: string | null;
		host: string | null;
		kind: string;
		status: string;
	};
	span_count: number;
	error_count: number;
	error: boolean;
	services: string[];
}

/** Conditions on the root span `r`; `status` looks at every span of the trace. */
function rootFilters(filters: TraceFilters): Filter[] {
	const out: Filter[] = [];
	if (filters.service !== undefined) out.push({ field: "service", op: "=", value: filters.service });
	if (filters.minDurationMs !== undefined)
		out.push({ field: "duration_ms", op: ">=", value: filters.minDurationMs });
	return out;
}

/** The spans of the trace `r` belongs to: found through (org_id, trace_id). */
function sameTrace(statement: Statement, s: TableRef, r: TableRef, orgId: string): string {
	return `${orgOnly(statement, s, orgId)} AND ${s.field("trace_id")} = ${r.field("trace_id")}`;
}

/**
 * Traces newest first: one row per root span (a span without a parent), keyset on the root's
 * (timestamp, id) through the partial root index; the trace's span count, errors and services
 * come from its spans via the (org_id, trace_id) index, for the rows of the page only.
 */
export async function tracesPage(
	reader: PageReader,
	orgId: string,
	window: PageWindow,
	filters: TraceFilters,
	options: { limit: number; after: [string, number] | null },
): Promise<{ rows: TraceSummaryJson[]; next: [string, number] | null }> {
	const engine = reader.sql;
	const statement = new Statement(engine);
	const r = table(engine, "spans", "r");
	const s = table(engine, "spans", "s");
	const isError = (t: TableRef) => filterSql(statement, t, ERROR_RULES.spans);
	let conditions = `${scope(statement, r, orgId, window)} AND ${r.field("parent_span_id")} IS NULL`;
	conditions += filtersSql(statement, r, rootFilters(filters));
	if (filters.status) {
		const exists = `EXISTS (SELECT 1 FROM ${s.from} WHERE ${sameTrace(statement, s, r, orgId)} AND ${isError(s)})`;
		conditions += filters.status === "error" ? ` AND ${exists}` : ` AND NOT ${exists}`;
	}
	if (options.after) {
		conditions += ` AND (${r.time}, ${r.id}) < (${statement.param(BigInt(options.after[0]))}, ${statement.param(BigInt(options.after[1]))})`;
	}
	const perTrace = (select: string, where = "") =>
		`(SELECT ${select} FROM ${s.from} WHERE ${sameTrace(statement, s, r, orgId)}${where})`;
	const sql =
		`SELECT ${r.id} AS id, ${exactTime(r)} AS ts, ${r.field("trace_id")} AS trace_id, ${r.field("span_id")} AS span_id,` +
		` ${r.field("name")} AS name, ${r.field("service")} AS service, ${r.field("host")} AS host,` +
		` ${r.field("kind")} AS kind, ${r.field("status")} AS status, ${r.raw(spans.durationNs)} AS duration_ns,` +
		` ${perTrace("count(*)")} AS span_count,` +
		` ${perTrace("count(*)", ` AND ${isError(s)}`)} AS error_count,` +
		` ${perTrace(engine.distinctJsonArray(s.field("service")), ` AND ${s.field("service")} IS NOT NULL`)} AS services` +
		` FROM ${r.from} WHERE ${conditions}` +
		` ORDER BY ${r.time} DESC, ${r.id} DESC LIMIT ${statement.param(BigInt(options.limit + 1))}`;
	const [result] = await readBatch(reader, [statement.done(sql)]);
	const rows = (result?.rows ?? []).slice(0, options.limit);
	const last = rows.at(-1);
	return {
		rows: rows.map((row) => {
			const errors = Number(row.error_count);
			return {
				trace_id: String(row.trace_id),
				...nsTime(String(row.ts)),
				duration_ms: Number(row.duration_ns) / 1_000_000,
				root: {
					span_id: String(row.span_id),
					name: String(row.name),
					service: text(row, "service"),
					host: text(row, "host"),
					kind: String(row.kind),
					status: String(row.status),
				},
				span_count: Number(row.span_count),
				error_count: errors,
				error: errors > 0,
				services: ((JSON.parse(String(row.services)) as string[] | null) ?? []).sort(),
			};
		}),
		next: (result?.rows.length ?? 0) > options.limit && last ? [String(last.ts), Number(last.id)] : null,
	};
}

// ---------------------------------------------------------------------------------------------
// One trace, as a tree ready for a waterfall

export const TRACE_SPAN_LIMIT = 10_000;
export const TRACE_LOG_LIMIT = 1_000;

export interface SpanEventJson {
	name: string;
	time: string;
	time_unix_nano: string;
	/** From the trace's start, ms. */
	offset_ms: number;
	attributes: Record<string, unknown>;
}

export interface TraceSpanJson {
	span_id: string;
	parent_span_id: string | null;
	name: string;
	service: string | null;
	host: string | null;
	kind: string;
	status: string;
	status_message: string | null;
	/** The span's start; left out of a summary, like the scope and the details below. */
	time?: string;
	time_unix_nano?: string;
	/** From the trace's earliest span start, ms. */
	start_offset_ms: number;
	duration_ms: number;
	/** 0 for a root; a span whose parent is not in the trace is drawn as a root (`missing_parent`). */
	depth: number;
	children: string[];
	missing_parent: boolean;
	scope?: { name: string | null; version: string | null };
	/** The span's details: left out of a summary (`view=summary`). */
	attributes?: Record<string, unknown>;
	resource?: Record<string, unknown>;
	events?: SpanEventJson[];
	links?: unknown[];
}

export interface TraceJson {
	trace_id: string;
	time: string;
	time_unix_nano: string;
	/** Latest span end minus earliest span start. */
	duration_ms: number;
	span_count: number;
	error_count: number;
	services: string[];
	root_span_id: string | null;
	/** Depth-first, children by start time: the waterfall's row order. */
	spans: TraceSpanJson[];
	/** The trace's log records, oldest first. */
	logs: LogJson[];
	truncated: { spans: boolean; logs: boolean };
}

/**
 * A span's events JSON as the rows of the json_each statement (id, ts as text, name, attributes as
 * JSON text): what SQLite's json_extract gives for the events ingest writes
 * (`{"timestamp":…,"name":…,"attributes":{…}}`), for an engine that does not expand them itself.
 */
function eventRowsOf(span: Row): Record<string, unknown>[] {
	if (typeof span.events !== "string") return [];
	let events: unknown;
	try {
		events = parseJsonExact(span.events);
	} catch {
		return [];
	}
	if (!Array.isArray(events)) return [];
	return events.map((event: unknown) => {
		const e = (event && typeof event === "object" ? event : {}) as Record<string, unknown>;
		const ts = e.timestamp;
		return {
			id: span.id,
			ts: typeof ts === "string" || (typeof ts === "number" && Number.isInteger(ts)) ? String(ts) : null,
			name: e.name ?? null,
			attributes: e.attributes && typeof e.attributes === "object" ? JSON.stringify(e.attributes) : null,
		};
	});
}

function jsonArray(value: unknown): unknown[] {
	try {
		const parsed: unknown = value === null || value === undefined ? [] : JSON.parse(String(value));
		return Array.isArray(parsed) ? parsed : [];
	} catch {
		return [];
	}
}

interface Node {
	row: Row;
	start: bigint;
	json: TraceSpanJson;
	children: Node[];
}

/**
 * `full`: every span with its times, scope, attributes, resource, events and links. `summary`: the
 * tree without those — what a waterfall needs to draw (offsets, durations, names, statuses), with
 * no JSON of attributes read, parsed and written again; the UI fetches the full trace after drawing.
 */
export type TraceView = "full" | "summary";

/** null when the org has no span with this trace id (another org's trace is not found either). */
export async function traceDetail(
	reader: PageReader,
	orgId: string,
	traceId: string,
	view: TraceView = "full",
): Promise<TraceJson | null> {
	const full = view === "full";
	const engine = reader.sql;
	// Where the engine cannot expand the events array in SQL, it comes with each span.
	const eventsWithSpans = full && !engine.jsonEach;
	const spanStatement = new Statement(engine);
	const s = table(engine, "spans", "s");
	const byTrace = (statement: Statement, t: TableRef) =>
		`${orgOnly(statement, t, orgId)} AND ${t.field("trace_id")} = ${statement.param(traceId)}`;
	const spansSql =
		`SELECT ${s.id} AS id, ${exactTime(s)} AS ts, ${s.raw(spans.durationNs)} AS duration_ns,` +
		` ${s.field("span_id")} AS span_id, ${s.field("parent_span_id")} AS parent_span_id, ${s.field("name")} AS name,` +
		` ${s.field("kind")} AS kind, ${s.field("status")} AS status, ${s.field("status_message")} AS status_message,` +
		` ${s.field("service")} AS service, ${s.field("host")} AS host` +
		(full
			? `, ${s.raw(spans.scopeName)} AS scope_name, ${s.raw(spans.scopeVersion)} AS scope_version,` +
				` ${s.attributes} AS attributes, ${s.resource} AS resource, ${s.raw(spans.links)} AS links` +
				(eventsWithSpans ? `, ${s.raw(spans.events)} AS events` : "")
			: "") +
		` FROM ${s.from} WHERE ${byTrace(spanStatement, s)}` +
		` ORDER BY +${s.time}, +${s.id} LIMIT ${spanStatement.param(BigInt(TRACE_SPAN_LIMIT + 1))}`;
	// Event times are ns inside JSON: json_extract keeps them exact as int64, read back as text.
	const eventStatement = new Statement(engine);
	const events = s.raw(spans.events);
	const eventsSql =
		`SELECT ${s.id} AS id, CAST(json_extract(e.value, '$.timestamp') AS TEXT) AS ts,` +
		` json_extract(e.value, '$.name') AS name, json_extract(e.value, '$.attributes') AS attributes` +
		` FROM ${s.from}, json_each(${events}) AS e WHERE ${byTrace(eventStatement, s)} AND ${events} IS NOT NULL` +
		` ORDER BY ${s.id}, e.key`;
	const logStatement = new Statement(engine);
	const l = table(engine, "logs", "l");
	const logsSql =
		`SELECT ${logColumns(l)} FROM ${l.from} WHERE ${byTrace(logStatement, l)}` +
		` ORDER BY +${l.time}, +${l.id} LIMIT ${logStatement.param(BigInt(TRACE_LOG_LIMIT + 1))}`;
	const [spanResult, logResult, eventResult] = await readBatch(reader, [
		spanStatement.done(spansSql),
		logStatement.done(logsSql),
		...(full && !eventsWithSpans ? [eventStatement.done(eventsSql)] : []),
	]);
	const spanRows = (spanResult?.rows ?? []).slice(0, TRACE_SPAN_LIMIT);
	if (spanRows.length === 0) return null;
	const logRows = logResult?.rows ?? [];

	const traceStart = spanRows.reduce(
		(min, row) => {
			const start = BigInt(String(row.ts));
			return start < min ? start : min;
		},
		BigInt(String(spanRows[0]?.ts)),
	);
	let traceEnd = traceStart;
	const offsetMs = (ns: bigint) => nsToMs(ns - traceStart);

	const eventsBySpan = new Map<number, SpanEventJson[]>();
	const eventRows = eventsWithSpans ? spanRows.flatMap(eventRowsOf) : (eventResult?.rows ?? []);
	for (const row of eventRows) {
		const ns = typeof row.ts === "string" && /^\d+$/.test(row.ts) ? row.ts : null;
		if (ns === null) continue;
		const list = eventsBySpan.get(Number(row.id)) ?? [];
		list.push({
			name: String(row.name ?? ""),
			...nsTime(ns),
			offset_ms: offsetMs(BigInt(ns)),
			attributes: jsonObject(row.attributes),
		});
		eventsBySpan.set(Number(row.id), list);
	}

	// One node per span id (a span sent twice is shown once: the first stored).
	const nodes = new Map<string, Node>();
	let errorCount = 0;
	const services = new Set<string>();
	for (const row of spanRows) {
		const spanId = String(row.span_id);
		if (nodes.has(spanId)) continue;
		const start = BigInt(String(row.ts));
		const durationNs = BigInt(String(row.duration_ns));
		if (start + durationNs > traceEnd) traceEnd = start + durationNs;
		const status = String(row.status);
		if ((ERROR_RULES.spans.values as readonly string[]).includes(status)) errorCount++;
		const service = text(row, "service");
		if (service !== null) services.add(service);
		nodes.set(spanId, {
			row,
			start,
			children: [],
			json: {
				span_id: spanId,
				parent_span_id: text(row, "parent_span_id"),
				name: String(row.name),
				service,
				host: text(row, "host"),
				kind: String(row.kind),
				status,
				status_message: text(row, "status_message"),
				start_offset_ms: offsetMs(start),
				duration_ms: nsToMs(durationNs),
				depth: 0,
				children: [],
				missing_parent: false,
				...(full && {
					...nsTime(String(row.ts)),
					scope: { name: text(row, "scope_name"), version: text(row, "scope_version") },
					attributes: jsonObject(row.attributes),
					resource: jsonObject(row.resource),
					events: eventsBySpan.get(Number(row.id)) ?? [],
					links: jsonArray(row.links),
				}),
			},
		});
	}
	const roots: Node[] = [];
	for (const node of nodes.values()) {
		const parentId = node.json.parent_span_id;
		const parent = parentId === null ? undefined : nodes.get(parentId);
		if (parent && parent !== node) parent.children.push(node);
		else {
			node.json.missing_parent = parentId !== null;
			roots.push(node);
		}
	}
	const byStart = (a: Node, b: Node) =>
		a.start < b.start ? -1 : a.start > b.start ? 1 : Number(a.row.id) - Number(b.row.id);
	const ordered: TraceSpanJson[] = [];
	const visited = new Set<Node>();
	// Iterative depth-first walk: no recursion limit on deep traces. Spans in a parent cycle are
	// reachable from no root; they are drawn as roots afterwards, so every span is shown once.
	const walk = (root: Node) => {
		const stack: { node: Node; depth: number }[] = [{ node: root, depth: 0 }];
		while (stack.length > 0) {
			const { node, depth } = stack.pop() as { node: Node; depth: number };
			if (visited.has(node)) continue;
			visited.add(node);
			// A child already drawn closes a parent cycle: it is not listed again.
			const children = node.children.filter((child) => !visited.has(child)).sort(byStart);
			node.json.depth = depth;
			node.json.children = children.map((child) => child.json.span_id);
			ordered.push(node.json);
			for (let i = children.length - 1; i >= 0; i--) {
				stack.push({ node: children[i] as Node, depth: depth + 1 });
			}
		}
	};
	for (const root of roots.sort(byStart)) walk(root);
	for (const node of [...nodes.values()].sort(byStart)) {
		if (!visited.has(node)) {
			node.json.missing_parent = true;
			walk(node);
		}
	}
	const root = roots.find((node) => node.json.parent_span_id === null) ?? null;
	return {
		trace_id: traceId,
		...nsTime(traceStart.toString()),
		duration_ms: nsToMs(traceEnd - traceStart),
		span_count: nodes.size,
		error_count: errorCount,
		services: [...services].sort(),
		root_span_id: root ? root.json.span_id : null,
		spans: ordered,
		logs: logRows.slice(0, TRACE_LOG_LIMIT).map(logJson),
		truncated: {
			spans: (spanResult?.rows.length ?? 0) > TRACE_SPAN_LIMIT,
			logs: logRows.length > TRACE_LOG_LIMIT,
		},
	};
}
