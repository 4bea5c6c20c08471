import { insertStatements, insertTelemetry, type TelemetryRow } from "../../bench/pages.js";
import type { Role } from "../../src/auth/jwt.js";
import { toRfc3339 } from "../../src/http/time.js";
import { rebuildRollups } from "../../src/ingest/rollup-rebuild.js";
import { createOrg } from "../../src/services/api-keys.js";
import { FakeClock } from "./clock.js";
import { type Credential, seedUser, send, sessionFor } from "./management.js";
import { createTestApp, type TestApp } from "./node-app.js";

/**
 * A generated, seeded world for the pages' tests, and the pages' expected answers computed from the
 * generated rows in plain TypeScript — independently of the SQL under test.
 */

/** The fake clock: 2026-11-28T12:00:00.000Z. The data covers the two hours before it. */
export const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
export const HOUR = 3_600_000;
export const NS = 1_000_000n;

export interface World {
	t: TestApp;
	orgA: string;
	orgB: string;
	tokenA: Credential;
	tokenB: Credential;
	rows: { logs: TelemetryRow[]; spans: TelemetryRow[]; metric_points: TelemetryRow[] };
}

export async function createWorld(
	size = { logs: 3000, spans: 3000, metrics: 400 },
	extra?: (t: TestApp, orgA: string) => Promise<void>,
): Promise<World> {
	const t = await createTestApp({ clock: new FakeClock(T0) });
	const orgA = (await createOrg(t.database.db, t.clock, "Acme")).id;
	const orgB = (await createOrg(t.database.db, t.clock, "Globex")).id;
	const a = await insertTelemetry(
		t.database.client,
		{ orgId: orgA, seed: 7, endMs: T0, spanMs: 2 * HOUR, ...size, services: 6, hosts: 9 },
		true,
	);
	// Org B: the same service and host names, other rows; none may ever show in org A's pages.
	const b = await insertTelemetry(
		t.database.client,
		{
			orgId: orgB,
			seed: 8,
			endMs: T0,
			spanMs: 2 * HOUR,
			logs: 500,
			spans: 500,
			metrics: 50,
			services: 6,
			hosts: 12,
		},
		true,
	);
	await extra?.(t, orgA);
	return {
		t,
		orgA,
		orgB,
		tokenA: await sessionFor(t, await seedUser(t, { orgId: orgA, role: "viewer" })),
		tokenB: await sessionFor(t, await seedUser(t, { orgId: orgB, role: "viewer" })),
		rows: {
			logs: [...a.logs, ...b.logs],
			spans: [...a.spans, ...b.spans],
			metric_points: [...a.metric_points, ...b.metric_points],
		},
	};
}

/** Writes rows (a test's own) and adds them to the world, ids included, so expected answers see them. */
export async function insertRows(
	world: World,
	table: "logs" | "spans" | "metric_points",
	rows: TelemetryRow[],
): Promise<void> {
	const client = world.t.database.client;
	const max = await client.execute(`SELECT coalesce(max(id), 0) AS id FROM ${table}`);
	let id = Number(max.rows[0]?.id);
	for (const row of rows) row.id = ++id;
	await client.batch(insertStatements({ table, rows }), "write");
	for (const orgId of new Set(rows.map((row) => String(row.org_id)))) await rebuildRollups(client, orgId);
	world.rows[table].push(...rows);
}

/** A span with defaults for what a test does not care about. */
export function spanRow(
	fields: Partial<TelemetryRow> & { org_id: string; trace_id: string; span_id: string },
): TelemetryRow {
	return {
		timestamp: BigInt(T0 - 60_000) * NS,
		duration_ns: 5_000_000n,
		parent_span_id: null,
		name: "op",
		kind: "internal",
		status_code: "unset",
		status_message: null,
		service: "svc",
		host: null,
		scope_name: null,
		scope_version: null,
		resource_attributes: "{}",
		scope_attributes: null,
		attributes: "{}",
		events: null,
		links: null,
		...fields,
	};
}

export async function tokenFor(world: World, orgId: string, role: Role): Promise<Credential> {
	return sessionFor(world.t, await seedUser(world.t, { orgId, role }));
}

export async function get(world: World, path: string, auth: Credential = world.tokenA) {
	return send(world.t, "GET", path, { auth });
}

// ---------------------------------------------------------------------------------------------
// Row helpers

