/**
 * Rollups (src/ingest/rollups.ts, src/pages/rollups.ts): differential tests on random data. Random
 * spans, logs and metric points go through the real ingest (OTLP/HTTP JSON, the group-commit
 * writer, several requests so upserts merge); answers read from the rollups over a random window
 * must equal the same answers computed over the raw rows — exactly for counts, sums, minima,
 * maxima and last-seen times, within PERCENTILE_RELATIVE_ERROR for percentiles.
 */
import type { InValue } from "@libsql/client";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepTelemetryRetention } from "../../src/ingest/retention.js";
import {
	HISTOGRAM_SLOTS,
	HistogramSum,
	HOUR_MS,
	histogramIndex,
	histogramJson,
	histogramPercentile,
	histogramValue,
	MINUTE_MS,
	PERCENTILE_RELATIVE_ERROR,
} from "../../src/ingest/rollups.js";
import { compileOql, runOql } from "../../src/oql/execute.js";
import { LIBSQL_PAGE_SQL } from "../../src/pages/backend.js";
import { histogramRows, readHistograms, rollupRows, splitWindow } from "../../src/pages/rollups.js";
import { Statement } from "../../src/pages/store.js";
import { FakeClock } from "../support/clock.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const SPAN_MS = 3 * HOUR_MS;
const NS = 1_000_000n;

let t: TestApp;
beforeAll(async () => {
	t = await createTestApp({ clock: new FakeClock(T0), writer: true });
});
afterAll(() => t.close());

const service = fc.constantFrom("api", "web", "worker", null);
const host = fc.constantFrom("h1", "h2", null);
const offsetMs = fc.integer({ min: 0, max: SPAN_MS - 1 });
const spanArb = fc.record({
	service,
	host,
	name: fc.constantFrom("GET /a", "GET /b", "job"),
	kind: fc.integer({ min: 0, max: 5 }),
	status: fc.integer({ min: 0, max: 2 }),
	root: fc.boolean(),
	atMs: offsetMs,
	subMs: fc.integer({ min: 0, max: 999_999 }),
	// Log-uniform-ish durations from 0 ns to ~20 s, with exact powers of two among them.
	durationNs: fc.oneof(
		fc.constant(0),
		fc.integer({ min: 1, max: 34 }).map((e) => 2 ** e),
		fc.double({ min: 0, max: 34.2, noNaN: true }).map((e) => Math.floor(2 ** e)),
	),
});
const logArb = fc.record({ service, host, severity: fc.constantFrom(0, 9, 17, 21), atMs: offsetMs });
const metricArb = fc.record({
	service,
	host,
	name: fc.constantFrom("cpu", "mem"),
	value: fc.integer({ min: -1000, max: 1000 }),
	atMs: offsetMs,
});
const windowArb = fc.oneof(
	fc.tuple(offsetMs, offsetMs).map(([a, b]) => [Math.min(a, b), Math.max(a, b) + 1] as const),
	fc
		.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 3 }))
		.map(([h, n]) => [h * HOUR_MS, Math.min(SPAN_MS, (h + n) * HOUR_MS)] as const),
);

type SpanIn = typeof spanArb extends fc.Arbitrary<infer T> ? T : never;
type LogIn = typeof logArb extends fc.Arbitrary<infer T> ? T : never;
type MetricIn = typeof metricArb extends fc.Arbitrary<infer T> ? T : never;

const START = T0 - SPAN_MS;
const ns = (atMs: number, subNs = 0) => `${BigInt(START + atMs) * NS + BigInt(subNs)}`;
const resource = (s: string | null, h: string | null) => ({
	attributes: [
		...(s === null ? [] : [{ key: "service.name", value: { stringValue: s } }]),
		...(h === null ? [] : [{ key: "host.name", value: { stringValue: h } }]),
	],
});
let idCounter = 0;
const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

async function post(key: string, path: string, body: unknown) {
	const res = await t.app.request(path, {
		method: "POST",
		headers: { "X-API-Key": key, "Content-Type": "application/json" },
		body: JSON.stringify(body),
	});
	expect(res.status, await res.clone().text()).toBe(200);
	expect(await res.json()).toEqual({});
}

/**
 * Ingests in `requests` requests of each signal, one resource per item (so rollup keys repeat across
 * requests), all sent at once: they share group commits, whose rollups are merged per group.
 */
