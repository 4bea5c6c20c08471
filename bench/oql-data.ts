/**
 * A seeded, generated telemetry data set for OQL: logs, spans, metric points, heartbeat monitors with
 * their pings, and annotations, shaped like real traffic (a few busy services, skewed routes, log-normal
 * latencies, a service with more errors, attribute maps like OpenTelemetry's). The same spec always
 * gives the same rows, on any machine and runtime (no Node imports: the workerd tests seed with it).
 *
 * Used by the OQL golden tests (a few thousand rows, both runtimes), bench/oql.ts (a million logs and
 * a million spans) and the dashboard-page timings. Rows go in with multi-row INSERTs in large
 * transactions (`client.batch(…, "write")`); the libSQL client may be embedded or remote.
 */
import type { Client, InStatement, InValue } from "@libsql/client";
import { rebuildRollups } from "../src/ingest/rollup-rebuild.js";

export interface OqlDatasetSpec {
	orgId: string;
	/** The window the rows fall in, [startMs, endMs), epoch milliseconds. */
	startMs: number;
	endMs: number;
	/** Same seed, same rows (each table draws from its own stream, so counts do not shift each other). */
	seed: number;
	logs: number;
	spans: number;
	metrics?: number;
	/** Heartbeat pings, spread over three monitors (created too; the org must exist). */
	pings?: number;
	/** Deploy annotations (the org must exist). */
	annotations?: number;
}

export type Row = Record<string, InValue>;

export const SERVICES = ["api", "web", "checkout", "worker", "auth", "search", "billing", "gateway"] as const;
const SERVICE_WEIGHTS = [30, 20, 12, 12, 10, 8, 5, 3];
/** Share of error logs / error spans per service: checkout is the troubled one. */
const SERVICE_ERROR_RATE: Record<string, number> = {
	api: 0.02,
	web: 0.01,
	checkout: 0.08,
	worker: 0.03,
	auth: 0.015,
	search: 0.02,
	billing: 0.04,
	gateway: 0.005,
};
export const ROUTES = [
	"/api/users/:id",
	"/api/orders",
	"/api/orders/:id",
	"/api/search",
	"/api/login",
	"/api/cart",
	"/health",
	"/api/payments",
] as const;
const ROUTE_WEIGHTS = [25, 15, 12, 14, 8, 10, 10, 6];
/** Median server-span latency per route, ms. */
const ROUTE_MEDIAN_MS: Record<string, number> = {
	"/api/users/:id": 18,
	"/api/orders": 45,
	"/api/orders/:id": 30,
	"/api/search": 120,
	"/api/login": 80,
	"/api/cart": 25,
	"/health": 2,
	"/api/payments": 300,
};
const METHODS: Record<string, string> = {
	"/api/users/:id": "GET",
	"/api/orders": "POST",
	"/api/orders/:id": "GET",
	"/api/search": "GET",
	"/api/login": "POST",
	"/api/cart": "PUT",
	"/health": "GET",
	"/api/payments": "POST",
};
export const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
const LEVEL_SEVERITY: Record<string, number> = {
	trace: 1,
	debug: 5,
	info: 9,
	warn: 13,
	error: 17,
	fatal: 21,
};
const HOSTS_PER_SERVICE = 3;
const USERS = 500;

export const TABLE_COLUMNS = {
	logs: [
		"org_id",
		"timestamp",
		"observed_timestamp",
		"severity_number",
		"severity_text",
		"level",
		"body",
		"trace_id",
		"span_id",
		"service",
		"host",
		"scope_name",
		"resource_attributes",
		"attributes",
	],
	spans: [
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
		"resource_attributes",
		"attributes",
	],
	metric_points: [
		"org_id",
		"timestamp",
		"metric_name",
		"kind",
		"unit",
		"value",
		"service",
		"host",
		"resource_attributes",
		"attributes",
	],
	monitors: ["id", "org_id", "slug", "period_s", "grace_s", "status", "created_at", "updated_at"],
	monitor_pings: ["monitor_id", "seq", "org_id", "at", "kind", "exit_code", "rid", "duration_ms", "body"],
	annotations: [
		"id",
		"org_id",
		"title",
		"tags",
		"time",
		"service",
		"environment",
		"version",
		"created_at",
		"updated_at",
		"created_by_type",
		"created_by_id",
		"created_by_name",
	],
} as const;
export type TableName = keyof typeof TABLE_COLUMNS;

/** mulberry32: small, fast, and the same everywhere. */
export function random(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
	};
}

