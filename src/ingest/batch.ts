import type { InStatement, InValue } from "@libsql/client";
import type { AttributeNamespace, TelemetrySource } from "../db/schema-telemetry.js";
import { ApiError } from "../errors.js";
import { AttributeObject, type AttributeOptions } from "./attributes.js";
import { DiscoveryCollector } from "./discovery.js";
import { RollupCollector } from "./rollups.js";
import type { RunStatement } from "./writer.js";

/** SQLite binds at most 32,766 parameters per statement; rows per INSERT stay well under that. */
export const SQLITE_MAX_PARAMETERS = 32_766;
/** Rows per INSERT when statements are collected for one batch (few statements, one round trip). */
const ROWS_PER_COLLECTED_STATEMENT = 500;
/** Rows per INSERT when written while decoding with a prepared statement (measured fastest). */
const ROWS_PER_STREAMED_STATEMENT = 64;

export const SPAN_COLUMNS = [
	"org_id",
	"timestamp",
	"duration_ns",
	"trace_id",
	"span_id",
	"parent_span_id",
	"name",
	"kind",
	"status_code",
	"status_message",
	"service",
	"host",
	"scope_name",
	"scope_version",
	"resource_attributes",
	"scope_attributes",
	"attributes",
	"events",
	"links",
] as const;

export const LOG_COLUMNS = [
	"org_id",
	"timestamp",
	"observed_timestamp",
	"severity_number",
	"severity_text",
	"level",
	"body",
	"trace_id",
	"span_id",
	"event_name",
	"service",
	"host",
	"scope_name",
	"scope_version",
	"resource_attributes",
	"scope_attributes",
	"attributes",
] as const;

export const METRIC_POINT_COLUMNS = [
	"org_id",
	"timestamp",
	"start_timestamp",
	"metric_name",
	"kind",
	"unit",
	"temporality",
	"is_monotonic",
	"value",
	"count",
	"sum",
	"min",
	"max",
	"bucket_counts",
	"explicit_bounds",
	"exponential_buckets",
	"quantiles",
	"service",
	"host",
	"scope_name",
	"scope_version",
	"resource_attributes",
	"scope_attributes",
	"attributes",
] as const;

/**
 * Resource and scope attributes are stored again with every record, so a small export could store
 * gigabytes (one 1 MiB resource attribute over 100,000 tiny records). An export's rows as stored may
 * take at most this many times the body limit (413 beyond), and an org's byte budget counts an export
 * as the larger of its body and its stored size divided by this (src/routes/otlp.ts). Sizes are
 * characters of text, plus 8 for any other value; docs/limits.md.
 */
export const STORED_SIZE_PER_BODY_BYTE = 4;

/** A value's share of a row's stored size (text: its length; numbers and nulls: a fixed 8). */
const NON_TEXT_SIZE = 8;

/** The export's rows are larger, as stored, than the limit: 413, nothing stored. */
export class ExportTooLarge extends ApiError {
	constructor(limit: number) {
		super(
			413,
			"payload_too_large",
			`This export's records take more than ${limit} characters as stored (its resource and scope ` +
				"attributes are stored again with every record): send fewer records per export, or smaller attributes.",
		);
		this.name = "ExportTooLarge";
	}
}

/** The size of an export's rows as stored, summed as rows are completed; throws past its limit. */
export class StoredSize {
	chars = 0;

	constructor(readonly limit: number) {}

	add(args: readonly InValue[], from: number): void {
		let chars = this.chars;
		for (let i = from; i < args.length; i++) {
			const value = args[i];
			chars += typeof value === "string" ? value.length : NON_TEXT_SIZE;
		}
		this.chars = chars;
		if (chars > this.limit) throw new ExportTooLarge(this.limit);
	}
}

/**
 * The rows of one table, laid out as the bound parameters of multi-row INSERTs: decoders push each
 * row's values in column order, and every `rowsPerStatement` rows make one statement. Collected
 * (`statements()`), or — given a `run` — written as soon as a statement is full, the rest one row
 * per statement at `finish()`, so only one statement's rows are ever held.
 */
