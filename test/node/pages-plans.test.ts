import type { InStatement } from "@libsql/client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createWorld, get, T0, type World } from "../support/pages.js";

/**
 * Every statement the pages run, for every filter combination, through EXPLAIN QUERY PLAN: no
 * telemetry table is ever read by a full SCAN (nor by a SEARCH bounded by the org alone, which
 * reads all of the org's rows), and the indexes the pages were designed around are the ones used.
 * Without ANALYZE statistics SQLite's plans depend on the schema and the SQL, not on the data, so
 * the plans here are the plans over a million rows.
 */

let world: World;
const statements: { path: string; statement: InStatement }[] = [];

const TELEMETRY_TABLES = ["logs", "spans", "metric_points"];
/** The aliases src/pages and the OQL compiler give telemetry tables. */
const TELEMETRY_ALIASES = ["t", "l", "s", "m", "r", ...TELEMETRY_TABLES];
const OTHER_TABLES = ["attribute_keys", "metric_names", "monitors"];

beforeAll(async () => {
	world = await createWorld({ logs: 300, spans: 300, metrics: 50 });
	const client = world.t.database.client;
	const batch = client.batch.bind(client);
	let current = "";
	client.batch = ((list: InStatement[], mode?: "read" | "write" | "deferred") => {
		for (const statement of list) statements.push({ path: current, statement });
		return batch(list, mode);
	}) as typeof client.batch;

	const trace = world.rows.spans.find((row) => row.org_id === world.orgA && row.parent_span_id === null);
	const paths = [
		"/api/v1/pages/overview",
		"/api/v1/pages/overview?range=2h",
		"/api/v1/pages/hosts?limit=2",
		"/api/v1/pages/hosts/host-001.prod",
		// Windows off the minute: rollups for whole buckets, raw rows at both edges.
		`/api/v1/pages/overview?range=24h&to=${T0 - 1_234_567}`,
		`/api/v1/pages/hosts?range=24h&to=${T0 - 1_234_567}`,
		`/api/v1/pages/hosts/host-001.prod?range=3h&to=${T0 - 1_234_567}`,
		"/api/v1/pages/logs",
		"/api/v1/pages/logs?level=error",
		"/api/v1/pages/logs?level=error,fatal",
		"/api/v1/pages/logs?service=svc-01",
		"/api/v1/pages/logs?host=host-001.prod",
		"/api/v1/pages/logs?q=timeout",
		"/api/v1/pages/logs?q=timeout&level=error&service=svc-01&host=host-001.prod",
		"/api/v1/pages/logs?limit=5",
		"/api/v1/pages/traces",
		"/api/v1/pages/traces?service=svc-01",
		"/api/v1/pages/traces?status=error",
		"/api/v1/pages/traces?status=ok&min_duration_ms=10",
		"/api/v1/pages/traces?limit=5",
		`/api/v1/pages/traces/${trace?.trace_id}`,
		"/api/v1/pages/schema",
	];
	for (const path of paths) {
		current = path;
		const res = await get(world, path);
		expect(res.status, path).toBe(200);
		// The second page of every paged list too (its keyset condition).
		if (res.json.next_cursor) {
			current = `${path} (page 2)`;
			const sep = path.includes("?") ? "&" : "?";
			expect((await get(world, `${path}${sep}cursor=${res.json.next_cursor}`)).status).toBe(200);
		}
	}
	expect(world.t.clock.now()).toBe(T0);
});
afterAll(() => world.t.close());

async function planOf(statement: InStatement): Promise<string[]> {
	const { sql, args } = typeof statement === "string" ? { sql: statement, args: [] } : statement;
	const plan = await world.t.database.client.execute({
		sql: `EXPLAIN QUERY PLAN ${sql}`,
		args: args as never,
	});
	return plan.rows.map((row) => String(row.detail));
}

