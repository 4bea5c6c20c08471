/**
 * What the UI knows of OQL's text without the editor: the words it completes (docs/oql.md) and a
 * light scan for the clauses the explorer cares about. The server's parser stays the judge.
 */
import { KEYWORDS } from "../../../../src/oql/keywords";
import type { components } from "../../api/schema";

export type PageSchema = components["schemas"]["PageSchema"];
export type OqlResult = components["schemas"]["OqlResult"];

export const OQL_KEYWORDS: readonly string[] = KEYWORDS;

/** Aggregates, with what each does (the completion's detail). */
export const OQL_FUNCTIONS: Array<[string, string]> = [
	["count", "rows, or non-NULL values of x"],
	["count_distinct", "distinct non-NULL values"],
	["sum", "sum of numbers"],
	["avg", "average of numbers"],
	["min", "smallest value"],
	["max", "largest value"],
	["p50", "exact median"],
	["p90", "exact 90th percentile"],
	["p95", "exact 95th percentile"],
	["p99", "exact 99th percentile"],
	["percentile", "percentile(x, n), 0 ≤ n ≤ 100"],
	["rate", "rate(agg, interval): per interval"],
	["latest", "value of the newest row"],
];

export const OQL_SOURCES = ["logs", "spans", "traces", "metrics", "annotations", "heartbeats"];

/** Fields of the sources schema discovery does not describe (docs/oql.md, "Sources and fields"). */
const FIXED_FIELDS: Record<string, Array<[string, string]>> = {
	annotations: [
		["timestamp", "time"],
		["time_end", "time"],
		["title", "string"],
		["text", "string"],
		["tags", "string"],
		["service", "string"],
		["environment", "string"],
		["version", "string"],
		["url", "string"],
		["external_id", "string"],
		["author", "string"],
	],
	heartbeats: [
		["timestamp", "time"],
		["monitor", "string"],
		["kind", "string"],
		["exit_code", "number"],
		["run_id", "string"],
		["duration_ms", "number"],
		["body", "string"],
	],
};

export interface CompletionWords {
	/** Per source: [name, type] of its fields. */
	fields: Record<string, Array<[string, string]>>;
	/** Per source: attribute expressions as OQL writes them (`attributes['http.route']`). */
	attributes: Record<string, string[]>;
}

/** The words to complete, from `GET /api/v1/pages/schema` plus the fixed sources. */
export function completionWords(schema: PageSchema | undefined): CompletionWords {
	const fields: CompletionWords["fields"] = { ...FIXED_FIELDS };
	const attributes: CompletionWords["attributes"] = {};
	for (const source of schema?.sources ?? []) {
		fields[source.source] = source.fields.map((f) => [f.oql || f.name, f.type]);
		attributes[source.source] = source.attributes.flatMap((a) => (a.oql ? [a.oql] : []));
	}
	if (fields.spans) fields.traces = fields.spans;
	if (attributes.spans) attributes.traces = attributes.spans;
	return { fields, attributes };
}

/** The text with its strings and comments blanked out (same length), so words in them do not count. */
export function codeOnly(text: string): string {
	return text.replace(/'(?:[^']|'')*'?|--[^\n]*/g, (m) => " ".repeat(m.length));
}

/** The source after FROM, lower-cased, if any. */
export function sourceOf(text: string): string | null {
	const match = /\bFROM\s+([A-Za-z_]+)/i.exec(codeOnly(text));
	return match?.[1]?.toLowerCase() ?? null;
}

export function hasTimeRange(text: string): boolean {
	return /\b(LAST|SINCE|UNTIL)\b/i.test(codeOnly(text));
}

export function hasTimeseries(text: string): boolean {
	return /\bTIMESERIES\b/i.test(codeOnly(text));
}

/**
 * The query with the global time range added when it names none (`POST /api/v1/dsl` takes only
 * the text). On a new line, so the person's line and column numbers stay as they wrote them and a
 * trailing `--` comment cannot swallow it.
 */
export function withRange(text: string, from: Date, to: Date): string {
	if (hasTimeRange(text)) return text;
	return `${text}\nSINCE '${from.toISOString()}' UNTIL '${to.toISOString()}'`;
}

/**
 * An OQL error's message without the "(line L, column C)" the API ends it with: the explorer shows
 * the position in front of it ("Line 2, column 1: …"), in the person's own lines.
 */
export function withoutPosition(message: string): string {
	return message.replace(/\s*\(line \d+, column \d+\)$/, "");
}