export class TableRows {
	readonly rowsPerStatement: number;
	readonly #statements: { args: InValue[]; rows: number }[] = [];
	#current: { args: InValue[]; rows: number } | undefined;
	rows = 0;

	constructor(
		readonly table: string,
		readonly columns: readonly string[],
		readonly run?: RunStatement,
		/** Sees every row once it is complete (the rollups: src/ingest/rollups.ts). */
		readonly observe?: (args: InValue[], offset: number) => void,
		/** Counts the rows' size as stored, a statement's worth at a time (and the rest at `finish`). */
		readonly size?: StoredSize,
	) {
		const target = run ? ROWS_PER_STREAMED_STATEMENT : ROWS_PER_COLLECTED_STATEMENT;
		this.rowsPerStatement = Math.max(1, Math.min(target, Math.floor(SQLITE_MAX_PARAMETERS / columns.length)));
	}

	/** The array to push the next row's values into, in column order. */
	row(): InValue[] {
		if (this.#current && this.#current.rows === this.rowsPerStatement) {
			this.size?.add(this.#current.args, 0);
			if (this.run) {
				this.#observe(this.#current);
				this.#check(this.#current);
				this.run(insertSql(this.table, this.columns, this.#current.rows), this.#current.args, true);
			}
			this.#current = undefined;
		}
		if (!this.#current) {
			this.#current = { args: [], rows: 0 };
			if (!this.run) this.#statements.push(this.#current);
		}
		this.#current.rows++;
		this.rows++;
		return this.#current.args;
	}

	/**
	 * After the last row: counts the rows not yet counted and, streaming, writes them, one row per
	 * (prepared, reused) statement.
	 */
	finish(): void {
		const rest = this.#current;
		this.#current = undefined;
		if (rest) this.size?.add(rest.args, 0);
		if (!this.run || !rest) return;
		this.#observe(rest);
		this.#check(rest);
		const width = this.columns.length;
		const sql = insertSql(this.table, this.columns, 1);
		if (rest.rows === this.rowsPerStatement) {
			this.run(insertSql(this.table, this.columns, rest.rows), rest.args, true);
			return;
		}
		for (let i = 0; i < rest.rows; i++) this.run(sql, rest.args.slice(i * width, (i + 1) * width), true);
	}

	statements(): InStatement[] {
		return this.#statements.map((chunk) => {
			this.#check(chunk);
			this.#observe(chunk);
			return { sql: insertSql(this.table, this.columns, chunk.rows), args: chunk.args };
		});
	}

	#observe({ args, rows }: { args: InValue[]; rows: number }): void {
		if (!this.observe) return;
		const width = this.columns.length;
		for (let i = 0; i < rows; i++) this.observe(args, i * width);
	}

	#check({ args, rows }: { args: InValue[]; rows: number }): void {
		if (args.length !== rows * this.columns.length) {
			throw new Error(
				`${this.table}: ${args.length} values for ${rows} rows of ${this.columns.length} columns`,
			);
		}
	}
}

const sqlCache = new Map<string, string>();

export function insertSql(table: string, columns: readonly string[], rows: number): string {
	const cacheKey = `${table}:${rows}`;
	let text = sqlCache.get(cacheKey);
	if (text === undefined) {
		const tuple = `(${columns.map(() => "?").join(",")})`;
		text = `INSERT INTO ${table} (${columns.join(",")}) VALUES ${Array.from({ length: rows }, () => tuple).join(",")}`;
		if (sqlCache.size < 64) sqlCache.set(cacheKey, text);
	}
	return text;
}

/** Why items were rejected, counted per reason, for `partial_success.error_message`. */
export class Rejections {
	readonly #reasons = new Map<string, number>();
	count = 0;

	add(reason: string): void {
		this.count++;
		this.#reasons.set(reason, (this.#reasons.get(reason) ?? 0) + 1);
	}