async function ingest(key: string, spans: SpanIn[], logs: LogIn[], metrics: MetricIn[], requests: number) {
	const stats = t.deps.writer?.stats as { groups: number };
	const groupsBefore = stats.groups;
	const posts: Promise<void>[] = [];
	for (let r = 0; r < requests; r++) {
		const part = <T>(items: T[]) => items.filter((_, i) => i % requests === r);
		posts.push(
			post(key, "/v1/traces", {
				resourceSpans: part(spans).map((s) => {
					const start = ns(s.atMs, s.subMs);
					return {
						resource: resource(s.service, s.host),
						scopeSpans: [
							{
								spans: [
									{
										traceId: hex(++idCounter, 32),
										spanId: hex(idCounter, 16),
										...(s.root ? {} : { parentSpanId: hex(idCounter + 1_000_000, 16) }),
										name: s.name,
										kind: s.kind,
										startTimeUnixNano: start,
										endTimeUnixNano: `${BigInt(start) + BigInt(s.durationNs)}`,
										status: { code: s.status },
									},
								],
							},
						],
					};
				}),
			}),
		);
		posts.push(
			post(key, "/v1/logs", {
				resourceLogs: part(logs).map((l) => ({
					resource: resource(l.service, l.host),
					scopeLogs: [
						{
							logRecords: [
								{ timeUnixNano: ns(l.atMs), severityNumber: l.severity, body: { stringValue: "x" } },
							],
						},
					],
				})),
			}),
		);
		posts.push(
			post(key, "/v1/metrics", {
				resourceMetrics: part(metrics).map((m) => ({
					resource: resource(m.service, m.host),
					scopeMetrics: [
						{
							metrics: [
								{
									name: m.name,
									gauge: { dataPoints: [{ timeUnixNano: ns(m.atMs), asInt: String(m.value) }] },
								},
							],
						},
					],
				})),
			}),
		);
	}
	await Promise.all(posts);
	// Exports shared group commits (whose rollups were merged): fewer commits than requests.
	expect(stats.groups - groupsBefore).toBeLessThan(posts.length);
}

const DIMS = {
	spans: "service, host, name, kind, (parent_span_id IS NULL), status_code",
	logs: "service, host, level",
	metrics: "host, service, metric_name",
} as const;
const RAW = { spans: "spans", logs: "logs", metric_points: "metric_points" } as const;

/** Per key over the window: from the rollups (`rollupRows`) and from raw rows, as comparable text. */
async function both(
	source: "spans" | "logs" | "metrics",
	orgId: string,
	window: { fromMs: number; toMs: number },
) {
	const statement = new Statement(LIBSQL_PAGE_SQL);
	const rows = rollupRows(statement, source, orgId, window);
	const durations = source === "spans";
	const measures = durations ? ", sum(dur_sum), min(dur_min), max(dur_max)" : "";
	const rolled = await t.database.client.execute(
		statement.done(
			`SELECT ${DIMS[source].replace("(parent_span_id IS NULL)", "is_root")}, sum(n), CAST(max(last) AS TEXT)${measures} FROM ${rows}` +
				` GROUP BY ${DIMS[source].replace("(parent_span_id IS NULL)", "is_root")}`,
		),
	);
	const table = source === "metrics" ? RAW.metric_points : RAW[source];
	const raw = await t.database.client.execute({
		sql:
			`SELECT ${DIMS[source]}, count(*), CAST(max(timestamp) AS TEXT)` +
			(durations ? ", sum(duration_ns), min(duration_ns), max(duration_ns)" : "") +
			` FROM ${table} WHERE org_id = ? AND timestamp >= ? AND timestamp < ? GROUP BY ${DIMS[source]}`,
		args: [orgId, BigInt(window.fromMs) * NS, BigInt(window.toMs) * NS],
	});
	const text = (rs: typeof raw) => rs.rows.map((r) => JSON.stringify(Array.from(r))).sort();
	return { rolled: text(rolled), raw: text(raw) };
}

/** OQL's exact percentile: interpolated between the closest ranks. */
function exactPercentile(sorted: number[], p: number): number {
	const rank = p * (sorted.length - 1);
	const lower = Math.floor(rank);
	const low = sorted[lower] as number;
	return rank === lower ? low : low + (rank - lower) * ((sorted[lower + 1] as number) - low);
}