export const ns = (row: TelemetryRow, column = "timestamp") => row[column] as bigint;
export const str = (row: TelemetryRow, column: string) => (row[column] ?? null) as string | null;
export const inWindow = (row: TelemetryRow, fromMs: number, toMs: number) =>
	ns(row) >= BigInt(fromMs) * NS && ns(row) < BigInt(toMs) * NS;
const timeOf = (value: bigint) => ({
	time: toRfc3339(Number(value / NS)),
	time_unix_nano: value.toString(),
});
/** Newest first by (timestamp, id). */
export const newestFirst = (a: TelemetryRow, b: TelemetryRow) =>
	ns(a) === ns(b) ? Number(b.id) - Number(a.id) : ns(a) > ns(b) ? -1 : 1;
const oldestFirst = (a: TelemetryRow, b: TelemetryRow) => -newestFirst(a, b);

export function logJson(row: TelemetryRow) {
	return {
		id: String(row.id),
		...timeOf(ns(row)),
		observed_time_unix_nano: ns(row, "observed_timestamp").toString(),
		level: str(row, "level"),
		severity_number: row.severity_number === null ? null : Number(row.severity_number),
		severity_text: str(row, "severity_text"),
		body: str(row, "body"),
		service: str(row, "service"),
		host: str(row, "host"),
		trace_id: str(row, "trace_id"),
		span_id: str(row, "span_id"),
		event_name: str(row, "event_name"),
		attributes: JSON.parse(String(row.attributes)),
		resource: JSON.parse(String(row.resource_attributes)),
	};
}

// ---------------------------------------------------------------------------------------------
// Expected answers

const ERROR_LEVELS = ["error", "fatal"];
const isErrorLog = (row: TelemetryRow) => ERROR_LEVELS.includes(String(row.level));
const isErrorSpan = (row: TelemetryRow) => row.status_code === "error";

export interface LogQuery {
	orgId: string;
	fromMs: number;
	toMs: number;
	levels?: string[];
	service?: string;
	host?: string;
	q?: string;
}

export function expectedLogs(world: World, query: LogQuery): TelemetryRow[] {
	return world.rows.logs
		.filter(
			(row) =>
				row.org_id === query.orgId &&
				inWindow(row, query.fromMs, query.toMs) &&
				(!query.levels || query.levels.includes(String(row.level))) &&
				(query.service === undefined || row.service === query.service) &&
				(query.host === undefined || row.host === query.host) &&
				(query.q === undefined || String(row.body).toLowerCase().includes(query.q.toLowerCase())),
		)
		.sort(newestFirst);
}

/** Counts per bucket from the first bucket of the window to its last, zeros included. */
export function expectedHistogram(rows: TelemetryRow[], fromMs: number, toMs: number, bucketMs: number) {
	const size = BigInt(bucketMs) * NS;
	const counts = new Map<bigint, number>();
	for (const row of rows) {
		const bucket = (ns(row) / size) * size;
		counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
	}
	const buckets: { time: string; count: number }[] = [];
	for (
		let at = Math.floor(fromMs / bucketMs) * bucketMs;
		at <= Math.floor((toMs - 1) / bucketMs) * bucketMs;
		at += bucketMs
	) {
		buckets.push({ time: toRfc3339(at), count: counts.get(BigInt(at) * NS) ?? 0 });
	}
	return buckets;
}

function spansOfTrace(world: World, orgId: string, traceId: string) {
	return world.rows.spans.filter((row) => row.org_id === orgId && row.trace_id === traceId);
}

export interface TraceQuery {
	orgId: string;
	fromMs: number;
	toMs: number;
	service?: string;
	minDurationMs?: number;
	status?: "error" | "ok";
}

export function expectedTraces(world: World, query: TraceQuery) {
	return world.rows.spans
		.filter((row) => {
			if (
				row.org_id !== query.orgId ||
				row.parent_span_id !== null ||
				!inWindow(row, query.fromMs, query.toMs)
			) {
				return false;
			}
			if (query.service !== undefined && row.service !== query.service) return false;
			if (query.minDurationMs !== undefined && Number(row.duration_ns) / 1e6 < query.minDurationMs)
				return false;
			if (query.status) {
				const failed = spansOfTrace(world, query.orgId, String(row.trace_id)).some(isErrorSpan);
				if (failed !== (query.status === "error")) return false;
			}
			return true;
		})
		.sort(newestFirst)
		.map((root) => {
			const spans = spansOfTrace(world, query.orgId, String(root.trace_id));
			const errors = spans.filter(isErrorSpan).length;
			return {
				trace_id: String(root.trace_id),
				...timeOf(ns(root)),
				duration_ms: Number(root.duration_ns) / 1e6,
				root: {
					span_id: String(root.span_id),
					name: String(root.name),
					service: str(root, "service"),
					host: str(root, "host"),
					kind: String(root.kind),
					status: String(root.status_code),
				},
				span_count: spans.length,
				error_count: errors,
				error: errors > 0,
				services: [...new Set(spans.map((s) => s.service).filter((s) => s !== null))].sort() as string[],
			};
		});
}