	/** E.g. "Rejected 3 of 10 spans: 2 with a trace id that is not 16 bytes; 1 ending before it starts." */
	message(total: number, noun: string): string {
		const reasons = [...this.#reasons].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${n} ${reason}`);
		return `Rejected ${this.count} of ${total} ${noun}: ${reasons.join("; ")}.`;
	}
}

export type TimeCheck = "ok" | "too_old" | "too_new";

/** The accepted window for record timestamps, in ns. */
export interface TimeWindow {
	/** When the request was received. */
	nowNs: bigint;
	/** Older records are past the org's retention. */
	minNs: bigint;
	/** Newer records are further in the future than clock skew explains. */
	maxNs: bigint;
}

export function checkTime(window: TimeWindow, ns: bigint): TimeCheck {
	if (ns < window.minNs) return "too_old";
	if (ns > window.maxNs) return "too_new";
	return "ok";
}

/** Attributes kept per list (docs/limits.md); new keys beyond are dropped and reported. */
export interface AttributeLimits {
	/** Per span, log record, data point, span event and span link. */
	perRecord: number;
	perResource: number;
	perScope: number;
}

/**
 * 256 each: twice the OpenTelemetry SDK's default attribute count limit (128), so a default SDK never
 * reaches it and Collector processors have room to add theirs.
 */
export const DEFAULT_ATTRIBUTE_LIMITS: AttributeLimits = { perRecord: 256, perResource: 256, perScope: 256 };

/**
 * Span events and links kept per span: twice the OpenTelemetry SDK's default limits (128 each), as
 * for attributes. Beyond them they are dropped (not decoded) and reported.
 */
export const MAX_EVENTS_PER_SPAN = 256;
export const MAX_LINKS_PER_SPAN = 256;

/**
 * Values in one list of a data point (histogram bucket counts, explicit bounds, an exponential
 * histogram's buckets, a summary's quantiles). The SDKs' defaults are far below (160 buckets); a
 * point with more is rejected, and no more than this are ever held while decoding it.
 */
export const MAX_POINT_VALUES = 4096;

/** What was dropped at the limits (attributes per kind of list, span events and links), for `partial_success.error_message`. */
export class DroppedItems {
	record = 0;
	resource = 0;
	scope = 0;
	events = 0;
	links = 0;

	get count(): number {
		return this.record + this.resource + this.scope + this.events + this.links;
	}

	/**
	 * E.g. "Dropped 1000 attributes beyond the limits (per record 256: 1000)." and "Dropped 10 span
	 * events and 2 span links beyond 256 per span."; "" when none.
	 */
	message(limits: AttributeLimits): string {
		const sentences: string[] = [];
		const attributes = this.record + this.resource + this.scope;
		if (attributes > 0) {
			const parts = [
				this.record > 0 ? `per record ${limits.perRecord}: ${this.record}` : "",
				this.resource > 0 ? `per resource ${limits.perResource}: ${this.resource}` : "",
				this.scope > 0 ? `per scope ${limits.perScope}: ${this.scope}` : "",
			].filter((part) => part !== "");
			sentences.push(`Dropped ${attributes} attributes beyond the limits (${parts.join("; ")}).`);
		}
		if (this.events + this.links > 0) {
			const parts = [
				this.events > 0 ? `${this.events} span events` : "",
				this.links > 0 ? `${this.links} span links` : "",
			].filter((part) => part !== "");
			sentences.push(`Dropped ${parts.join(" and ")} beyond ${MAX_EVENTS_PER_SPAN} per span.`);
		}
		return sentences.join(" ");
	}
}

/** Everything one export request produces: rows per table, rejections and discovery data. */
export class IngestBatch {
	readonly spans: TableRows;
	readonly logs: TableRows;
	readonly metricPoints: TableRows;
	readonly rejections = new Rejections();
	readonly dropped = new DroppedItems();
	readonly discovery: DiscoveryCollector;
	/** The request's rollup aggregates; null when rollups are off (the bench's comparison). */
	readonly rollups: RollupCollector | null;
	/** Items seen (accepted or rejected): spans, log records or data points. */
	items = 0;
	/** Attribute caps per record, resource and scope (OTLP_MAX_ATTRIBUTES_PER_*). */
	readonly limits: AttributeLimits;
	/** The rows' size as stored, against its limit (`maxStoredChars`). */
	readonly size: StoredSize;