describe("rollups equal raw rows", () => {
	it("counts, sums, minima, maxima, last seen exact and percentiles within the bound, over any window", async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.array(spanArb, { minLength: 1, maxLength: 60 }),
				fc.array(logArb, { maxLength: 60 }),
				fc.array(metricArb, { maxLength: 30 }),
				fc.integer({ min: 1, max: 3 }),
				windowArb,
				async (spans, logs, metrics, requests, [from, to]) => {
					const { orgId, key } = await t.createOrgWithKey();
					await ingest(key, spans, logs, metrics, requests);
					const window = { fromMs: START + from, toMs: START + to };
					for (const source of ["spans", "logs", "metrics"] as const) {
						const { rolled, raw } = await both(source, orgId, window);
						expect(rolled).toEqual(raw);
					}
					// Percentiles of entry spans per service and name, from the histograms.
					const statement = new Statement(LIBSQL_PAGE_SQL);
					const group = ["service", "name"] as const;
					const hist = await readHistograms(
						await t.database.client.execute(statement.done(histogramRows(statement, orgId, window, group))),
						group,
					);
					const raw = await t.database.client.execute({
						sql: "SELECT service, name, duration_ns FROM spans WHERE org_id = ? AND timestamp >= ? AND timestamp < ?",
						args: [orgId, BigInt(window.fromMs) * NS, BigInt(window.toMs) * NS],
					});
					const exact = new Map<string, number[]>();
					for (const r of raw.rows) {
						const k = JSON.stringify([r.service, r.name]);
						exact.set(k, [...(exact.get(k) ?? []), Number(r.duration_ns)]);
					}
					expect([...hist.keys()].sort()).toEqual([...exact.keys()].sort());
					for (const [k, values] of exact) {
						values.sort((a, b) => a - b);
						for (const p of [0, 0.5, 0.95, 0.99, 1]) {
							const want = exactPercentile(values, p);
							const got = histogramPercentile(hist.get(k) ?? new Map(), p) as number;
							if (want === 0) expect(got).toBe(0);
							else expect(Math.abs(got - want) / want).toBeLessThanOrEqual(PERCENTILE_RELATIVE_ERROR + 1e-12);
						}
					}
				},
			),
			{ numRuns: 25 },
		);
	}, 120_000);
});

describe("rollups of exports that share a group commit", () => {
	it("add up when the exports' rows fall on the same keys (merged per group, per org)", async () => {
		// Few minutes and few dimension values: the exports of one group hit the same rollup keys.
		const early = fc.integer({ min: 0, max: 3 * MINUTE_MS - 1 });
		const spans = spanArb.map(
			(s): SpanIn => ({
				...s,
				host: "h1",
				name: "job",
				kind: 2,
				status: 0,
				atMs: s.atMs % (3 * MINUTE_MS),
			}),
		);
		const logs = logArb.map((l): LogIn => ({ ...l, host: "h1", atMs: l.atMs % (3 * MINUTE_MS) }));
		const metrics = metricArb.map(
			(m): MetricIn => ({ ...m, host: "h1", name: "cpu", atMs: m.atMs % (3 * MINUTE_MS) }),
		);
		await fc.assert(
			fc.asyncProperty(
				fc.array(spans, { minLength: 2, maxLength: 40 }),
				fc.array(logs, { maxLength: 40 }),
				fc.array(metrics, { maxLength: 20 }),
				fc.integer({ min: 2, max: 5 }), // 3 signals × 5 requests: within the 16 exports an org may have in flight
				fc.tuple(early, early),
				async (spanItems, logItems, metricItems, requests, [a, b]) => {
					const { orgId, key } = await t.createOrgWithKey();
					const other = await t.createOrgWithKey();
					// Another org's exports in the same groups, on the same keys: kept apart.
					await Promise.all([
						ingest(key, spanItems, logItems, metricItems, requests),
						ingest(other.key, spanItems, logItems, metricItems, requests),
					]);
					for (const window of [
						{ fromMs: START, toMs: START + SPAN_MS },
						{ fromMs: START + Math.min(a, b), toMs: START + Math.max(a, b) + 1 },
					]) {
						for (const source of ["spans", "logs", "metrics"] as const) {
							const { rolled, raw } = await both(source, orgId, window);
							expect(rolled).toEqual(raw);
						}
					}
				},
			),
			{ numRuns: 15 },
		);
	}, 120_000);
});