class Draw {
	readonly next: () => number;
	constructor(seed: number) {
		this.next = random(seed);
	}
	int(n: number): number {
		return Math.floor(this.next() * n);
	}
	pick<T>(items: readonly T[]): T {
		return items[this.int(items.length)] as T;
	}
	weighted<T>(items: readonly T[], weights: readonly number[]): T {
		const total = weights.reduce((a, b) => a + b, 0);
		let r = this.next() * total;
		for (let i = 0; i < items.length; i++) {
			r -= weights[i] as number;
			if (r < 0) return items[i] as T;
		}
		return items[items.length - 1] as T;
	}
	hex(length: number): string {
		let out = "";
		while (out.length < length) out += this.int(0x10000).toString(16).padStart(4, "0");
		return out.slice(0, length);
	}
	/** A log-normal value around `median` (σ in log space). */
	logNormal(median: number, sigma: number): number {
		const u = Math.max(this.next(), 1e-12);
		const v = this.next();
		const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
		return median * Math.exp(sigma * z);
	}
}

/** Evenly spread, increasing times in [start, end): the i-th of n, jittered within its slot, in ns. */
function timeNs(spec: OqlDatasetSpec, i: number, n: number, draw: Draw): bigint {
	const slot = (spec.endMs - spec.startMs) / n;
	const ms = spec.startMs + (i + draw.next()) * slot;
	const whole = Math.min(Math.floor(ms), spec.endMs - 1);
	return BigInt(whole) * 1_000_000n + BigInt(draw.int(1_000_000));
}

function hostOf(service: string, draw: Draw): string {
	return `${service}-${String(draw.int(HOSTS_PER_SERVICE) + 1).padStart(2, "0")}`;
}

function resourceOf(service: string, host: string): string {
	return JSON.stringify({
		"service.name": service,
		"host.name": host,
		"k8s.pod.name": `${host}-7d9f`,
		"deployment.environment": "production",
	});
}

function concrete(route: string, draw: Draw): string {
	return route.replace(":id", String(draw.int(10_000)));
}

function statusCodeFor(isError: boolean, draw: Draw): number {
	if (isError) return draw.next() < 0.8 ? 500 : 503;
	const r = draw.next();
	return r < 0.9 ? 200 : r < 0.95 ? 201 : r < 0.98 ? 404 : 401;
}

export function* logRows(spec: OqlDatasetSpec): Generator<Row> {
	const draw = new Draw(spec.seed * 7 + 1);
	for (let i = 0; i < spec.logs; i++) {
		const timestamp = timeNs(spec, i, spec.logs, draw);
		const service = draw.weighted(SERVICES, SERVICE_WEIGHTS);
		const host = hostOf(service, draw);
		const route = draw.weighted(ROUTES, ROUTE_WEIGHTS);
		const errorRate = SERVICE_ERROR_RATE[service] ?? 0.02;
		const r = draw.next();
		const level =
			r < errorRate * 0.1
				? "fatal"
				: r < errorRate
					? "error"
					: r < errorRate + 0.08
						? "warn"
						: r < 0.75
							? "info"
							: r < 0.93
								? "debug"
								: "trace";
		const noSeverity = draw.next() < 0.02;
		const severityNumber = noSeverity ? null : (LEVEL_SEVERITY[level] as number) + draw.int(4);
		const severityText = noSeverity ? "notice" : level.toUpperCase();
		const storedLevel = noSeverity ? "notice" : level;
		const ms = Math.round(draw.logNormal(ROUTE_MEDIAN_MS[route] ?? 20, 0.7));
		const method = METHODS[route] ?? "GET";
		const isError = level === "error" || level === "fatal";
		const code = statusCodeFor(isError, draw);
		const other = draw.pick(SERVICES);
		let body: string;
		if (level === "fatal") body = `panic: out of memory in ${service} worker pool`;
		else if (level === "error") {
			body = draw.pick([
				`connection reset by peer (upstream ${other})`,
				`timeout after ${ms}ms calling ${other}`,
				"NullPointerException in OrderService.process",
				`payment declined: card_error for order ${draw.int(100_000)}`,
			]);
		} else if (level === "warn")
			body = `slow query on ${draw.pick(["orders", "users", "carts"])} took ${ms}ms`;
		else if (level === "debug")
			body = `cache ${draw.next() < 0.7 ? "hit" : "miss"} for key user:${draw.int(USERS)}`;
		else if (level === "trace") body = `enter ${draw.pick(["handle", "authorize", "render", "persist"])}`;
		else body = `${method} ${concrete(route, draw)} ${code} in ${ms}ms`;
		const withTrace = draw.next() < 0.6;
		const attributes: Record<string, unknown> = {
			"http.route": route,
			"http.method": method,
			"http.status_code": code,
		};
		if (draw.next() < 0.7) attributes["user.id"] = `u${draw.int(USERS)}`;
		if (isError) attributes["error.type"] = draw.pick(["timeout", "io", "validation"]);
		yield {
			org_id: spec.orgId,
			timestamp,
			observed_timestamp: timestamp + BigInt(draw.int(5_000_000)),
			severity_number: severityNumber,
			severity_text: severityText,
			level: storedLevel,
			body,
			trace_id: withTrace ? draw.hex(32) : null,
			span_id: withTrace ? draw.hex(16) : null,
			service,
			host,
			scope_name: `${service}.logger`,
			resource_attributes: resourceOf(service, host),
			attributes: JSON.stringify(attributes),
		};
	}
}

