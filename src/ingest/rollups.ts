import type { InValue } from "@libsql/client";
import { LOG_COLUMNS, METRIC_POINT_COLUMNS, SPAN_COLUMNS } from "./batch.js";
import type { RunStatement } from "./writer.js";

/**
 * Rollups at ingest (schema: src/db/schema-telemetry.ts, `*_rollups_1m` / `*_rollups_1h`).
 *
 * The rows of one export request are aggregated in memory as they are written — per org, minute and
 * key — and the aggregates are upserted once per key at the end of the request, in the same
 * transaction as the raw rows (so a rollup never counts a row that was rolled back, nor misses one
 * that committed). The hour level is merged from the same per-minute aggregates. No per-row
 * trigger: measured here, a trigger per row doubled ingest time; one upsert per key per request
 * costs a few percent (bench/otlp.ts).
 *
 * Latency histogram: the duration in ns falls into bucket 0 when it is 0, else into bucket
 * i = floor(8·log2(ns)) + 1, which holds [γ^(i−1), γ^i) with γ = 2^(1/8). A percentile read from it
 * reports the bucket's geometric middle γ^(i−½) (interpolated between the two ranks' buckets as the
 * exact percentile interpolates between the two ranks' values), so it is within a factor γ^(±½) of
 * the exact value: relative error at most 2^(1/16) − 1 ≈ 4.4 % (`PERCENTILE_RELATIVE_ERROR`).
 */

export const HISTOGRAM_BUCKETS_PER_DOUBLING = 8;
/** The largest relative error of a percentile read from a rollup histogram. */
export const PERCENTILE_RELATIVE_ERROR = 2 ** (1 / (2 * HISTOGRAM_BUCKETS_PER_DOUBLING)) - 1;
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
const NS_PER_MINUTE = 60_000_000_000n;

/** The histogram bucket of a duration in ns. */
export function histogramIndex(ns: number): number {
	if (ns < 1) return 0;
	return Math.floor(Math.log2(ns) * HISTOGRAM_BUCKETS_PER_DOUBLING) + 1;
}

/** The value a bucket stands for: 0, or the geometric middle of [γ^(i−1), γ^i). */
export function histogramValue(index: number): number {
	return index === 0 ? 0 : 2 ** ((index - 0.5) / HISTOGRAM_BUCKETS_PER_DOUBLING);
}

export type Histogram = Map<number, number>;

export function mergeHistogram(into: Histogram, from: Histogram): void {
	for (const [index, n] of from) into.set(index, (into.get(index) ?? 0) + n);
}

/**
 * The percentile `p` (0–1) of a histogram, as OQL's exact percentiles compute it (interpolated
 * between the closest ranks, rank = p·(n−1)), over the buckets' values; null when empty.
 */
export function histogramPercentile(histogram: Histogram, p: number): number | null {
	let total = 0;
	for (const n of histogram.values()) total += n;
	if (total === 0) return null;
	const rank = p * (total - 1);
	const lower = Math.floor(rank);
	const fraction = rank - lower;
	const sorted = [...histogram.entries()].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
	const valueAt = (r: number) => {
		let seen = 0;
		for (const [index, n] of sorted) {
			seen += n;
			if (r < seen) return histogramValue(index);
		}
		return histogramValue((sorted.at(-1) as [number, number])[0]);
	};
	const low = valueAt(lower);
	return fraction === 0 ? low : low + fraction * (valueAt(lower + 1) - low);
}

export function histogramJson(histogram: Histogram): string {
	const entries = [...histogram.entries()].sort((a, b) => a[0] - b[0]).map(([i, n]) => `"${i}":${n}`);
	return `{${entries.join(",")}}`;
}

const QUOTE = 34;
const COLON = 58;
const COMMA = 44;
const ZERO = 48;
const NINE = 57;

/** One more than the largest bucket index a duration in ns below 2^64 can have. */
export const HISTOGRAM_SLOTS = 64 * HISTOGRAM_BUCKETS_PER_DOUBLING + 2;

/**
 * A histogram being summed from many: counts by bucket index in one array (no Map per row), for the
 * pages' merges of thousands of rollup rows on the event loop. `histogram()` gives the usual Map.
 */