describe("the histogram", () => {
	it("puts every duration in the bucket whose value is within the bound", () => {
		fc.assert(
			fc.property(fc.double({ min: 0, max: 2 ** 50, noNaN: true }), (d) => {
				const ns = Math.floor(d);
				const value = histogramValue(histogramIndex(ns));
				if (ns === 0) expect(value).toBe(0);
				else expect(Math.abs(value - ns) / ns).toBeLessThanOrEqual(PERCENTILE_RELATIVE_ERROR + 1e-12);
			}),
		);
	});

	it("reads stored histograms as JSON.parse does, summed, without a Map per row", () => {
		const histogramArb = fc
			.uniqueArray(fc.tuple(fc.integer({ min: 0, max: HISTOGRAM_SLOTS + 20 }), fc.nat({ max: 2 ** 40 })), {
				selector: ([index]) => index,
				maxLength: 40,
			})
			.map((entries) => new Map(entries));
		fc.assert(
			fc.property(fc.array(histogramArb, { maxLength: 6 }), (histograms) => {
				const expected = new Map<number, number>();
				const sum = new HistogramSum();
				for (const histogram of histograms) {
					const json = histogramJson(histogram);
					for (const [index, n] of Object.entries(JSON.parse(json) as Record<string, number>))
						expected.set(Number(index), (expected.get(Number(index)) ?? 0) + n);
					sum.addJson(json);
				}
				const sorted = (m: Map<number, number>) =>
					[...m].filter(([, n]) => n !== 0).sort((a, b) => a[0] - b[0]);
				expect(sorted(sum.histogram())).toEqual(sorted(expected));
			}),
		);
		// Other valid JSON reads the same (the slow path); malformed text fails and adds nothing.
		const other = new HistogramSum();
		other.addJson('{ "3": 2, "7": 1.5e1 }');
		expect([...other.histogram()]).toEqual([
			[3, 2],
			[7, 15],
		]);
		const into = new HistogramSum();
		into.add(3, 1);
		expect(() => into.addJson('{"3":2,"4":}')).toThrow(SyntaxError);
		expect(() => into.addJson('{"3":2,}')).toThrow(SyntaxError);
		expect([...into.histogram()]).toEqual([[3, 1]]);
	});

	it("splits a window into raw edges, whole minutes and whole hours that cover it exactly once", () => {
		fc.assert(
			fc.property(
				fc.integer({ min: 0, max: 10 * HOUR_MS }),
				fc.integer({ min: 1, max: 10 * HOUR_MS }),
				(a, n) => {
					const window = { fromMs: T0 + a, toMs: T0 + a + n };
					const parts = splitWindow(window);
					const all = [...parts.raw, ...parts.minutes, ...parts.hours].sort((x, y) => x[0] - y[0]);
					expect(all[0]?.[0]).toBe(window.fromMs);
					expect(all.at(-1)?.[1]).toBe(window.toMs);
					for (let i = 1; i < all.length; i++) expect(all[i]?.[0]).toBe(all[i - 1]?.[1]);
					for (const [from, to] of parts.minutes)
						expect(from % MINUTE_MS === 0 && to % MINUTE_MS === 0).toBe(true);
					for (const [from, to] of parts.hours) expect(from % HOUR_MS === 0 && to % HOUR_MS === 0).toBe(true);
					// Raw rows only where no whole minute fits: less than a minute at each edge.
					for (const [from, to] of parts.raw)
						expect(Math.ceil(from / MINUTE_MS) * MINUTE_MS + MINUTE_MS > to).toBe(true);
				},
			),
		);
	});
});

describe("rollup retention and writes", () => {
	it("a rolled-back export leaves no rollup; retention deletes buckets past the cutoff like raw rows", async () => {
		const { orgId, key } = await t.createOrgWithKey();
		const count = async (table: string) =>
			Number(
				(
					await t.database.client.execute({
						sql: `SELECT count(*) AS n FROM ${table} WHERE org_id = ?`,
						args: [orgId],
					})
				).rows[0]?.n,
			);
		// A malformed export (a bad time in the second record) is refused whole: no row, no rollup.
		const bad = await t.app.request("/v1/logs", {
			method: "POST",
			headers: { "X-API-Key": key, "Content-Type": "application/json" },
			body: JSON.stringify({
				resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: ns(10) }, { timeUnixNano: "soon" }] }] }],
			}),
		});
		expect(bad.status).toBe(400);
		expect(await count("log_rollups_1m")).toBe(0);

		await ingest(key, [], [{ service: "api", host: "h1", severity: 9, atMs: 10 }], [], 1);
		expect(await count("log_rollups_1m")).toBe(1);
		expect(await count("log_rollups_1h")).toBe(1);
		// 31 days later (retention 30 days): raw rows and rollups both go.
		await sweepTelemetryRetention(t.deps.db, T0 + 31 * 86_400_000);
		expect(await count("logs")).toBe(0);
		expect(await count("log_rollups_1m")).toBe(0);
		expect(await count("log_rollups_1h")).toBe(0);
	});
});

