/**
 * The built-in pages part of `npm run bench` (called at the end of bench/run.ts; also runnable alone
 * with `npx tsx bench/pages.ts`), and the seeded telemetry generator the pages' tests use.
 *
 * The bench's data set is the OQL one (bench/oql.ts, bench/oql-data.ts): BENCH_PAGES_ROWS log
 * records and as many spans (default 1,000,000 each) plus a tenth as many metric points over the
 * 24 h before its "now", and a tenth of all that for a second org. Its spans are single-span
 * traces, so 300 traces from the generator below (trees of 1–15 spans with events) are added for
 * the trace page. Each page is requested through the whole app (JWT guard, validation, JSON) in
 * this process, one request at a time: 2 untimed, then BENCH_PAGES_SAMPLES (default 40; a case
 * stops after 20 s with at least 3). Figures are reported, never asserted; the goal is p50 ≤ 250 ms.
 *
 * The generator: traces of 1–15 spans (children inside their parents, ~4 % failing with an
 * exception event), logs of which 30 % sit inside a trace, metric points; sub-ms nanoseconds and
 * exact timestamp ties (one log in 25), roughly in time order as ingest writes them.
 *
 * Env: BENCH_PAGES_ROWS (1000000; 0 skips), BENCH_PAGES_SAMPLES (40), BENCH_PAGES=0 skips it in run.ts.
 */

import { fileURLToPath } from "node:url";
import type { Client, InStatement, InValue } from "@libsql/client";
import { createApp } from "../src/app.js";
import { generateSigningKey } from "../src/auth/jwt.js";
import { LruCache } from "../src/auth/lru.js";
import { publicJwkOf } from "../src/config.js";
import { users } from "../src/db/schema.js";
import { assembleDeps } from "../src/deps.js";
import { LOG_COLUMNS, METRIC_POINT_COLUMNS, SPAN_COLUMNS } from "../src/ingest/batch.js";
import { rebuildRollups } from "../src/ingest/rollup-rebuild.js";
import { consoleLog } from "../src/log.js";
import { percentile } from "./proc.js";

// ---------------------------------------------------------------------------------------------
// The seeded generator

/** A telemetry row keyed by its column name (values as the ingest stores them; times in ns). */
export type TelemetryRow = Record<string, string | number | bigint | null>;

export interface TelemetryOptions {
	orgId: string;
	/** The PRNG seed: the same options give the same rows. */
	seed?: number;
	/** The data ends just before this instant (epoch ms) … */
	endMs: number;
	/** … and starts this long before it (default 24 h). */
	spanMs?: number;
	logs: number;
	spans: number;
	/** Metric points (default a tenth of the logs). */
	metrics?: number;
	services?: number;
	hosts?: number;
}

export interface TelemetryChunk {
	table: "logs" | "spans" | "metric_points";
	rows: TelemetryRow[];
}

/** mulberry32: small, fast, and the same sequence on every platform. */
export function seededRandom(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
	};
}

const OPERATIONS = [
	"GET /api/orders",
	"POST /api/orders",
	"GET /api/users/:id",
	"SELECT orders",
	"INSERT payments",
	"cache.get",
	"render checkout",
	"publish order.created",
];
const KINDS = ["server", "server", "internal", "client", "client", "internal", "internal", "producer"];
const LEVELS: { level: string; severity: number; weight: number }[] = [
	{ level: "debug", severity: 5, weight: 0.1 },
	{ level: "info", severity: 9, weight: 0.7 },
	{ level: "warn", severity: 13, weight: 0.12 },
	{ level: "error", severity: 17, weight: 0.07 },
	{ level: "fatal", severity: 21, weight: 0.01 },
];
const BODIES = [
	"request completed in {n} ms",
	"user {n} logged in",
	"cache miss for key order:{n}",
	"Connection reset by peer (ECONNRESET) after {n} ms",
	"payment {n} declined: insufficient funds",
	"Timeout waiting for upstream inventory after {n} ms",
	"retrying job {n} (attempt 2 of 5)",
	"100% of {n} shards healthy; it's fine",
];