/** The waterfall, written recursively (the implementation walks iteratively). */
export function expectedTrace(world: World, orgId: string, traceId: string) {
	const all = spansOfTrace(world, orgId, traceId).sort(oldestFirst);
	const byId = new Map<string, TelemetryRow>();
	for (const row of all) if (!byId.has(String(row.span_id))) byId.set(String(row.span_id), row);
	const rows = [...byId.values()];
	let start = ns(rows[0] as TelemetryRow);
	let end = start;
	for (const row of rows) {
		if (ns(row) < start) start = ns(row);
		if (ns(row) + ns(row, "duration_ns") > end) end = ns(row) + ns(row, "duration_ns");
	}
	const childrenOf = (id: string) => rows.filter((row) => row.parent_span_id === id && row.span_id !== id);
	const roots = rows.filter((row) => row.parent_span_id === null || !byId.has(String(row.parent_span_id)));
	const out: unknown[] = [];
	const visit = (row: TelemetryRow, depth: number) => {
		const children = childrenOf(String(row.span_id));
		const events = row.events
			? (JSON.parse(String(row.events)) as { name: string; attributes: Record<string, unknown> }[]).map(
					(event, i) => {
						const eventNs = BigInt(
							([...String(row.events).matchAll(/"timestamp":(\d+)/g)][i] as RegExpMatchArray)[1] as string,
						);
						return {
							name: event.name,
							...timeOf(eventNs),
							offset_ms: Number(eventNs - start) / 1e6,
							attributes: event.attributes,
						};
					},
				)
			: [];
		out.push({
			span_id: String(row.span_id),
			parent_span_id: str(row, "parent_span_id"),
			name: String(row.name),
			service: str(row, "service"),
			host: str(row, "host"),
			kind: String(row.kind),
			status: String(row.status_code),
			status_message: str(row, "status_message"),
			...timeOf(ns(row)),
			start_offset_ms: Number(ns(row) - start) / 1e6,
			duration_ms: Number(ns(row, "duration_ns")) / 1e6,
			depth,
			children: children.map((child) => String(child.span_id)),
			missing_parent: row.parent_span_id !== null && !byId.has(String(row.parent_span_id)),
			scope: { name: str(row, "scope_name"), version: str(row, "scope_version") },
			attributes: JSON.parse(String(row.attributes)),
			resource: JSON.parse(String(row.resource_attributes)),
			events,
			links: row.links ? JSON.parse(String(row.links)) : [],
		});
		for (const child of children) visit(child, depth + 1);
	};
	for (const root of roots) visit(root, 0);
	const logs = world.rows.logs
		.filter((row) => row.org_id === orgId && row.trace_id === traceId)
		.sort(oldestFirst);
	const rootRow = rows.find((row) => row.parent_span_id === null);
	return {
		trace_id: traceId,
		...timeOf(start),
		duration_ms: Number(end - start) / 1e6,
		span_count: rows.length,
		error_count: rows.filter(isErrorSpan).length,
		services: [...new Set(rows.map((row) => row.service).filter((s) => s !== null))].sort(),
		root_span_id: rootRow ? String(rootRow.span_id) : null,
		spans: out,
		logs: logs.map(logJson),
		truncated: { spans: false, logs: false },
	};
}

interface Tally {
	logs: number;
	logErrors: number;
	spans: number;
	spanErrors: number;
	metrics: number;
	last: bigint;
	services: Set<string>;
}