describe("OQL from rollups equals OQL over raw rows", () => {
	const QUERIES = [
		"SELECT count(*) FROM spans",
		"SELECT service, count(*), rate(count(*), 1m) FROM spans WHERE status = 'error' GROUP BY service",
		"SELECT name, count(*) FROM spans WHERE kind = 'server' AND 'error' = status AND service != 'web' GROUP BY name TIMESERIES 5m",
		"SELECT service, count(*), avg(duration_ms) FROM spans WHERE status = 'error' GROUP BY service",
		"SELECT count(*) FROM spans WHERE status = 'error' OR kind = 'client'",
		"SELECT level, count(*) FROM logs GROUP BY level",
		"SELECT count(*), avg(duration_ms), sum(duration_ms), min(duration_ms), max(duration_ms) FROM spans WHERE kind = 'server' OR parent_span_id IS NULL GROUP BY service, name",
		"SELECT name, p50(duration_ms), p95(duration_ms), percentile(duration_ms, 99) FROM spans WHERE service != 'web' GROUP BY name ORDER BY name",
		"SELECT count(*) FROM logs WHERE service IN ('api', 'web') AND host IS NOT NULL TIMESERIES 5m",
		"SELECT count(*), max(duration_ms) FROM spans GROUP BY host TIMESERIES 1h",
		"SELECT host, count(*) AS n FROM logs GROUP BY host ORDER BY n DESC LIMIT 2",
		"SELECT rate(sum(duration_ms), 1h) / 2 FROM spans WHERE NOT (name = 'job')",
	];
	const iso = (ms: number) => new Date(ms).toISOString();

	it("the same columns, counts and sums; percentiles within the bound; meta.source says which", async () => {
		let fromRollups = 0;
		await fc.assert(
			fc.asyncProperty(
				fc.array(spanArb, { minLength: 1, maxLength: 60 }),
				fc.array(logArb, { maxLength: 60 }),
				fc.integer({ min: 1, max: 2 }),
				windowArb,
				fc.constantFrom(...QUERIES),
				async (spans, logs, requests, [from, to], text) => {
					const { orgId, key } = await t.createOrgWithKey();
					await ingest(key, spans, logs, [], requests);
					const query = `${text} SINCE '${iso(START + from)}' UNTIL '${iso(START + to)}'`;
					const rolled = await runOql(t.deps, orgId, query);
					const raw = await runOql(t.deps, orgId, query, { rollups: false });
					expect(raw.meta.source).toBe("raw");
					if (rolled.meta.source !== "raw") fromRollups++;
					const { elapsed_ms: _a, source: _s, ...rolledMeta } = rolled.meta;
					const { elapsed_ms: _b, source: _r, ...rawMeta } = raw.meta;
					expect(rolled.columns).toEqual(raw.columns);
					expect(rolledMeta).toEqual(rawMeta);
					expect(rolled.rows.length).toBe(raw.rows.length);
					const percentileColumn = rolled.columns.map((c) => /^p\d|percentile/.test(c.name));
					for (const [i, row] of rolled.rows.entries()) {
						for (const [j, value] of row.entries()) {
							const want = raw.rows[i]?.[j];
							if (typeof value === "number" && typeof want === "number") {
								const bound = percentileColumn[j] ? PERCENTILE_RELATIVE_ERROR : 1e-9;
								expect(Math.abs(value - want)).toBeLessThanOrEqual(bound * Math.abs(want) + 1e-9);
							} else {
								expect(value).toEqual(want);
							}
						}
					}
				},
			),
			{ numRuns: 40 },
		);
		expect(fromRollups).toBeGreaterThan(10);
	}, 120_000);

	it("reads a whole-hour count from the hourly rollup, an unaligned one from minutes plus raw edges", async () => {
		const { orgId, key } = await t.createOrgWithKey();
		await ingest(key, [], [{ service: "api", host: "h1", severity: 9, atMs: 30 * MINUTE_MS }], [], 1);
		const count = (since: number, until: number) =>
			runOql(t.deps, orgId, `SELECT count(*) FROM logs SINCE '${iso(since)}' UNTIL '${iso(until)}'`);
		const hour = await count(START, START + HOUR_MS);
		expect(hour.meta.source).toBe("rollup_1h");
		expect(hour.rows).toEqual([[1]]);
		const minutes = await count(START + 1234, START + 40 * MINUTE_MS + 5);
		expect(minutes.meta.source).toBe("rollup_1m");
		expect(minutes.rows).toEqual([[1]]);
		// Not rolled up: an attribute, a LIKE, rows mode; percentiles by host or status (only the
		// latency rollup has histograms: these once read `hist` from span_rollups_*, which has none).
		for (const text of [
			"SELECT count(*) FROM logs WHERE attributes['k'] = 'v'",
			"SELECT count(*) FROM logs WHERE body LIKE '%x%'",
			"SELECT service FROM logs",
			"SELECT p95(duration_ms) FROM spans GROUP BY status TIMESERIES 1h LIMIT 3",
			"SELECT host, p50(duration_ms) FROM spans GROUP BY host",
			"SELECT p99(duration_ms), count(*) FROM spans WHERE status = 'ok'",
		]) {
			const answer = await runOql(
				t.deps,
				orgId,
				`${text} SINCE '${iso(START)}' UNTIL '${iso(START + HOUR_MS)}'`,
			);
			expect(answer.meta.source).toBe("raw");
		}
	});

	it("counts errors per operation from the latency rollup's error counts, and nothing else from them", async () => {
		const { orgId } = await t.createOrgWithKey();
		const window = `SINCE '${iso(START + 1234)}' UNTIL '${iso(START + 2 * HOUR_MS + 5)}'`;
		const sqlOf = (text: string) => compileOql(t.deps, orgId, `${text} ${window}`).sql;
		const errorsByService = sqlOf(
			"SELECT service, count(*) FROM spans WHERE kind = 'server' AND status = 'error' GROUP BY service",
		);
		expect(errorsByService).toMatch(/FROM span_latency_1h/);
		expect(errorsByService).toMatch(/error_count AS n/);
		// The raw edges keep the condition.
		expect(errorsByService).toMatch(/FROM spans .*status_code = \?/);
		// Durations, percentiles, an OR and a grouping by status are not in the error counts.
		for (const text of [
			"SELECT service, avg(duration_ms) FROM spans WHERE status = 'error' GROUP BY service",
			"SELECT count(*) FROM spans WHERE status = 'error' OR kind = 'client'",
			"SELECT status, count(*) FROM spans WHERE status = 'error' GROUP BY status",
		]) {
			expect(sqlOf(text), text).not.toMatch(/error_count/);
			expect(sqlOf(text), text).toMatch(/FROM span_rollups_1h/);
		}
	});

	it("reads a window's raw edges through the time index, not an index that serves the GROUP BY", async () => {
		const { orgId } = await t.createOrgWithKey();
		for (const [source, field] of [
			["logs", "host"],
			["logs", "level"],
			["logs", "service"],
			["spans", "host"],
			["spans", "service"],
		] as const) {
			const compiled = compileOql(
				t.deps,
				orgId,
				`SELECT count(*) FROM ${source} GROUP BY ${field} SINCE '${iso(START + 1234)}' UNTIL '${iso(START + 40 * MINUTE_MS + 5)}'`,
			);
			expect(compiled.sql, source).toMatch(/_(rollups|latency)_1m/);
			const plan = await t.database.client.execute({
				sql: `EXPLAIN QUERY PLAN ${compiled.sql}`,
				args: compiled.params as InValue[],
			});
			const raw = plan.rows.map((row) => String(row.detail)).filter((d) => d.startsWith(`SEARCH ${source} `));
			// Two edges, each a range on (org_id, timestamp): a minute of rows, not all of the org's.
			expect(raw, `${source} by ${field}`).toEqual([
				`SEARCH ${source} USING INDEX ${source}_org_time_idx (org_id=? AND timestamp>? AND timestamp<?)`,
				`SEARCH ${source} USING INDEX ${source}_org_time_idx (org_id=? AND timestamp>? AND timestamp<?)`,
			]);
		}
	});
});