	constructor(
		readonly orgId: string,
		readonly source: TelemetrySource,
		readonly window: TimeWindow,
		nowMs: number,
		/** Write rows while decoding (a GroupCommitWriter's transaction) instead of collecting them. */
		run?: RunStatement,
		options: { rollups?: boolean; limits?: AttributeLimits; maxStoredChars?: number } = {},
	) {
		this.limits = options.limits ?? DEFAULT_ATTRIBUTE_LIMITS;
		this.size = new StoredSize(options.maxStoredChars ?? Number.POSITIVE_INFINITY);
		const size = this.size;
		this.discovery = new DiscoveryCollector(orgId, source, nowMs);
		const rollups = options.rollups === false ? null : new RollupCollector(orgId);
		this.rollups = rollups;
		this.spans = new TableRows(
			"spans",
			SPAN_COLUMNS,
			run,
			rollups ? (a, o) => rollups.addSpan(a, o) : undefined,
			size,
		);
		this.logs = new TableRows(
			"logs",
			LOG_COLUMNS,
			run,
			rollups ? (a, o) => rollups.addLog(a, o) : undefined,
			size,
		);
		this.metricPoints = new TableRows(
			"metric_points",
			METRIC_POINT_COLUMNS,
			run,
			rollups ? (a, o) => rollups.addMetricPoint(a, o) : undefined,
			size,
		);
	}

	/** The rollup upserts for the rows written (after `finish()`, in the same transaction). */
	rollupStatements(): { sql: string; args: InValue[] }[] {
		return this.rollups?.statements() ?? [];
	}

	/** Rows accepted so far. */
	get rows(): number {
		return this.spans.rows + this.logs.rows + this.metricPoints.rows;
	}

	/** After decoding: counts the rows' size (ExportTooLarge past it) and, streaming, writes the rows still held. */
	finish(): void {
		this.spans.finish();
		this.logs.finish();
		this.metricPoints.finish();
	}

	#observer(namespace: AttributeNamespace) {
		return (key: string, value: Parameters<DiscoveryCollector["observe"]>[2]) =>
			this.discovery.observe(namespace, key, value);
	}

	/** The attributes of one record (span, log record, data point), observed and capped. */
	recordAttributes(): AttributeObject {
		return new AttributeObject({
			observe: this.#observer("attributes"),
			limit: this.limits.perRecord,
			onDrop: () => this.dropped.record++,
		});
	}

	/** The attributes of a span event or link: capped like a record's, not observed. */
	nestedAttributes(): AttributeObject {
		return new AttributeObject({ limit: this.limits.perRecord, onDrop: () => this.dropped.record++ });
	}

	/** How resource and scope attributes are collected (the envelope walkers). */
	get envelope(): { resource: AttributeOptions; scope: AttributeOptions } {
		return {
			resource: {
				observe: this.#observer("resource"),
				limit: this.limits.perResource,
				onDrop: () => this.dropped.resource++,
			},
			scope: {
				observe: this.#observer("scope"),
				limit: this.limits.perScope,
				onDrop: () => this.dropped.scope++,
			},
		};
	}

	/** The message for a timestamp outside the window. */
	timeReason(check: Exclude<TimeCheck, "ok">): string {
		return check === "too_old"
			? "with a timestamp older than the organization's retention"
			: "with a timestamp more than an hour in the future";
	}

	/** Collected: the rows' INSERTs, then the rollup upserts. */
	dataStatements(): InStatement[] {
		const rows = [...this.spans.statements(), ...this.logs.statements(), ...this.metricPoints.statements()];
		return [...rows, ...this.rollupStatements()];
	}
}