it("reads no telemetry table with a full scan, nor with a search bounded by the org alone", async () => {
	expect(statements.length).toBeGreaterThan(40);
	for (const { path, statement } of statements) {
		const sql = typeof statement === "string" ? statement : statement.sql;
		const plan = await planOf(statement);
		const where = `${path}\n${sql}\n${plan.join("\n")}`;
		for (const line of plan) {
			const scan = /^SCAN (\w+)/.exec(line);
			expect(scan && [...TELEMETRY_ALIASES, ...OTHER_TABLES].includes(scan[1] as string), where).toBeFalsy();
			const search = /^SEARCH (\w+) USING (?:COVERING )?INDEX (\w+) \((.*)\)$/.exec(line);
			// `org_id=?` alone is a walk over all of an org's rows — fine only for min()/max() lookups,
			// which SQLite answers from one end of the index.
			const minMaxLookup = /^(SELECT CAST\(max\(|WITH RECURSIVE "v")/.test(sql);
			if (search && TELEMETRY_ALIASES.includes(search[1] as string) && search[3] === "org_id=?") {
				expect(minMaxLookup, where).toBe(true);
			}
		}
		const touchesTelemetry = TELEMETRY_TABLES.some(
			(table) => sql.includes(`"${table}"`) || sql.includes(` ${table} `),
		);
		if (touchesTelemetry)
			expect(
				plan.some((line) => /^SEARCH .* USING (COVERING )?INDEX /.test(line)),
				where,
			).toBe(true);
	}
});

it("reads the raw edges of an answer from the rollups through the time index: a minute of rows each", async () => {
	const unaligned = statements.filter(({ path }) => /^\/api\/v1\/pages\/(overview|hosts)\?.*&to=/.test(path));
	expect(unaligned.length).toBeGreaterThan(2);
	let edges = 0;
	for (const { path, statement } of unaligned) {
		for (const line of await planOf(statement)) {
			const search = /^SEARCH (logs|spans|metric_points) USING (?:COVERING )?INDEX (\w+)/.exec(line);
			if (!search) continue;
			edges++;
			expect(search[2], `${path}: ${line}`).toBe(`${search[1]}_org_time_idx`);
		}
	}
	expect(edges).toBeGreaterThan(6);
});

it("uses the indexes the pages were designed around", async () => {
	const used = new Map<string, Set<string>>();
	for (const { path, statement } of statements) {
		for (const line of await planOf(statement)) {
			const index = /USING (?:COVERING )?INDEX (\w+)/.exec(line)?.[1];
			if (!index) continue;
			const page = path.replace(/\?.*$/, "").replace(/[0-9a-f]{32}$/, ":id");
			used.set(page, (used.get(page) ?? new Set()).add(index));
		}
	}
	const pick = (page: string) => [...(used.get(page) ?? [])].sort();

	expect(pick("/api/v1/pages/logs")).toEqual(
		expect.arrayContaining([
			"logs_org_time_idx",
			"logs_org_level_time_idx",
			"logs_org_service_time_idx",
			"logs_org_host_time_idx",
		]),
	);
	expect(pick("/api/v1/pages/traces")).toEqual(
		expect.arrayContaining(["spans_org_root_time_idx", "spans_org_service_time_idx", "spans_org_trace_idx"]),
	);
	expect(pick("/api/v1/pages/traces/:id")).toEqual(["logs_org_trace_idx", "spans_org_trace_idx"]);
	// Hosts and overview read the rollups (their primary keys: org, bucket, key) for whole buckets;
	// the overview its spans from the per-operation one only.
	const rollupKey = (t: string) => `sqlite_autoindex_${t}_1h_1`;
	expect(pick("/api/v1/pages/hosts")).toEqual(
		expect.arrayContaining(["log_rollups", "metric_rollups", "span_rollups"].map(rollupKey)),
	);
	expect(pick("/api/v1/pages/overview")).toEqual(
		expect.arrayContaining([
			...["log_rollups", "metric_rollups", "span_latency"].map(rollupKey),
			"monitors_org_status_slug_idx",
		]),
	);
	expect(pick("/api/v1/pages/overview")).not.toContain(rollupKey("span_rollups"));
	expect(pick("/api/v1/pages/schema")).toEqual(
		expect.arrayContaining([
			"logs_org_level_time_idx",
			"logs_org_service_time_idx",
			"spans_org_host_time_idx",
			"metric_points_org_service_time_idx",
			"sqlite_autoindex_attribute_keys_1",
			"sqlite_autoindex_metric_names_1",
		]),
	);
});