export function* spanRows(spec: OqlDatasetSpec): Generator<Row> {
	const draw = new Draw(spec.seed * 7 + 2);
	for (let i = 0; i < spec.spans; i++) {
		const timestamp = timeNs(spec, i, spec.spans, draw);
		const service = draw.weighted(SERVICES, SERVICE_WEIGHTS);
		const host = hostOf(service, draw);
		const route = draw.weighted(ROUTES, ROUTE_WEIGHTS);
		const method = METHODS[route] ?? "GET";
		const r = draw.next();
		const kind = r < 0.5 ? "server" : r < 0.85 ? "client" : "internal";
		const isError = draw.next() < (SERVICE_ERROR_RATE[service] ?? 0.02) * (kind === "server" ? 1.5 : 1);
		const median = (ROUTE_MEDIAN_MS[route] ?? 20) * (kind === "server" ? 1 : 0.3);
		const durationMs = draw.logNormal(median, kind === "server" ? 0.6 : 0.9) * (isError ? 3 : 1);
		const durationNs = BigInt(Math.max(1_000, Math.round(durationMs * 1_000_000)));
		const code = statusCodeFor(isError, draw);
		const attributes: Record<string, unknown> =
			kind === "client"
				? { "db.system": draw.pick(["postgresql", "redis"]), "peer.service": draw.pick(SERVICES) }
				: { "http.route": route, "http.method": method, "http.status_code": code };
		if (draw.next() < 0.5) attributes["user.id"] = `u${draw.int(USERS)}`;
		const name =
			kind === "server"
				? `${method} ${route}`
				: kind === "client"
					? draw.pick(["SELECT orders", "SELECT users", "redis GET", "redis SET"])
					: draw.pick(["render", "validate", "serialize"]);
		yield {
			org_id: spec.orgId,
			timestamp,
			duration_ns: durationNs,
			trace_id: draw.hex(32),
			span_id: draw.hex(16),
			parent_span_id: kind === "server" ? null : draw.hex(16),
			name,
			kind,
			status_code: isError ? "error" : draw.next() < 0.3 ? "ok" : "unset",
			status_message: isError ? draw.pick(["upstream timeout", "internal error", "deadline exceeded"]) : null,
			service,
			host,
			scope_name: `${service}.tracer`,
			resource_attributes: resourceOf(service, host),
			attributes: JSON.stringify(attributes),
		};
	}
}

export function* metricRows(spec: OqlDatasetSpec): Generator<Row> {
	const draw = new Draw(spec.seed * 7 + 3);
	const n = spec.metrics ?? 0;
	for (let i = 0; i < n; i++) {
		const service = draw.weighted(SERVICES, SERVICE_WEIGHTS);
		const host = hostOf(service, draw);
		const cpu = draw.next() < 0.5;
		yield {
			org_id: spec.orgId,
			timestamp: timeNs(spec, i, n, draw),
			metric_name: cpu ? "system.cpu.utilization" : "http.server.request.count",
			kind: cpu ? "gauge" : "sum",
			unit: cpu ? "1" : "{request}",
			value: cpu ? Math.round(draw.next() * 1000) / 1000 : draw.int(200),
			service,
			host,
			resource_attributes: resourceOf(service, host),
			attributes: JSON.stringify(cpu ? { "cpu.state": draw.pick(["user", "system"]) } : {}),
		};
	}
}

export const MONITOR_SLUGS = ["nightly-backup", "hourly-report", "queue-drain"] as const;

export function monitorRows(spec: OqlDatasetSpec): Row[] {
	if (!spec.pings) return [];
	return MONITOR_SLUGS.map((slug, i) => ({
		id: `${spec.orgId}_mon${i}`,
		org_id: spec.orgId,
		slug,
		period_s: [86_400, 3_600, 300][i] ?? 3_600,
		grace_s: 600,
		status: "up",
		created_at: spec.startMs,
		updated_at: spec.startMs,
	}));
}