/**
 * Rows in chunks of about `chunkRows`, roughly in time order (as ingest writes them), with sub-ms
 * nanoseconds and some exact timestamp ties (keyset cursors must break them by id).
 */
export function* generateTelemetry(options: TelemetryOptions, chunkRows = 5_000): Generator<TelemetryChunk> {
	const random = seededRandom(options.seed ?? 1);
	const int = (n: number) => Math.floor(random() * n);
	const hex = (chars: number) => {
		let out = "";
		for (let i = 0; i < chars; i += 8) out += (int(0x1_0000_0000) >>> 0).toString(16).padStart(8, "0");
		return out.slice(0, chars);
	};
	const spanMs = options.spanMs ?? 86_400_000;
	const startNs = BigInt(options.endMs - spanMs) * 1_000_000n;
	const widthNs = BigInt(spanMs) * 1_000_000n;
	const serviceCount = options.services ?? 12;
	const hostCount = options.hosts ?? 40;
	const services = Array.from({ length: serviceCount }, (_, i) => `svc-${String(i).padStart(2, "0")}`);
	const hosts = Array.from({ length: hostCount }, (_, i) => `host-${String(i).padStart(3, "0")}.prod`);
	// Each service runs on a few hosts; host h serves services whose index ≡ h mod serviceCount.
	const hostOf = (service: number) =>
		hosts[(service + serviceCount * int(Math.ceil(hostCount / serviceCount))) % hostCount] as string;
	const resource = (service: string, host: string) =>
		`{"service.name":${JSON.stringify(service)},"host.name":${JSON.stringify(host)},"deployment.environment":"prod"}`;
	const totalMetrics = options.metrics ?? Math.floor(options.logs / 10);
	const totals = { spans: options.spans, logs: options.logs, metrics: totalMetrics };
	const done = { spans: 0, logs: 0, metrics: 0 };
	const out = {
		logs: [] as TelemetryRow[],
		spans: [] as TelemetryRow[],
		metric_points: [] as TelemetryRow[],
	};
	const progressNs = (fraction: number) =>
		startNs + BigInt(Math.floor(Number(widthNs) * Math.min(fraction, 0.999_999)));
	const jitterNs = () => BigInt(int(2_000_000_000)) - 1_000_000_000n;
	const clamp = (ns: bigint) =>
		ns < startNs ? startNs : ns >= startNs + widthNs ? startNs + widthNs - 1n : ns;
	let lastLogNs = startNs;

	const pushLog = (
		atNs: bigint,
		trace: { traceId: string; spanId: string } | null,
		service: number,
		host: string,
	) => {
		let r = random();
		let choice = LEVELS[0] as (typeof LEVELS)[number];
		for (const level of LEVELS) {
			if (r < level.weight) {
				choice = level;
				break;
			}
			r -= level.weight;
		}
		// One log in 25 repeats the previous log's timestamp exactly.
		const timestamp = int(25) === 0 ? lastLogNs : clamp(atNs);
		lastLogNs = timestamp;
		const serviceName = services[service] as string;
		out.logs.push({
			org_id: options.orgId,
			timestamp,
			observed_timestamp: timestamp + 1_000_000n,
			severity_number: choice.severity,
			severity_text: choice.level.toUpperCase(),
			level: choice.level,
			body: (BODIES[int(BODIES.length)] as string).replace("{n}", String(int(100_000))),
			trace_id: trace?.traceId ?? null,
			span_id: trace?.spanId ?? null,
			event_name: null,
			service: serviceName,
			host,
			scope_name: "bench",
			scope_version: "1.0.0",
			resource_attributes: resource(serviceName, host),
			scope_attributes: null,
			attributes: `{"http.route":"/api/orders","user.id":${int(1000)},"retry":${int(2) === 0}}`,
		});
		done.logs++;
	};

	const pushTrace = (size: number, atNs: bigint) => {
		const traceId = hex(32);
		const failing = int(25) === 0;
		const failingIndex = failing ? int(size) : -1;
		const spans: { spanId: string; start: bigint; duration: bigint; service: number; host: string }[] = [];
		for (let i = 0; i < size; i++) {
			const parent = i === 0 ? null : (spans[int(i)] as (typeof spans)[number]);
			const service = parent === null ? int(serviceCount) : int(3) === 0 ? int(serviceCount) : parent.service;
			const host = parent !== null && service === parent.service ? parent.host : hostOf(service);
			// Durations from ~0.2 ms to ~2 s, skewed short; a child fits inside its parent.
			const rootDuration = BigInt(Math.floor(200_000 * Math.exp(random() * 9)));
			const start =
				parent === null
					? clamp(atNs)
					: parent.start + BigInt(Math.floor(Number(parent.duration) * random() * 0.5));
			const duration =
				parent === null
					? rootDuration
					: BigInt(Math.floor(Number(parent.duration - (start - parent.start)) * random()));
			const spanId = hex(16);
			spans.push({ spanId, start, duration, service, host });
			const error = i === failingIndex || (failing && i === 0 && int(2) === 0);
			const operation = (i === 0 ? int(3) : int(OPERATIONS.length)) as number;
			const serviceName = services[service] as string;
			out.spans.push({
				org_id: options.orgId,
				timestamp: start,
				duration_ns: duration,
				trace_id: traceId,
				span_id: spanId,
				parent_span_id: parent?.spanId ?? null,
				name: OPERATIONS[operation] as string,
				kind: KINDS[operation] as string,
				status_code: error ? "error" : int(3) === 0 ? "ok" : "unset",
				status_message: error ? "upstream failed" : null,
				service: serviceName,
				host,
				scope_name: "bench",
				scope_version: "1.0.0",
				resource_attributes: resource(serviceName, host),
				scope_attributes: null,
				attributes: `{"http.route":"/api/orders","http.status_code":${error ? 500 : 200}}`,
				events: error
					? `[{"timestamp":${start + duration / 2n},"name":"exception","attributes":{"exception.type":"UpstreamError","exception.message":"upstream failed"}}]`
					: null,
				links: null,
			});
			done.spans++;
		}
		return { traceId, spans };
	};

	const pushMetric = (atNs: bigint) => {
		const service = int(serviceCount);
		const host = hostOf(service);
		const serviceName = services[service] as string;
		const which = int(3);
		out.metric_points.push({
			org_id: options.orgId,
			timestamp: clamp(atNs),
			start_timestamp: null,
			metric_name: ["system.cpu.utilization", "http.server.requests", "queue.depth"][which] as string,
			kind: which === 1 ? "sum" : "gauge",
			unit: ["1", "{request}", "{message}"][which] as string,
			temporality: which === 1 ? "cumulative" : null,
			is_monotonic: which === 1 ? 1 : null,
			value: which === 0 ? Math.round(random() * 1000) / 1000 : int(10_000),
			count: null,
			sum: null,
			min: null,
			max: null,
			bucket_counts: null,
			explicit_bounds: null,
			exponential_buckets: null,
			quantiles: null,
			service: serviceName,
			host,
			scope_name: "bench",
			scope_version: "1.0.0",
			resource_attributes: resource(serviceName, host),
			scope_attributes: null,
			attributes: `{"state":"user"}`,
		});
		done.metrics++;
	};

	const progress = () => {
		const total = totals.spans + totals.logs + totals.metrics;
		return total === 0 ? 1 : (done.spans + done.logs + done.metrics) / total;
	};
	while (done.spans < totals.spans || done.logs < totals.logs || done.metrics < totals.metrics) {
		const fraction = progress();
		const atNs = progressNs(fraction);
		let trace: ReturnType<typeof pushTrace> | null = null;
		if (done.spans < totals.spans)
			trace = pushTrace(Math.min(1 + int(15), totals.spans - done.spans), atNs + jitterNs());
		// Logs and metric points keep pace with the spans (or with a fixed step when there are none).
		const step = totals.spans > 0 ? done.spans / totals.spans : Math.min(1, fraction + 0.001);
		const logTarget = done.spans >= totals.spans ? totals.logs : Math.floor(totals.logs * step);
		while (done.logs < logTarget) {
			if (trace && random() < 0.3) {
				const span = trace.spans[int(trace.spans.length)] as (typeof trace.spans)[number];
				const at = span.start + BigInt(Math.floor(Number(span.duration) * random()));
				pushLog(at, { traceId: trace.traceId, spanId: span.spanId }, span.service, span.host);
			} else {
				const service = int(serviceCount);
				pushLog(atNs + jitterNs(), null, service, hostOf(service));
			}
		}
		const metricTarget =
			done.spans >= totals.spans && done.logs >= totals.logs
				? totals.metrics
				: Math.floor(totals.metrics * step);
		while (done.metrics < metricTarget) pushMetric(atNs + jitterNs());
		for (const table of ["logs", "spans", "metric_points"] as const) {
			if (out[table].length >= chunkRows) {
				yield { table, rows: out[table] };
				out[table] = [];
			}
		}
	}
	for (const table of ["logs", "spans", "metric_points"] as const) {
		if (out[table].length > 0) yield { table, rows: out[table] };
	}
}