export class HistogramSum {
	readonly #counts = new Float64Array(HISTOGRAM_SLOTS);
	/** Indexes outside the array (none from durations in ns; kept for any other input). */
	#other: Histogram | undefined;

	add(index: number, count: number): void {
		if (Number.isInteger(index) && index >= 0 && index < HISTOGRAM_SLOTS)
			this.#counts[index] = (this.#counts[index] as number) + count;
		else {
			this.#other ??= new Map();
			this.#other.set(index, (this.#other.get(index) ?? 0) + count);
		}
	}

	/**
	 * Adds a histogram stored as `histogramJson` wrote it (`{"<index>":<count>,…}`), read character
	 * by character: the pages merge thousands per request on the event loop, and this is several times
	 * cheaper than JSON.parse. Any other JSON object of counts (spaces, fractions, exponents) goes
	 * through JSON.parse and reads the same; malformed text throws and adds nothing.
	 */
	addJson(json: string): void {
		const pairs = scanHistogramJson(json);
		if (pairs) {
			for (let i = 0; i < pairs.length; i += 2) this.add(pairs[i] as number, pairs[i + 1] as number);
			return;
		}
		for (const [index, n] of Object.entries(JSON.parse(json) as Record<string, number>))
			this.add(Number(index), n);
	}

	histogram(): Histogram {
		const out: Histogram = new Map();
		for (let i = 0; i < HISTOGRAM_SLOTS; i++)
			if (this.#counts[i] !== 0) out.set(i, this.#counts[i] as number);
		if (this.#other) for (const [index, n] of this.#other) out.set(index, (out.get(index) ?? 0) + n);
		return out;
	}
}

/** Reused by every scan (one scan at a time: nothing awaits in between). */
const pairs: number[] = [];

/**
 * `histogramJson`'s text as [index, count, index, count, …] (an array reused by the next call); null
 * for any other text.
 */
function scanHistogramJson(json: string): number[] | null {
	const end = json.length - 1;
	if (json.charCodeAt(0) !== 123 || json.charCodeAt(end) !== 125) return null;
	pairs.length = 0;
	let at = 1;
	while (at < end) {
		if (json.charCodeAt(at) !== QUOTE) return null;
		at++;
		let index = 0;
		let digits = 0;
		for (let c = json.charCodeAt(at); c >= ZERO && c <= NINE; c = json.charCodeAt(++at)) {
			index = index * 10 + (c - ZERO);
			digits++;
		}
		if (digits === 0 || digits > 9 || json.charCodeAt(at) !== QUOTE || json.charCodeAt(at + 1) !== COLON)
			return null;
		at += 2;
		let count = 0;
		digits = 0;
		for (let c = json.charCodeAt(at); c >= ZERO && c <= NINE; c = json.charCodeAt(++at)) {
			count = count * 10 + (c - ZERO);
			digits++;
		}
		if (digits === 0 || digits > 15) return null;
		pairs.push(index, count);
		if (at === end) break;
		if (json.charCodeAt(at) !== COMMA || at + 1 === end) return null;
		at++;
	}
	return pairs;
}

// ---------------------------------------------------------------------------------------------
// Aggregating one request

interface SpanAggregate {
	bucket: number;
	dims: string;
	service: InValue;
	host: InValue;
	name: InValue;
	kind: InValue;
	isRoot: number;
	status: InValue;
	count: number;
	sum: bigint;
	min: bigint;
	max: bigint;
	last: bigint;
}

/** Spans per operation: service, name, kind and whether they are trace roots. */
interface LatencyAggregate {
	bucket: number;
	dims: string;
	service: InValue;
	name: InValue;
	kind: InValue;
	isRoot: number;
	count: number;
	errors: number;
	sum: bigint;
	min: bigint;
	max: bigint;
	histogram: Histogram;
	last: bigint;
}

interface LogAggregate {
	bucket: number;
	dims: string;
	service: InValue;
	host: InValue;
	level: InValue;
	count: number;
	last: bigint;
}

interface MetricAggregate {
	bucket: number;
	dims: string;
	host: InValue;
	service: InValue;
	name: InValue;
	count: number;
	valueCount: number;
	sum: number | null;
	min: number | null;
	max: number | null;
	last: bigint;
}

const columnIndex = (columns: readonly string[]) => (name: string) => {
	const at = columns.indexOf(name);
	if (at < 0) throw new Error(`internal: no column ${name}`);
	return at;
};

/** Where each value sits in a row of batch.ts's column lists (computed on first use: batch.ts imports this module). */
function positions() {
	const span = columnIndex(SPAN_COLUMNS);
	const log = columnIndex(LOG_COLUMNS);
	const metric = columnIndex(METRIC_POINT_COLUMNS);
	return {
		S: {
			time: span("timestamp"),
			duration: span("duration_ns"),
			parent: span("parent_span_id"),
			name: span("name"),
			kind: span("kind"),
			status: span("status_code"),
			service: span("service"),
			host: span("host"),
		},
		L: { time: log("timestamp"), level: log("level"), service: log("service"), host: log("host") },
		M: {
			time: metric("timestamp"),
			name: metric("metric_name"),
			kind: metric("kind"),
			value: metric("value"),
			service: metric("service"),
			host: metric("host"),
		},
	};
}
let at: ReturnType<typeof positions> | undefined;

const big = (value: InValue | undefined): bigint =>
	typeof value === "bigint" ? value : BigInt(Math.trunc(Number(value ?? 0)));

/** The start of the minute of an ns timestamp, in epoch ms. */
export function minuteOf(ns: bigint): number {
	const minute = ns / NS_PER_MINUTE - (ns < 0n && ns % NS_PER_MINUTE !== 0n ? 1n : 0n);
	return Number(minute) * MINUTE_MS;
}

const hourOf = (minuteMs: number) => Math.floor(minuteMs / HOUR_MS) * HOUR_MS;

/** The per-minute aggregates of one request's rows; `statements()` upserts them and their hours. */
export class RollupCollector {
	readonly #spans = new Map<string, SpanAggregate>();
	readonly #latency = new Map<string, LatencyAggregate>();
	readonly #logs = new Map<string, LogAggregate>();
	readonly #metrics = new Map<string, MetricAggregate>();

	readonly #at: ReturnType<typeof positions>;

	constructor(readonly orgId: string) {
		at ??= positions();
		this.#at = at;
	}

	get size(): number {
		return this.#spans.size + this.#latency.size + this.#logs.size + this.#metrics.size;
	}

	/** A span row laid out in SPAN_COLUMNS order at `args[offset…]`. */
	addSpan(args: InValue[], offset: number): void {
		const S = this.#at.S;
		const time = big(args[offset + S.time]);
		const duration = big(args[offset + S.duration]);
		const bucket = minuteOf(time);
		const service = args[offset + S.service] ?? null;
		const host = args[offset + S.host] ?? null;
		const name = args[offset + S.name] ?? "";
		const kind = args[offset + S.kind] ?? "unspecified";
		const isRoot = args[offset + S.parent] === null ? 1 : 0;
		const status = args[offset + S.status] ?? "unset";
		const dims = JSON.stringify([service, host, name, kind, isRoot, status]);
		const key = `${bucket}\u0000${dims}`;
		let a = this.#spans.get(key);
		if (!a) {
			a = {
				bucket,
				dims,
				service,
				host,
				name,
				kind,
				isRoot,
				status,
				count: 0,
				sum: 0n,
				min: duration,
				max: duration,
				last: time,
			};
			this.#spans.set(key, a);
		}
		a.count++;
		a.sum += duration;
		if (duration < a.min) a.min = duration;
		if (duration > a.max) a.max = duration;
		if (time > a.last) a.last = time;

		const operation = JSON.stringify([service, name, kind, isRoot]);
		const operationKey = `${bucket}\u0000${operation}`;
		let l = this.#latency.get(operationKey);
		if (!l) {
			l = {
				bucket,
				dims: operation,
				service,
				name,
				kind,
				isRoot,
				count: 0,
				errors: 0,
				sum: 0n,
				min: duration,
				max: duration,
				histogram: new Map(),
				last: time,
			};
			this.#latency.set(operationKey, l);
		}
		l.count++;
		if (status === "error") l.errors++;
		l.sum += duration;
		if (duration < l.min) l.min = duration;
		if (duration > l.max) l.max = duration;
		if (time > l.last) l.last = time;
		const index = histogramIndex(Number(duration));
		l.histogram.set(index, (l.histogram.get(index) ?? 0) + 1);
	}

	addLog(args: InValue[], offset: number): void {
		const L = this.#at.L;
		const time = big(args[offset + L.time]);
		const bucket = minuteOf(time);
		const service = args[offset + L.service] ?? null;
		const host = args[offset + L.host] ?? null;
		const level = args[offset + L.level] ?? null;
		const dims = JSON.stringify([service, host, level]);
		const key = `${bucket}\u0000${dims}`;
		let a = this.#logs.get(key);
		if (!a) {
			a = { bucket, dims, service, host, level, count: 0, last: time };
			this.#logs.set(key, a);
		}
		a.count++;
		if (time > a.last) a.last = time;
	}

	addMetricPoint(args: InValue[], offset: number): void {
		const M = this.#at.M;
		const time = big(args[offset + M.time]);
		const bucket = minuteOf(time);
		const host = args[offset + M.host] ?? null;
		const service = args[offset + M.service] ?? null;
		const name = args[offset + M.name] ?? "";
		const dims = JSON.stringify([host, service, name]);
		const key = `${bucket}\u0000${dims}`;
		let a = this.#metrics.get(key);
		if (!a) {
			a = {
				bucket,
				dims,
				host,
				service,
				name,
				count: 0,
				valueCount: 0,
				sum: null,
				min: null,
				max: null,
				last: time,
			};
			this.#metrics.set(key, a);
		}
		a.count++;
		if (time > a.last) a.last = time;
		const kind = args[offset + M.kind];
		const value = args[offset + M.value];
		if ((kind === "gauge" || kind === "sum") && typeof value === "number") {
			a.valueCount++;
			a.sum = (a.sum ?? 0) + value;
			a.min = a.min === null ? value : Math.min(a.min, value);
			a.max = a.max === null ? value : Math.max(a.max, value);
		}
	}

	/** Adds another collector's aggregates (of the same org) to this one's; `other` is spent. */
	merge(other: RollupCollector): void {
		if (other.orgId !== this.orgId) throw new Error("internal: rollups of two orgs merged");
		mergeInto(this.#spans, other.#spans, mergeSpan);
		mergeInto(this.#latency, other.#latency, mergeLatency);
		mergeInto(this.#logs, other.#logs, mergeLog);
		mergeInto(this.#metrics, other.#metrics, mergeMetric);
	}

	/** The upserts of the minute aggregates and of the hours merged from them. */
	statements(): { sql: string; args: InValue[] }[] {
		const out: { sql: string; args: InValue[] }[] = [];
		const spans = [...this.#spans.values()];
		const latency = [...this.#latency.values()];
		const logs = [...this.#logs.values()];
		const metrics = [...this.#metrics.values()];
		for (const [level, rows] of [
			["1m", spans],
			["1h", toHours(spans, mergeSpan)],
		] as const) {
			out.push(...upserts(`span_rollups_${level}`, SPAN_ROLLUP, rows, (a) => spanArgs(this.orgId, a)));
		}
		for (const [level, rows] of [
			["1m", latency],
			["1h", toHours(latency, mergeLatency)],
		] as const) {
			out.push(...upserts(`span_latency_${level}`, LATENCY, rows, (a) => latencyArgs(this.orgId, a)));
		}
		for (const [level, rows] of [
			["1m", logs],
			["1h", toHours(logs, (into, from) => mergeLog(into, from))],
		] as const) {
			out.push(...upserts(`log_rollups_${level}`, LOG_ROLLUP, rows, (a) => logArgs(this.orgId, a)));
		}
		for (const [level, rows] of [
			["1m", metrics],
			["1h", toHours(metrics, mergeMetric)],
		] as const) {
			out.push(...upserts(`metric_rollups_${level}`, METRIC_ROLLUP, rows, (a) => metricArgs(this.orgId, a)));
		}
		return out;
	}
}

function mergeInto<T>(into: Map<string, T>, from: Map<string, T>, merge: (into: T, from: T) => void): void {
	for (const [key, aggregate] of from) {
		const existing = into.get(key);
		if (existing) merge(existing, aggregate);
		else into.set(key, aggregate);
	}
}

/**
 * The rollups of a group commit's exports (src/ingest/embedded-writer.ts, `atGroupEnd`): merged
 * per org, so each key is upserted once per group, in the same transaction as the rows.
 */
export function writeGroupRollups(tx: { run: RunStatement }, collectors: RollupCollector[]): void {
	const byOrg = new Map<string, RollupCollector>();
	for (const collector of collectors) {
		const merged = byOrg.get(collector.orgId);
		if (merged) merged.merge(collector);
		else byOrg.set(collector.orgId, collector);
	}
	for (const merged of byOrg.values()) {
		for (const statement of merged.statements()) tx.run(statement.sql, statement.args, true);
	}
}

function toHours<T extends { bucket: number; dims: string }>(
	minutes: T[],
	merge: (into: T, from: T) => void,
): T[] {
	const hours = new Map<string, T>();
	for (const m of minutes) {
		const bucket = hourOf(m.bucket);
		const key = `${bucket}\u0000${m.dims}`;
		const h = hours.get(key);
		if (h) merge(h, m);
		else hours.set(key, cloneAt(m, bucket));
	}
	return [...hours.values()];
}

function cloneAt<T extends { bucket: number }>(a: T, bucket: number): T {
	const copy = { ...a, bucket };
	if ("histogram" in copy)
		(copy as unknown as LatencyAggregate).histogram = new Map((a as unknown as LatencyAggregate).histogram);
	return copy;
}

function mergeSpan(into: SpanAggregate, from: SpanAggregate): void {
	into.count += from.count;
	into.sum += from.sum;
	if (from.min < into.min) into.min = from.min;
	if (from.max > into.max) into.max = from.max;
	if (from.last > into.last) into.last = from.last;
}

function mergeLatency(into: LatencyAggregate, from: LatencyAggregate): void {
	into.count += from.count;
	into.errors += from.errors;
	into.sum += from.sum;
	if (from.min < into.min) into.min = from.min;
	if (from.max > into.max) into.max = from.max;
	if (from.last > into.last) into.last = from.last;
	mergeHistogram(into.histogram, from.histogram);
}

function mergeLog(into: LogAggregate, from: LogAggregate): void {
	into.count += from.count;
	if (from.last > into.last) into.last = from.last;
}

function mergeMetric(into: MetricAggregate, from: MetricAggregate): void {
	into.count += from.count;
	into.valueCount += from.valueCount;
	if (from.sum !== null) into.sum = (into.sum ?? 0) + from.sum;
	if (from.min !== null) into.min = into.min === null ? from.min : Math.min(into.min, from.min);
	if (from.max !== null) into.max = into.max === null ? from.max : Math.max(into.max, from.max);
	if (from.last > into.last) into.last = from.last;
}

const spanArgs = (orgId: string, a: SpanAggregate): InValue[] => [
	orgId,
	a.bucket,
	a.dims,
	a.service,
	a.host,
	a.name,
	a.kind,
	a.isRoot,
	a.status,
	a.count,
	a.sum,
	a.min,
	a.max,
	a.last,
];

const latencyArgs = (orgId: string, a: LatencyAggregate): InValue[] => [
	orgId,
	a.bucket,
	a.dims,
	a.service,
	a.name,
	a.kind,
	a.isRoot,
	a.count,
	a.errors,
	a.sum,
	a.min,
	a.max,
	histogramJson(a.histogram),
	a.last,
];

const logArgs = (orgId: string, a: LogAggregate): InValue[] => [
	orgId,
	a.bucket,
	a.dims,
	a.service,
	a.host,
	a.level,
	a.count,
	a.last,
];

const metricArgs = (orgId: string, a: MetricAggregate): InValue[] => [
	orgId,
	a.bucket,
	a.dims,
	a.host,
	a.service,
	a.name,
	a.count,
	a.valueCount,
	a.sum,
	a.min,
	a.max,
	a.last,
];

interface RollupShape {
	columns: readonly string[];
	/** `SET` terms merging the stored row (`t`) with the new one (`excluded`). */
	merge: (table: string) => string;
}

const SPAN_ROLLUP: RollupShape = {
	columns: [
		"org_id",
		"bucket",
		"dims",
		"service",
		"host",
		"name",
		"kind",
		"is_root",
		"status_code",
		"count",
		"duration_sum_ns",
		"duration_min_ns",
		"duration_max_ns",
		"last_ts",
	],
	merge: () =>
		"count = count + excluded.count, duration_sum_ns = duration_sum_ns + excluded.duration_sum_ns," +
		" duration_min_ns = min(duration_min_ns, excluded.duration_min_ns)," +
		" duration_max_ns = max(duration_max_ns, excluded.duration_max_ns)," +
		" last_ts = max(last_ts, excluded.last_ts)",
};

const LATENCY: RollupShape = {
	columns: [
		"org_id",
		"bucket",
		"dims",
		"service",
		"name",
		"kind",
		"is_root",
		"count",
		"error_count",
		"duration_sum_ns",
		"duration_min_ns",
		"duration_max_ns",
		"hist",
		"last_ts",
	],
	merge: (t) =>
		"count = count + excluded.count, error_count = error_count + excluded.error_count," +
		" duration_sum_ns = duration_sum_ns + excluded.duration_sum_ns," +
		" duration_min_ns = min(duration_min_ns, excluded.duration_min_ns)," +
		" duration_max_ns = max(duration_max_ns, excluded.duration_max_ns)," +
		` hist = (SELECT json_group_object(k, n) FROM (SELECT k, sum(v) AS n FROM (SELECT key AS k, value AS v FROM json_each(${t}.hist) UNION ALL SELECT key, value FROM json_each(excluded.hist)) GROUP BY k ORDER BY CAST(k AS INTEGER))),` +
		" last_ts = max(last_ts, excluded.last_ts)",
};

const LOG_ROLLUP: RollupShape = {
	columns: ["org_id", "bucket", "dims", "service", "host", "level", "count", "last_ts"],
	merge: () => "count = count + excluded.count, last_ts = max(last_ts, excluded.last_ts)",
};

const METRIC_ROLLUP: RollupShape = {
	columns: [
		"org_id",
		"bucket",
		"dims",
		"host",
		"service",
		"metric_name",
		"count",
		"value_count",
		"value_sum",
		"value_min",
		"value_max",
		"last_ts",
	],
	merge: () =>
		"count = count + excluded.count, value_count = value_count + excluded.value_count," +
		" value_sum = CASE WHEN excluded.value_sum IS NULL THEN value_sum ELSE coalesce(value_sum, 0) + excluded.value_sum END," +
		" value_min = coalesce(min(value_min, excluded.value_min), value_min, excluded.value_min)," +
		" value_max = coalesce(max(value_max, excluded.value_max), value_max, excluded.value_max)," +
		" last_ts = max(last_ts, excluded.last_ts)",
};

/** Rows per upsert statement: few statements per request, well under SQLite's parameter limit. */
const ROWS_PER_UPSERT = 200;

function upserts<T>(
	table: string,
	shape: RollupShape,
	rows: T[],
	argsOf: (row: T) => InValue[],
): { sql: string; args: InValue[] }[] {
	const out: { sql: string; args: InValue[] }[] = [];
	const tuple = `(${shape.columns.map(() => "?").join(",")})`;
	for (let i = 0; i < rows.length; i += ROWS_PER_UPSERT) {
		const chunk = rows.slice(i, i + ROWS_PER_UPSERT);
		out.push({
			sql:
				`INSERT INTO ${table} (${shape.columns.join(",")}) VALUES ${chunk.map(() => tuple).join(",")}` +
				` ON CONFLICT (org_id, bucket, dims) DO UPDATE SET ${shape.merge(table)}`,
			args: chunk.flatMap(argsOf),
		});
	}
	return out;
}