export function* pingRows(spec: OqlDatasetSpec): Generator<Row> {
	const draw = new Draw(spec.seed * 7 + 4);
	const n = spec.pings ?? 0;
	const seq = [0, 0, 0];
	for (let i = 0; i < n; i++) {
		const monitor = draw.int(MONITOR_SLUGS.length);
		seq[monitor] = (seq[monitor] ?? 0) + 1;
		const r = draw.next();
		const kind = r < 0.7 ? "success" : r < 0.85 ? "start" : r < 0.95 ? "fail" : "log";
		yield {
			monitor_id: `${spec.orgId}_mon${monitor}`,
			seq: seq[monitor] as number,
			org_id: spec.orgId,
			at: Number(timeNs(spec, i, n, draw) / 1_000_000n),
			kind,
			exit_code: kind === "fail" ? 1 + draw.int(3) : kind === "success" && draw.next() < 0.3 ? 0 : null,
			rid: kind === "log" ? null : `run-${draw.int(1000)}`,
			duration_ms: kind === "success" || kind === "fail" ? 1_000 + draw.int(60_000) : null,
			body: kind === "log" ? `processed ${draw.int(5000)} items` : null,
		};
	}
}

export function annotationRows(spec: OqlDatasetSpec): Row[] {
	const draw = new Draw(spec.seed * 7 + 5);
	const n = spec.annotations ?? 0;
	const rows: Row[] = [];
	for (let i = 0; i < n; i++) {
		const service = draw.weighted(SERVICES, SERVICE_WEIGHTS);
		const time = Number(timeNs(spec, i, n, draw) / 1_000_000n);
		rows.push({
			id: `${spec.orgId}_ann${i}`,
			org_id: spec.orgId,
			title: `Deploy ${service} v1.${i}`,
			tags: JSON.stringify(["deploy", service]),
			time,
			service,
			environment: draw.next() < 0.8 ? "production" : "staging",
			version: `v1.${i}`,
			created_at: time,
			updated_at: time,
			created_by_type: "api_key",
			created_by_id: "key_dataset",
			created_by_name: "ci",
		});
	}
	return rows;
}

/** Every table's rows, in insertion order (monitors before their pings). */
export function* datasetRows(spec: OqlDatasetSpec): Generator<[TableName, Row]> {
	for (const row of logRows(spec)) yield ["logs", row];
	for (const row of spanRows(spec)) yield ["spans", row];
	for (const row of metricRows(spec)) yield ["metric_points", row];
	for (const row of monitorRows(spec)) yield ["monitors", row];
	for (const row of pingRows(spec)) yield ["monitor_pings", row];
	for (const row of annotationRows(spec)) yield ["annotations", row];
}

export interface SeedOptions {
	/** Rows per INSERT statement (default 200). */
	rowsPerInsert?: number;
	/** INSERT statements per transaction (default 50). */
	insertsPerTransaction?: number;
	/** Called after each transaction with the rows written so far. */
	onProgress?: (rows: number) => void;
}

/** Inserts the data set with multi-row INSERTs in large write transactions; returns rows per table. */
export async function seedOqlDataset(
	client: Client,
	spec: OqlDatasetSpec,
	options: SeedOptions = {},
): Promise<Record<TableName, number>> {
	const rowsPerInsert = options.rowsPerInsert ?? 200;
	const insertsPerTransaction = options.insertsPerTransaction ?? 50;
	const counts: Record<TableName, number> = {
		logs: 0,
		spans: 0,
		metric_points: 0,
		monitors: 0,
		monitor_pings: 0,
		annotations: 0,
	};
	let pending: InStatement[] = [];
	let table: TableName | null = null;
	let rows: Row[] = [];
	let written = 0;
	const flushInsert = () => {
		if (table === null || rows.length === 0) return;
		const columns = TABLE_COLUMNS[table];
		const tuple = `(${columns.map(() => "?").join(", ")})`;
		pending.push({
			sql: `INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(", ")}) VALUES ${rows.map(() => tuple).join(", ")}`,
			args: rows.flatMap((row) => columns.map((c) => row[c] ?? null)),
		});
		counts[table] += rows.length;
		written += rows.length;
		rows = [];
	};
	const flushTransaction = async () => {
		flushInsert();
		if (pending.length === 0) return;
		await client.batch(pending, "write");
		pending = [];
		options.onProgress?.(written);
	};
	for (const [rowTable, row] of datasetRows(spec)) {
		if (table !== rowTable) {
			flushInsert();
			table = rowTable;
		}
		rows.push(row);
		if (rows.length >= rowsPerInsert) {
			flushInsert();
			if (pending.length >= insertsPerTransaction) await flushTransaction();
		}
	}
	await flushTransaction();
	// Rows written around the ingest path: their rollups are built as ingest would have.
	await rebuildRollups(client, spec.orgId);
	return counts;
}