const COLUMNS = { logs: LOG_COLUMNS, spans: SPAN_COLUMNS, metric_points: METRIC_POINT_COLUMNS } as const;

/** Multi-row INSERTs of a chunk, in the ingest's column order. */
export function insertStatements(chunk: TelemetryChunk, rowsPerStatement = 400): InStatement[] {
	const columns = COLUMNS[chunk.table];
	const statements: InStatement[] = [];
	const tuple = `(${columns.map(() => "?").join(",")})`;
	for (let i = 0; i < chunk.rows.length; i += rowsPerStatement) {
		const rows = chunk.rows.slice(i, i + rowsPerStatement);
		const args: InValue[] = [];
		for (const row of rows) for (const column of columns) args.push((row[column] ?? null) as InValue);
		statements.push({
			sql: `INSERT INTO ${chunk.table} (${columns.join(",")}) VALUES ${rows.map(() => tuple).join(",")}`,
			args,
		});
	}
	return statements;
}

/** Generates and writes a data set; returns the rows when `keep` (for tests' expected answers). */
export async function insertTelemetry(
	client: Client,
	options: TelemetryOptions,
	keep = false,
): Promise<{ logs: TelemetryRow[]; spans: TelemetryRow[]; metric_points: TelemetryRow[] }> {
	const kept = {
		logs: [] as TelemetryRow[],
		spans: [] as TelemetryRow[],
		metric_points: [] as TelemetryRow[],
	};
	for (const chunk of generateTelemetry(options)) {
		if (keep) {
			// One writer: a multi-row INSERT gives consecutive rowids after the current largest.
			const max = await client.execute(`SELECT coalesce(max(id), 0) AS id FROM ${chunk.table}`);
			let id = Number(max.rows[0]?.id);
			for (const row of chunk.rows) row.id = ++id;
			kept[chunk.table].push(...chunk.rows);
		}
		await client.batch(insertStatements(chunk), "write");
	}
	// Rows written around the ingest path: their rollups are built as ingest would have.
	await rebuildRollups(client, options.orgId);
	return kept;
}

