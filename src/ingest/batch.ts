import type { InStatement, InValue } from "@libsql/client";
import type { AttributeNamespace, TelemetrySource } from "../db/schema-telemetry.js";
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
	) {
		const target = run ? ROWS_PER_STREAMED_STATEMENT : ROWS_PER_COLLECTED_STATEMENT;
		this.rowsPerStatement = Math.max(1, Math.min(target, Math.floor(SQLITE_MAX_PARAMETERS / columns.length)));
	}

	/** The array to push the next row's values into, in column order. */
	row(): InValue[] {
		if (this.#current && this.#current.rows === this.rowsPerStatement) {
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

	/** Streaming: writes what is left, one row per (prepared, reused) statement. */
	finish(): void {
		const rest = this.#current;
		this.#current = undefined;
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

/** Attributes dropped at the limits, per kind of list, for `partial_success.error_message`. */
export class DroppedAttributes {
	record = 0;
	resource = 0;
	scope = 0;

	get count(): number {
		return this.record + this.resource + this.scope;
	}

	/** E.g. "Dropped 1000 attributes beyond the limits (per record 256: 1000)." or "" when none. */
	message(limits: AttributeLimits): string {
		if (this.count === 0) return "";
		const parts = [
			this.record > 0 ? `per record ${limits.perRecord}: ${this.record}` : "",
			this.resource > 0 ? `per resource ${limits.perResource}: ${this.resource}` : "",
			this.scope > 0 ? `per scope ${limits.perScope}: ${this.scope}` : "",
		].filter((part) => part !== "");
		return `Dropped ${this.count} attributes beyond the limits (${parts.join("; ")}).`;
	}
}

/** Everything one export request produces: rows per table, rejections and discovery data. */
export class IngestBatch {
	readonly spans: TableRows;
	readonly logs: TableRows;
	readonly metricPoints: TableRows;
	readonly rejections = new Rejections();
	readonly dropped = new DroppedAttributes();
	readonly discovery: DiscoveryCollector;
	/** The request's rollup aggregates; null when rollups are off (the bench's comparison). */
	readonly rollups: RollupCollector | null;
	/** Items seen (accepted or rejected): spans, log records or data points. */
	items = 0;
	/** Attribute caps per record, resource and scope (OTLP_MAX_ATTRIBUTES_PER_*). */
	readonly limits: AttributeLimits;

	constructor(
		readonly orgId: string,
		readonly source: TelemetrySource,
		readonly window: TimeWindow,
		nowMs: number,
		/** Write rows while decoding (a GroupCommitWriter's transaction) instead of collecting them. */
		run?: RunStatement,
		options: { rollups?: boolean; limits?: AttributeLimits } = {},
	) {
		this.limits = options.limits ?? DEFAULT_ATTRIBUTE_LIMITS;
		this.discovery = new DiscoveryCollector(orgId, source, nowMs);
		const rollups = options.rollups === false ? null : new RollupCollector(orgId);
		this.rollups = rollups;
		this.spans = new TableRows(
			"spans",
			SPAN_COLUMNS,
			run,
			rollups ? (a, o) => rollups.addSpan(a, o) : undefined,
		);
		this.logs = new TableRows("logs", LOG_COLUMNS, run, rollups ? (a, o) => rollups.addLog(a, o) : undefined);
		this.metricPoints = new TableRows(
			"metric_points",
			METRIC_POINT_COLUMNS,
			run,
			rollups ? (a, o) => rollups.addMetricPoint(a, o) : undefined,
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

	/** Streaming: writes the rows still held. */
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