export function expectedHosts(world: World, orgId: string, fromMs: number, toMs: number) {
	const hosts = new Map<string, Tally>();
	const visit = (row: TelemetryRow, source: "logs" | "spans" | "metrics") => {
		const host = str(row, "host");
		if (row.org_id !== orgId || !host || !inWindow(row, fromMs, toMs)) return;
		let tally = hosts.get(host);
		if (!tally) {
			tally = { logs: 0, logErrors: 0, spans: 0, spanErrors: 0, metrics: 0, last: -1n, services: new Set() };
			hosts.set(host, tally);
		}
		if (source === "logs") {
			tally.logs++;
			if (isErrorLog(row)) tally.logErrors++;
		} else if (source === "spans") {
			tally.spans++;
			if (isErrorSpan(row)) tally.spanErrors++;
		} else tally.metrics++;
		if (ns(row) > tally.last) tally.last = ns(row);
		if (row.service !== null) tally.services.add(String(row.service));
	};
	for (const row of world.rows.logs) visit(row, "logs");
	for (const row of world.rows.spans) visit(row, "spans");
	for (const row of world.rows.metric_points) visit(row, "metrics");
	const rate = (part: number, whole: number) => (whole === 0 ? null : part / whole);
	return [...hosts.entries()]
		.sort(([a], [b]) => (a < b ? -1 : 1))
		.map(([host, tally]) => ({
			host,
			last_seen: toRfc3339(Number(tally.last / NS)),
			last_seen_unix_nano: tally.last.toString(),
			services: [...tally.services].sort(),
			logs: { count: tally.logs, errors: tally.logErrors, error_rate: rate(tally.logErrors, tally.logs) },
			spans: {
				count: tally.spans,
				errors: tally.spanErrors,
				error_rate: rate(tally.spanErrors, tally.spans),
			},
			metric_points: { count: tally.metrics },
			error_rate: rate(tally.logErrors + tally.spanErrors, tally.logs + tally.spans),
		}));
}

/** PostgreSQL's percentile_cont: linear interpolation between the closest ranks. */
export function percentile(values: number[], p: number): number {
	const sorted = [...values].sort((a, b) => a - b);
	const h = ((sorted.length - 1) * p) / 100;
	const lo = Math.floor(h);
	const below = sorted[lo] as number;
	const above = sorted[lo + 1];
	return below + (h - lo) * (above === undefined ? 0 : above - below);
}

export function expectedOverview(world: World, orgId: string, fromMs: number, toMs: number) {
	const logs = world.rows.logs.filter((row) => row.org_id === orgId && inWindow(row, fromMs, toMs));
	const spans = world.rows.spans.filter((row) => row.org_id === orgId && inWindow(row, fromMs, toMs));
	const metrics = world.rows.metric_points.filter(
		(row) => row.org_id === orgId && inWindow(row, fromMs, toMs),
	);
	const logErrors = logs.filter(isErrorLog).length;
	const spanErrors = spans.filter(isErrorSpan).length;
	const rate = (part: number, whole: number) => (whole === 0 ? null : part / whole);
	const services = new Map<string | null, { log_errors: number; span_errors: number }>();
	const bump = (service: string | null, key: "log_errors" | "span_errors") => {
		const entry = services.get(service) ?? { log_errors: 0, span_errors: 0 };
		entry[key]++;
		services.set(service, entry);
	};
	for (const row of logs.filter(isErrorLog)) bump(str(row, "service"), "log_errors");
	for (const row of spans.filter(isErrorSpan)) bump(str(row, "service"), "span_errors");
	const byKey = (a: string | null, b: string | null) =>
		a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1;
	const top = [...services.entries()]
		.map(([service, e]) => ({ service, errors: e.log_errors + e.span_errors, ...e }))
		.sort((a, b) => b.errors - a.errors || byKey(a.service, b.service))
		.slice(0, 10);
	const operations = new Map<string, { service: string | null; name: string; durations: number[] }>();
	for (const row of spans) {
		if (!(row.kind === "server" || row.kind === "consumer" || row.parent_span_id === null)) continue;
		const key = JSON.stringify([row.service, row.name]);
		const entry = operations.get(key) ?? {
			service: str(row, "service"),
			name: String(row.name),
			durations: [],
		};
		entry.durations.push(Number(row.duration_ns) / 1e6);
		operations.set(key, entry);
	}
	const slowest = [...operations.values()]
		.map((op) => ({
			service: op.service,
			name: op.name,
			p95_ms: percentile(op.durations, 95),
			spans: op.durations.length,
		}))
		.sort((a, b) => b.p95_ms - a.p95_ms || byKey(a.service, b.service) || byKey(a.name, b.name))
		.slice(0, 10);
	return {
		logs: { count: logs.length, errors: logErrors, error_rate: rate(logErrors, logs.length) },
		spans: { count: spans.length, errors: spanErrors, error_rate: rate(spanErrors, spans.length) },
		metric_points: { count: metrics.length },
		error_rate: rate(logErrors + spanErrors, logs.length + spans.length),
		top_services: top,
		slowest_operations: slowest,
	};
}

export const iso = toRfc3339;