// ---------------------------------------------------------------------------------------------
// The bench

const HOUR = 3_600_000;
/** Sampling of one case stops after this long (with at least 3 samples): wide windows are slow. */
const CASE_BUDGET_MS = 20_000;
const GOAL_P50_MS = 250;
const ROLLUP_GOAL_P50_MS = 150;
/** How far before the bench's "now" (on the hour) the unaligned 24 h windows end. */
const UNALIGNED_BY_MS = 20 * 60_000 + 34_567;

function wholeNumber(name: string, fallback: number): number {
	const raw = process.env[name];
	if (raw === undefined || raw === "") return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got ${raw}`);
	return value;
}

export interface PagesBenchRow {
	label: string;
	path: string;
	samples: number;
	p50: number;
	p99: number;
	/** Rows in the answer's main list (data, spans, sources, by_service, slowest_operations): a sanity check. */
	size: number;
}

/**
 * The whole pages bench: the OQL data set (bench/oql.ts: BENCH_PAGES_ROWS logs and as many spans
 * over 24 h, a tenth for a second org), plus 300 multi-span traces from the generator above so the
 * trace page has real trees; then every page through the app, one request at a time.
 */
export async function runPagesBench(): Promise<PagesBenchRow[]> {
	const rows = wholeNumber("BENCH_PAGES_ROWS", 1_000_000);
	const samples = Math.max(3, wholeNumber("BENCH_PAGES_SAMPLES", 40));
	if (rows === 0) return [];
	process.stderr.write(`bench: pages data set (the OQL one), ${rows} logs + ${rows} spans …\n`);
	const { createOqlBenchDatabase } = await import("./oql.js");
	const bench = await createOqlBenchDatabase(rows);
	try {
		const generated = await insertTelemetry(
			bench.client,
			{ orgId: bench.orgId, seed: 3, endMs: bench.now, spanMs: HOUR, logs: 1_000, spans: 3_000, metrics: 0 },
			true,
		);
		const spansPerTrace = new Map<string, number>();
		for (const span of generated.spans) {
			const id = String(span.trace_id);
			spansPerTrace.set(id, (spansPerTrace.get(id) ?? 0) + 1);
		}
		const biggestTrace = [...spansPerTrace.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
		const key = await generateSigningKey();
		const clock = { now: () => bench.now };
		const deps = assembleDeps({
			db: bench.db,
			clock,
			config: {
				jwt: {
					issuer: "hexcovery",
					audience: "hexcovery-api",
					signingKeys: [key],
					publicKeys: [publicJwkOf(key)],
				},
				auth: { setupToken: null, totpKey: new Uint8Array(32), allowedOrigins: [] },
			},
			keyMemory: new LruCache(1000, clock),
			log: consoleLog("warn"),
		});
		const userId = "usr_pages_bench";
		await bench.db.insert(users).values({
			id: userId,
			orgId: bench.orgId,
			email: "pages-bench@example.com",
			name: "Pages bench",
			role: "viewer",
			createdAt: bench.now,
			updatedAt: bench.now,
		});
		const token = await deps.signAccessToken({ orgId: bench.orgId, userId, role: "viewer" });
		const app = createApp(deps);
		const request = async (path: string) => {
			const response = await app.request(path, { headers: { Authorization: `Bearer ${token}` } });
			if (response.status !== 200) throw new Error(`${path}: ${response.status} ${await response.text()}`);
			return (await response.json()) as Record<string, unknown>;
		};

		// Paths that need ids from the data: a cursor, the biggest generated trace, a busy host.
		const firstLogs = await request("/api/v1/pages/logs");
		const hosts = (await request("/api/v1/pages/hosts")).data as { host: string }[];
		const unaligned = bench.now - UNALIGNED_BY_MS;
		const cases: { label: string; path: string }[] = [
			{ label: "overview, 1 h", path: "/api/v1/pages/overview" },
			{ label: "overview, 24 h", path: "/api/v1/pages/overview?range=24h" },
			{ label: "hosts, 1 h", path: "/api/v1/pages/hosts" },
			{ label: "hosts, 24 h", path: "/api/v1/pages/hosts?range=24h" },
			// The bench's "now" is on the hour; a person's is not: the same windows ending 20 min 34.567 s
			// earlier read ~59 minutes of minute rollups and two raw edges besides the hours.
			{ label: "overview, 24 h, unaligned", path: `/api/v1/pages/overview?range=24h&to=${unaligned}` },
			{ label: "hosts, 24 h, unaligned", path: `/api/v1/pages/hosts?range=24h&to=${unaligned}` },
			{ label: "one host, 1 h", path: `/api/v1/pages/hosts/${encodeURIComponent(hosts[0]?.host ?? "none")}` },
			{ label: "logs, 1 h (+ histogram)", path: "/api/v1/pages/logs" },
			{ label: "logs, 1 h, page 2", path: `/api/v1/pages/logs?cursor=${firstLogs.next_cursor}` },
			{ label: "logs, 1 h, q=timeout", path: "/api/v1/pages/logs?q=timeout" },
			{ label: "logs, 1 h, level+service", path: "/api/v1/pages/logs?level=error,fatal&service=checkout" },
			{ label: "logs, 24 h (+ histogram)", path: "/api/v1/pages/logs?range=24h" },
			{ label: "logs, 24 h, level=error", path: "/api/v1/pages/logs?range=24h&level=error" },
			{ label: "traces, 1 h", path: "/api/v1/pages/traces" },
			{ label: "traces, 24 h, status=error", path: "/api/v1/pages/traces?range=24h&status=error" },
			{
				label: "traces, 1 h, service+min 200 ms",
				path: "/api/v1/pages/traces?service=api&min_duration_ms=200",
			},
			{ label: "one trace (15 spans)", path: `/api/v1/pages/traces/${biggestTrace}` },
			{ label: "schema, all sources", path: "/api/v1/pages/schema" },
		];
		const results: PagesBenchRow[] = [];
		for (const { label, path } of cases) {
			for (let i = 0; i < 2; i++) await request(path);
			const times: number[] = [];
			let body: Record<string, unknown> = {};
			const started = performance.now();
			while (times.length < samples && (times.length < 3 || performance.now() - started < CASE_BUDGET_MS)) {
				const t = performance.now();
				body = await request(path);
				times.push(performance.now() - t);
			}
			times.sort((a, b) => a - b);
			const data = [body.data, body.spans, body.sources, body.by_service, body.slowest_operations].find(
				Array.isArray,
			);
			results.push({
				label,
				path,
				samples: times.length,
				p50: percentile(times, 50),
				p99: percentile(times, 99),
				size: (data as unknown[] | undefined)?.length ?? 0,
			});
			process.stderr.write(`bench: pages ${label}: p50 ${percentile(times, 50).toFixed(1)} ms\n`);
		}
		console.log(formatPagesBench(rows, results));
		console.log();
		return results;
	} finally {
		bench.close();
	}
}

export function formatPagesBench(rows: number, results: PagesBenchRow[]): string {
	const lines = [
		`Built-in pages (GET /api/v1/pages/*, JWT viewer, in-process app.request, embedded libSQL): ${rows} logs + ${rows} spans over 24 h (bench/oql.ts data set), one request at a time`,
		"",
		"| page | samples | p50 ms | p99 ms | rows | p50 ≤ 250 ms |",
		"|---|---:|---:|---:|---:|:---:|",
	];
	for (const row of results) {
		lines.push(
			`| ${row.label} | ${row.samples} | ${row.p50.toFixed(1)} | ${row.p99.toFixed(1)} | ${row.size} | ${row.p50 <= GOAL_P50_MS ? "yes" : "**no**"} |`,
		);
	}
	// The rollups' goal (docs/performance.md, "Rollups"): the 24 h views of the overview and hosts pages.
	lines.push("");
	for (const label of [
		"overview, 24 h",
		"hosts, 24 h",
		"overview, 24 h, unaligned",
		"hosts, 24 h, unaligned",
	]) {
		const row = results.find((r) => r.label === label);
		if (!row) continue;
		lines.push(
			`- goal ${label} p50 ≤ ${ROLLUP_GOAL_P50_MS} ms (from the rollups): ${row.p50.toFixed(1)} ms → ${row.p50 <= ROLLUP_GOAL_P50_MS ? "met" : "not met"}`,
		);
	}
	return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	try {
		await runPagesBench();
	} catch (error) {
		console.error("bench pages failed:", error);
		process.exitCode = 1;
	}
}
