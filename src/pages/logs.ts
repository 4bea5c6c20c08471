import type { Row } from "@libsql/client";
import { logs } from "../db/schema-telemetry.js";
import {
	exactTime,
	type Filter,
	filtersSql,
	type Histogram,
	jsonObject,
	nsTime,
	type PageReader,
	prepareHistogram,
	readBatch,
	Statement,
	scope,
	type TableRef,
	table,
	text,
} from "./store.js";
import type { PageWindow } from "./window.js";

export interface LogFilters {
	q?: string | undefined;
	levels?: string[] | undefined;
	service?: string | undefined;
	host?: string | undefined;
}

/** A log record as the pages answer it (the logs page, a trace's logs, a host's recent errors). */
export interface LogJson {
	id: string;
	time: string;
	time_unix_nano: string;
	observed_time_unix_nano: string;
	level: string | null;
	severity_number: number | null;
	severity_text: string | null;
	body: string | null;
	service: string | null;
	host: string | null;
	trace_id: string | null;
	span_id: string | null;
	event_name: string | null;
	attributes: Record<string, unknown>;
	resource: Record<string, unknown>;
}

/** The filters as the one list every statement of the page renders (SQL here, OQL for the histogram). */
export function logFilters(filters: LogFilters): Filter[] {
	const out: Filter[] = [];
	if (filters.levels && filters.levels.length > 0)
		out.push({ field: "level", op: "in", values: filters.levels });
	if (filters.service !== undefined) out.push({ field: "service", op: "=", value: filters.service });
	if (filters.host !== undefined) out.push({ field: "host", op: "=", value: filters.host });
	if (filters.q !== undefined) out.push({ field: "body", op: "contains_ci", value: filters.q });
	return out;
}

/** The SELECT list of a log record, read back by `logJson`. */
export function logColumns(t: TableRef): string {
	return [
		`${t.id} AS id`,
		`${exactTime(t)} AS ts`,
		`${exactTime(t, t.raw(logs.observedTimestamp))} AS observed`,
		`${t.field("level")} AS level`,
		`${t.field("severity")} AS severity_number`,
		`${t.field("severity_text")} AS severity_text`,
		`${t.field("body")} AS body`,
		`${t.field("service")} AS service`,
		`${t.field("host")} AS host`,
		`${t.field("trace_id")} AS trace_id`,
		`${t.field("span_id")} AS span_id`,
		`${t.raw(logs.eventName)} AS event_name`,
		`${t.attributes} AS attributes`,
		`${t.resource} AS resource`,
	].join(", ");
}

export function logJson(row: Row): LogJson {
	const severity = row.severity_number;
	return {
		id: String(row.id),
		...nsTime(String(row.ts)),
		observed_time_unix_nano: String(row.observed),
		level: text(row, "level"),
		severity_number: severity === null || severity === undefined ? null : Number(severity),
		severity_text: text(row, "severity_text"),
		body: text(row, "body"),
		service: text(row, "service"),
		host: text(row, "host"),
		trace_id: text(row, "trace_id"),
		span_id: text(row, "span_id"),
		event_name: text(row, "event_name"),
		attributes: jsonObject(row.attributes),
		resource: jsonObject(row.resource),
	};
}

export interface LogsPage {
	rows: LogJson[];
	/** The last row's keyset position when another page follows. */
	next: [string, number] | null;
	histogram: Histogram | null;
}

/**
 * Newest first by (timestamp, id): `(timestamp, id) < (after)` continues exactly where the last page
 * stopped, whatever arrives meanwhile. One row more than asked tells whether a next page exists.
 * The histogram (first page only) is OQL's `SELECT count(*) FROM logs WHERE … TIMESERIES AUTO`.
 */
export async function logsPage(
	reader: PageReader,
	orgId: string,
	window: PageWindow,
	filters: LogFilters,
	options: { limit: number; after: [string, number] | null },
): Promise<LogsPage> {
	const list = logFilters(filters);
	const statement = new Statement(reader.sql);
	const t = table(reader.sql, "logs", "t");
	const keyset = options.after
		? ` AND (${t.time}, ${t.id}) < (${statement.param(BigInt(options.after[0]))}, ${statement.param(BigInt(options.after[1]))})`
		: "";
	const rowsSql =
		`SELECT ${logColumns(t)} FROM ${t.from} WHERE ${scope(statement, t, orgId, window)}` +
		`${filtersSql(statement, t, list)}${keyset}` +
		` ORDER BY ${t.time} DESC, ${t.id} DESC LIMIT ${statement.param(BigInt(options.limit + 1))}`;
	const histogram = options.after ? null : prepareHistogram(reader.sql, "logs", list, window, orgId);
	const [rows, counts] = await readBatch(reader, [
		statement.done(rowsSql),
		...(histogram ? [histogram.statement] : []),
	]);
	const page = (rows?.rows ?? []).slice(0, options.limit);
	const last = page.at(-1);
	return {
		rows: page.map(logJson),
		next: (rows?.rows.length ?? 0) > options.limit && last ? [String(last.ts), Number(last.id)] : null,
		histogram: histogram && counts ? histogram.read(counts) : null,
	};
}
