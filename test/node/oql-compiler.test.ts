import { type Client, createClient, type InValue } from "@libsql/client";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type SourceStorage, STORAGE } from "../../src/oql/columns.js";
import { type CompiledQuery, compile } from "../../src/oql/compiler.js";
import { SOURCES, type SourceName } from "../../src/oql/fields.js";
import { prepareOql } from "../../src/oql/index.js";
import { parse } from "../../src/oql/parser.js";
import { check } from "../../src/oql/semantic.js";
import { sqliteDialect } from "../../src/oql/sqlite-dialect.js";
import { openTestDatabase, type TestDatabase } from "../support/node-app.js";
import { NOW } from "./oql-support.js";

const HOUR = 3_600_000;
const ORG = "org_a";
const OTHER = "org_b";
const prepare = (text: string, orgId = ORG) => prepareOql(text, { orgId, now: NOW, dialect: sqliteDialect });

async function run(client: Client, compiled: CompiledQuery): Promise<unknown[][]> {
	const result = await client.execute({ sql: compiled.sql, args: compiled.params as InValue[] });
	return result.rows.map((row) => Array.from({ length: row.length }, (_, i) => row[i]));
}

describe("storage map", () => {
	it("has a storage entry for every field and attribute map of every source", () => {
		for (const [source, info] of Object.entries(SOURCES) as [SourceName, (typeof SOURCES)[SourceName]][]) {
			const storage = STORAGE[source];
			expect(Object.keys(storage.fields).sort(), source).toEqual(Object.keys(info.fields).sort());
			expect(storage.attributesColumn !== null, `${source} attributes`).toBe(info.attributes);
			expect(storage.resourceColumn !== null, `${source} resource`).toBe(info.resource);
		}
	});

	it("matches the migrated schema: every final source, and every expected one whose tables exist", async () => {
		const db = await openTestDatabase();
		try {
			for (const [source, storage] of Object.entries(STORAGE) as [SourceName, SourceStorage][]) {
				for (const [table, needed] of storageColumns(storage)) {
					const info = await db.client.execute(`PRAGMA table_info("${table}")`);
					const columns = new Set(info.rows.map((row) => String(row.name)));
					if (columns.size === 0 && storage.status === "expected") continue;
					for (const column of needed) {
						expect(columns.has(column), `${source}: ${table}.${column} (update src/oql/columns.ts)`).toBe(
							true,
						);
					}
				}
			}
		} finally {
			db.close();
		}
	});
});

describe("SQL shape", () => {
	it("compiles the seed example with the org and time guard first, the user's condition in parentheses", () => {
		const compiled = prepare("SELECT count(*) FROM logs WHERE level = 'error' LAST 1h");
		expect(compiled.sql).toBe(
			'WITH "base" AS (SELECT "t"."timestamp" AS "ts" FROM "logs" AS "t" WHERE "t"."org_id" = ?1 AND "t"."timestamp" >= ?2 AND "t"."timestamp" < ?3 AND (("t"."level" = ?4))) SELECT COUNT(*) AS "c0" FROM "base"',
		);
		expect(compiled.params).toEqual([
			ORG,
			BigInt(NOW - HOUR) * 1_000_000n,
			BigInt(NOW) * 1_000_000n,
			"error",
		]);
		expect(compiled.columns).toEqual([{ name: "count(*)", type: "number", role: "value", empty: 0 }]);
	});

	it("reads annotations in milliseconds and spans in nanoseconds", () => {
		expect(prepare("SELECT title FROM annotations").params.slice(1, 3)).toEqual([
			BigInt(NOW - HOUR),
			BigInt(NOW),
		]);
		expect(prepare("SELECT name FROM spans").params.slice(1, 3)).toEqual([
			BigInt(NOW - HOUR) * 1_000_000n,
			BigInt(NOW) * 1_000_000n,
		]);
	});

	it("selects rows newest first with one row more than the limit, times as epoch milliseconds", () => {
		const compiled = prepare("SELECT timestamp, body FROM logs LIMIT 20");
		expect(compiled.sql).toBe(
			'SELECT ("t"."timestamp" / 1000000.0) AS "c0", "t"."body" AS "c1" FROM "logs" AS "t" WHERE "t"."org_id" = ?1 AND "t"."timestamp" >= ?2 AND "t"."timestamp" < ?3 ORDER BY "t"."timestamp" DESC NULLS LAST LIMIT ?4',
		);
		expect(compiled.params[3]).toBe(21n);
		expect(compiled.limit).toBe(20);
	});

	it("expands * to every field and the attribute maps, never to stored columns", () => {
		const compiled = prepare("SELECT * FROM spans");
		expect(compiled.columns.map((c) => c.name)).toEqual([
			...Object.keys(SOURCES.spans.fields),
			"attributes",
			"resource",
		]);
		expect(compiled.columns.at(-1)?.type).toBe("json");
		expect(compiled.sql).not.toContain('org_id" AS');
	});

	it("reads attributes through a bound JSON path", () => {
		const compiled = prepare("SELECT count(*) FROM spans WHERE attributes['http.route'] = '/users/:id'");
		expect(compiled.sql).toContain('(json_extract("t"."attributes", ?4) = ?5)');
		expect(compiled.params.slice(3)).toEqual(['$."http.route"', "/users/:id"]);
	});

	it("binds LIKE with an escape, CONTAINS as instr, MATCHES as REGEXP", () => {
		const compiled = prepare(
			"SELECT body FROM logs WHERE body LIKE 'a\\%%' AND body NOT CONTAINS 'x' AND body MATCHES '^GET' AND severity NOT IN (1, 2)",
		);
		expect(compiled.sql).toContain('("t"."body" LIKE ?4 ESCAPE ?5)');
		expect(compiled.sql).toContain('(NOT (instr("t"."body", ?6) > 0))');
		expect(compiled.sql).toContain('("t"."body" REGEXP ?7)');
		expect(compiled.sql).toContain('("t"."severity_number" NOT IN (?8, ?9))');
		expect(compiled.params.slice(3, 9)).toEqual(["a\\%%", "\\", "x", "^GET", 1, 2]);
	});

	it("numbers equal values once, so a repeated expression prints the same", () => {
		const compiled = prepare("SELECT body FROM logs WHERE service = 'api' OR host = 'api'");
		expect(compiled.sql).toContain('(("t"."service" = ?4) OR ("t"."host" = ?4))');
		expect(compiled.params).toHaveLength(5);
	});

	it("buckets TIMESERIES by integer division of the stored time", () => {
		const compiled = prepare("SELECT count(*) FROM spans TIMESERIES 5m");
		expect(compiled.sql).toContain('((("t"."timestamp" - ?5) / ?4) * ?4 + ?5) AS "b"');
		expect(compiled.params.slice(3)).toEqual([300_000_000_000n, 0n]);
		expect(compiled.sql).toContain(
			'SELECT ("b" / 1000000.0) AS "c0", COUNT(*) AS "c1" FROM "base" GROUP BY "b" ORDER BY "b"',
		);
		expect(compiled.columns.map((c) => c.role)).toEqual(["bucket", "value"]);
		expect(compiled.timeseries).toMatchObject({ bucketMs: 300_000, seriesLimit: null });
	});

	it("ranks series for GROUP BY with TIMESERIES and returns one more than the limit", () => {
		const compiled = prepare("SELECT count(*) FROM spans GROUP BY service TIMESERIES 5m LIMIT 3");
		// One pass: every series per bucket with its row count, then the series ranked by their total.
		expect(compiled.sql).toContain(
			'"agg" AS (SELECT ("b" / 1000000.0) AS "c0", "k0" AS "c1", COUNT(*) AS "c2", "k0", "b", COUNT(*) AS "n" FROM "base" GROUP BY "k0", "b")',
		);
		expect(compiled.sql).toContain(
			'"totals" AS (SELECT *, SUM("n") OVER (PARTITION BY "k0") AS "total" FROM "agg")',
		);
		expect(compiled.sql).toContain(
			'"series" AS (SELECT *, DENSE_RANK() OVER (ORDER BY "total" DESC NULLS LAST, "k0" ASC NULLS LAST) AS "sr" FROM "totals") SELECT "c0", "c1", "c2", "sr" AS "c3" FROM "series" WHERE "sr" <= ?6 ORDER BY "sr", "b"',
		);
		expect(compiled.params[5]).toBe(4n);
		expect(compiled.columns.map((c) => `${c.name}:${c.role}`)).toEqual([
			"timestamp:bucket",
			"service:key",
			"count(*):value",
			"series_rank:rank",
		]);
		expect(compiled.timeseries?.seriesLimit).toBe(3);
	});

	it("computes percentiles and latest() with window functions over the group", () => {
		const compiled = prepare("SELECT p95(duration_ms), latest(status) FROM spans GROUP BY service");
		expect(compiled.sql).toContain(
			'ROW_NUMBER() OVER (PARTITION BY "k0" ORDER BY "a0" ASC NULLS LAST) AS "r_a0", COUNT("a0") OVER (PARTITION BY "k0") AS "n_a0"',
		);
		expect(compiled.sql).toContain(
			'ROW_NUMBER() OVER (PARTITION BY "k0" ORDER BY "a1" IS NULL, "ts" DESC, "a1" DESC) AS "l_a1"',
		);
		expect(compiled.sql).toContain('MAX(CASE WHEN "l_a1" = 1 THEN "a1" END)');
	});

	it("counts distinct values with COUNT(DISTINCT …)", () => {
		expect(prepare("SELECT count_distinct(trace_id) FROM spans").sql).toContain('COUNT(DISTINCT "a0")');
	});

	it("orders groups by the first aggregate, descending, unless told", () => {
		expect(prepare("SELECT count(*) FROM logs GROUP BY service").sql).toMatch(
			/ORDER BY "c1" DESC NULLS LAST, "k0" ASC NULLS LAST LIMIT \?4$/,
		);
		expect(prepare("SELECT service, count(*) AS n FROM logs GROUP BY service ORDER BY n").sql).toMatch(
			/ORDER BY "c1" ASC NULLS LAST, "k0" ASC NULLS LAST LIMIT \?4$/,
		);
	});

	it("divides as floats and rates by the window", () => {
		const compiled = prepare("SELECT count(*) / 7, rate(count(*), 1m) FROM heartbeats LAST 2h");
		expect(compiled.sql).toContain("(CAST(COUNT(*) AS REAL) / ?4)");
		expect(compiled.sql).toContain("(CAST((COUNT(*) * ?5) AS REAL) / ?6)");
		expect(compiled.params.slice(3)).toEqual([7, 60_000, 2 * HOUR]);
	});

	it("joins monitors only when a heartbeat query names the monitor", () => {
		expect(prepare("SELECT count(*) FROM heartbeats").sql).not.toContain("JOIN");
		expect(prepare("SELECT count(*) FROM heartbeats GROUP BY monitor").sql).toContain(
			'FROM "monitor_pings" AS "t" LEFT JOIN "monitors" AS "j_monitor" ON "j_monitor"."id" = "t"."monitor_id"',
		);
	});

	it("reads stored names from the storage map: resource maps, metric names, scaled durations", () => {
		expect(prepare("SELECT resource['k8s.pod.name'] FROM logs").sql).toContain(
			'json_extract("t"."resource_attributes", ?4)',
		);
		expect(prepare("SELECT name FROM metrics").sql).toContain('"t"."metric_name" AS "c0"');
		expect(prepare("SELECT duration_ms FROM spans").sql).toContain(
			'(CAST("t"."duration_ns" AS REAL) / 1000000) AS "c0"',
		);
	});

	it("compiles for another org with the same SQL and only the org parameter changed", () => {
		const a = prepare("SELECT count(*) FROM logs WHERE service = 'x'", ORG);
		const b = prepare("SELECT count(*) FROM logs WHERE service = 'x'", OTHER);
		expect(b.sql).toBe(a.sql);
		expect(b.params).toEqual([OTHER, ...a.params.slice(1)]);
	});

	it("renders percentiles through the dialect when the engine has an exact aggregate", () => {
		const dialect = {
			...sqliteDialect,
			percentile: { aggregate: (value: string, fraction: string) => `quantileExact(${fraction})(${value})` },
			latest: { aggregate: (value: string, time: string) => `argMax(${value}, ${time})` },
		};
		const checked = check(parse("SELECT p99(duration_ms), latest(name) FROM spans GROUP BY service"), {
			now: NOW,
			regex: null,
		});
		const compiled = compile(checked, { orgId: ORG, dialect });
		expect(compiled.sql).toContain('quantileExact(?4)("a0")');
		expect(compiled.sql).toContain('argMax("a1", "ts")');
		expect(compiled.sql).not.toContain("ROW_NUMBER");
		expect(compiled.params[3]).toBe(0.99);
	});
});

// ---- the expected telemetry and heartbeat tables, created from columns.ts in a scratch database ----

/** Columns each table needs according to the storage map. */
function storageColumns(storage: SourceStorage): Map<string, Set<string>> {
	const tables = new Map<string, Set<string>>([
		[storage.table, new Set([storage.orgColumn, storage.timeColumn])],
	]);
	const add = (table: string, column: string) => {
		const set = tables.get(table) ?? new Set<string>();
		set.add(column);
		tables.set(table, set);
	};
	for (const expr of Object.values(storage.fields)) {
		if (expr.join) {
			const join = storage.joins[expr.join];
			if (!join) throw new Error(`no join ${expr.join}`);
			add(join.table, expr.column);
			add(join.table, join.key);
			add(storage.table, join.column);
		} else add(storage.table, expr.column);
	}
	if (storage.attributesColumn) add(storage.table, storage.attributesColumn);
	if (storage.resourceColumn) add(storage.table, storage.resourceColumn);
	return tables;
}

async function createScratchTables(client: Client, source: SourceName): Promise<void> {
	for (const [table, columns] of storageColumns(STORAGE[source])) {
		await client.execute(
			`CREATE TABLE IF NOT EXISTS "${table}" (${[...columns].map((c) => `"${c}"`).join(", ")})`,
		);
	}
}

async function insert(client: Client, table: string, rows: Record<string, InValue>[]): Promise<void> {
	const known = new Set(
		(await client.execute(`PRAGMA table_info("${table}")`)).rows.map((row) => String(row.name)),
	);
	for (const row of rows) {
		const names = Object.keys(row);
		for (const name of names) if (!known.has(name)) throw new Error(`${table}.${name} is not in columns.ts`);
		await client.execute({
			sql: `INSERT INTO "${table}" (${names.map((n) => `"${n}"`).join(", ")}) VALUES (${names.map(() => "?").join(", ")})`,
			args: names.map((n) => row[n] as InValue),
		});
	}
}

/** A small seeded generator, so every run sees the same data. */
function random(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
	};
}

/** PostgreSQL's percentile_cont over the non-null values. */
function percentileCont(values: (number | null)[], p: number): number | null {
	const sorted = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
	if (sorted.length === 0) return null;
	const h = ((sorted.length - 1) * p) / 100;
	const lo = Math.floor(h);
	const low = sorted[lo] as number;
	return low + (h - lo) * ((sorted[lo + 1] ?? low) - low);
}

function groupBy<T>(items: T[], key: (item: T) => string | null): Map<string | null, T[]> {
	const groups = new Map<string | null, T[]>();
	for (const item of items) {
		const k = key(item);
		groups.set(k, [...(groups.get(k) ?? []), item]);
	}
	return groups;
}

const STATUS = ["unset", "ok", "error"];

interface Span {
	org: string;
	ms: number;
	ns: bigint;
	service: string | null;
	name: string;
	durationMs: number;
	status: number;
	route: string;
	code: number;
}

describe("compiled SQL over scratch telemetry tables (expected columns)", () => {
	let client: Client;
	const spans: Span[] = [];

	beforeAll(async () => {
		client = createClient({ url: "file::memory:" });
		for (const source of ["logs", "spans", "metrics", "heartbeats"] as const)
			await createScratchTables(client, source);
		const next = random(42);
		const services = ["api", "web", "worker", null];
		const routes = ["/users/:id", "/orders", "/health", "/Search"];
		for (let i = 0; i < 800; i++) {
			const ms = NOW - 2 * HOUR + Math.floor(next() * 2 * HOUR);
			const span: Span = {
				org: next() < 0.8 ? ORG : OTHER,
				ms,
				ns: BigInt(ms) * 1_000_000n + BigInt(Math.floor(next() * 1_000_000)),
				service: services[Math.floor(next() ** 2 * services.length)] ?? null,
				name: `op${Math.floor(next() * 5)}`,
				durationMs: Math.floor(next() * 5_000_000_000) / 1_000_000,
				status: Math.floor(next() * 3),
				route: routes[Math.floor(next() * routes.length)] as string,
				code: [200, 200, 404, 500][Math.floor(next() * 4)] as number,
			};
			spans.push(span);
		}
		await insert(
			client,
			"spans",
			spans.map((s) => ({
				org_id: s.org,
				timestamp: s.ns,
				service: s.service,
				host: "h1",
				trace_id: "t",
				span_id: "s",
				name: s.name,
				kind: "server",
				duration_ns: BigInt(Math.round(s.durationMs * 1_000_000)),
				status_code: STATUS[s.status] as string,
				attributes: JSON.stringify({ "http.route": s.route, "http.status_code": s.code }),
				resource_attributes: JSON.stringify({ "service.name": s.service }),
			})),
		);
	});
	afterAll(() => client.close());

	const mine = (from = NOW - HOUR, to = NOW) =>
		spans.filter((s) => s.org === ORG && s.ms >= from && s.ms < to);

	it("counts by service within the org and the range only", async () => {
		const rows = await run(client, prepare("SELECT count(*) FROM spans GROUP BY service"));
		const expected = [...groupBy(mine(), (s) => s.service)].map(([k, v]) => [k, v.length]);
		expect(rows.sort()).toEqual(expected.sort());
	});

	it("computes exact percentiles per group, as percentile_cont", async () => {
		const rows = await run(
			client,
			prepare(
				"SELECT service, p50(duration_ms), p95(duration_ms), p99(duration_ms), percentile(duration_ms, 99.9), percentile(duration_ms, 0), percentile(duration_ms, 100), avg(duration_ms) FROM spans GROUP BY service",
			),
		);
		const groups = groupBy(mine(), (s) => s.service);
		expect(rows).toHaveLength(groups.size);
		for (const row of rows) {
			const values = (groups.get(row[0] as string | null) ?? []).map((s) => s.durationMs);
			const expected = [50, 95, 99, 99.9, 0, 100].map((p) => percentileCont(values, p) as number);
			for (const [i, value] of expected.entries()) expect(row[i + 1] as number).toBeCloseTo(value, 6);
			expect(row[7] as number).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 6);
		}
	});

	it("computes a percentile over the whole range without GROUP BY", async () => {
		const [row] = await run(
			client,
			prepare("SELECT p90(duration_ms) AS p FROM spans WHERE status = 'error'"),
		);
		const values = mine()
			.filter((s) => s.status === 2)
			.map((s) => s.durationMs);
		expect(row?.[0] as number).toBeCloseTo(percentileCont(values, 90) as number, 6);
	});

	it("counts distinct attribute values and finds the latest value", async () => {
		const rows = await run(
			client,
			prepare(
				"SELECT count_distinct(attributes['http.route']), latest(name), max(timestamp) FROM spans GROUP BY service",
			),
		);
		for (const row of rows) {
			const group = mine().filter((s) => s.service === row[0]);
			const newest = group.reduce((a, b) => (b.ns > a.ns ? b : a));
			expect(row.slice(1, 3)).toEqual([new Set(group.map((s) => s.route)).size, newest.name]);
			expect(row[3] as number).toBeCloseTo(Number(newest.ns) / 1e6, 0);
		}
	});

	it("buckets TIMESERIES in 5m steps (the executor fills the empty ones)", async () => {
		const compiled = prepare("SELECT count(*), rate(count(*), 1m) FROM spans TIMESERIES 5m");
		const rows = await run(client, compiled);
		const expected = [...groupBy(mine(), (s) => String(Math.floor(s.ms / 300_000) * 300_000))]
			.map(([bucket, v]) => [Number(bucket), v.length, v.length / 5])
			.sort((a, b) => (a[0] as number) - (b[0] as number));
		expect(rows).toEqual(expected);
		expect(rows[0]?.[0]).toBeGreaterThanOrEqual(compiled.timeseries?.firstBucketMs ?? 0);
		expect(rows.at(-1)?.[0]).toBeLessThanOrEqual(compiled.timeseries?.lastBucketMs ?? 0);
	});

	it("keeps the top series by row count, plus one to tell the executor there were more", async () => {
		const rows = await run(
			client,
			prepare("SELECT p50(duration_ms) FROM spans GROUP BY service TIMESERIES 30m LIMIT 2"),
		);
		const ranking = [...groupBy(mine(), (s) => s.service)]
			.sort((a, b) => b[1].length - a[1].length || String(a[0]).localeCompare(String(b[0])))
			.map(([service]) => service);
		const seen = [...new Set(rows.map((row) => `${row[3]}:${row[1]}`))];
		expect(seen).toEqual(ranking.slice(0, 3).map((service, i) => `${i + 1}:${service}`));
		for (const row of rows) {
			const values = mine()
				.filter((s) => s.service === row[1] && Math.floor(s.ms / 1_800_000) * 1_800_000 === row[0])
				.map((s) => s.durationMs);
			expect(row[2] as number).toBeCloseTo(percentileCont(values, 50) as number, 6);
		}
	});

	it("ranks series by ORDER BY when given", async () => {
		const rows = await run(
			client,
			prepare(
				"SELECT count(*) FROM spans GROUP BY service ORDER BY avg(duration_ms) DESC TIMESERIES 30m LIMIT 1",
			),
		);
		const ranking = [...groupBy(mine(), (s) => s.service)]
			.map(([service, v]) => [service, v.reduce((a, s) => a + s.durationMs, 0) / v.length] as const)
			.sort((a, b) => b[1] - a[1])
			.map(([service]) => service);
		expect([...new Set(rows.map((row) => row[1]))]).toEqual(ranking.slice(0, 2));
	});

	it.each([
		["attributes['http.route'] LIKE '/SEARCH%'", (s: Span) => s.route === "/Search"],
		["attributes['http.route'] CONTAINS 'Sea'", (s: Span) => s.route === "/Search"],
		["attributes['http.route'] CONTAINS 'sea'", () => false],
		["attributes['http.route'] MATCHES '^/(users|orders)'", (s: Span) => /^\/(users|orders)/.test(s.route)],
		["attributes['http.status_code'] >= 500", (s: Span) => s.code >= 500],
		["attributes['http.status_code'] IN (404, 500)", (s: Span) => s.code !== 200],
		["service NOT IN ('api', 'web')", (s: Span) => s.service === "worker"],
		["service IS NULL", (s: Span) => s.service === null],
		["NOT (status = 'ok' OR duration_ms < 1000)", (s: Span) => s.status !== 1 && s.durationMs >= 1000],
		["duration_ms * 2 > 4000 AND kind = 'server'", (s: Span) => s.durationMs * 2 > 4000],
		[`timestamp >= '${new Date(NOW - 30 * 60_000).toISOString()}'`, (s: Span) => s.ms >= NOW - 30 * 60_000],
		["attributes['missing'] IS NULL AND resource['service.name'] = 'api'", (s: Span) => s.service === "api"],
	])("filters WHERE %s", async (condition, keep) => {
		const [row] = await run(client, prepare(`SELECT count(*) FROM spans WHERE ${condition}`));
		expect(row?.[0]).toBe(mine().filter(keep).length);
	});

	it("returns rows newest first with one more than the limit", async () => {
		const rows = await run(client, prepare("SELECT timestamp, duration_ms, status FROM spans LIMIT 5"));
		const newest = mine()
			.sort((a, b) => (b.ns > a.ns ? 1 : -1))
			.slice(0, 6);
		expect(rows).toHaveLength(6);
		rows.forEach((row, i) => {
			const span = newest[i] as Span;
			expect(row[0] as number).toBeCloseTo(Number(span.ns) / 1e6, 0);
			expect(row[1] as number).toBeCloseTo(span.durationMs, 6);
			expect(row[2]).toBe(STATUS[span.status]);
		});
	});

	it("runs the seed example over logs", async () => {
		const levels = ["info", "error", "error", "warn", null, "error"];
		await insert(
			client,
			"logs",
			levels.map((level, i) => ({
				org_id: i === 5 ? OTHER : ORG,
				timestamp: BigInt(NOW - 1000 - i) * 1_000_000n,
				level,
				severity_number: level === "error" ? 17 : 9,
				body: `m${i}`,
				attributes: "{}",
				resource_attributes: "{}",
			})),
		);
		expect(await run(client, prepare("SELECT count(*) FROM logs WHERE level = 'error' LAST 1h"))).toEqual([
			[2],
		]);
		expect(
			await run(client, prepare("SELECT level, count(*) FROM logs GROUP BY level ORDER BY level")),
		).toEqual([
			["error", 2],
			["info", 1],
			["warn", 1],
			[null, 1],
		]);
	});

	it("reads metric points and heartbeat pings with their monitor", async () => {
		await insert(client, "metric_points", [
			{ org_id: ORG, timestamp: BigInt(NOW - 5000) * 1_000_000n, metric_name: "cpu", value: 0.5, unit: "1" },
			{ org_id: ORG, timestamp: BigInt(NOW - 4000) * 1_000_000n, metric_name: "cpu", value: 0.7, unit: "1" },
			{
				org_id: OTHER,
				timestamp: BigInt(NOW - 4000) * 1_000_000n,
				metric_name: "cpu",
				value: 100,
				unit: "1",
			},
		]);
		expect(
			await run(client, prepare("SELECT name, avg(value), latest(value) FROM metrics GROUP BY name")),
		).toEqual([["cpu", 0.6, 0.7]]);
		await insert(client, "monitors", [
			{ id: "m1", slug: "backup" },
			{ id: "m2", slug: "report" },
		]);
		await insert(client, "monitor_pings", [
			{ org_id: ORG, monitor_id: "m1", at: NOW - 60_000, kind: "success", duration_ms: 1200 },
			{ org_id: ORG, monitor_id: "m1", at: NOW - 30_000, kind: "fail", exit_code: 2 },
			{ org_id: ORG, monitor_id: "m2", at: NOW - 20_000, kind: "success" },
		]);
		expect(
			await run(
				client,
				prepare("SELECT monitor, count(*), max(exit_code) FROM heartbeats GROUP BY monitor ORDER BY monitor"),
			),
		).toEqual([
			["backup", 2, 2],
			["report", 1, null],
		]);
	});
});

// ---- annotations: the real migrated database ----

describe("annotations end to end (migrated database)", () => {
	let t: TestDatabase;

	beforeEach(async () => {
		t = await openTestDatabase();
		for (const org of [ORG, OTHER]) {
			await t.client.execute({
				sql: "INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)",
				args: [org, org, NOW],
			});
		}
		const rows: [string, string, number, string | null, string, string | null][] = [
			[ORG, "Deploy api v1", NOW - 50 * 60_000, "api", '["deploy","api"]', "prod"],
			[ORG, "Deploy web", NOW - 40 * 60_000, "web", '["deploy"]', "prod"],
			[ORG, "Incident: it's down", NOW - 30 * 60_000, "api", '["incident"]', null],
			[ORG, "deploy api v2", NOW - 10 * 60_000, "api", '["deploy","api"]', "staging"],
			[ORG, "Old deploy", NOW - 3 * HOUR, "api", '["deploy"]', "prod"],
			[OTHER, "Deploy api (other org)", NOW - 20 * 60_000, "api", '["deploy"]', "prod"],
		];
		let i = 0;
		for (const [org, title, time, service, tags, environment] of rows) {
			await t.client.execute({
				sql: `INSERT INTO annotations (id, org_id, title, tags, time, service, environment, created_at, updated_at, created_by_type, created_by_id, created_by_name)
				      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'api_key', 'k1', 'ci')`,
				args: [`an_${i++}`, org, title, tags, time, service, environment, NOW, NOW],
			});
		}
	});
	afterEach(() => t.close());

	it("counts this org's annotations in the default range (last hour)", async () => {
		expect(await run(t.client, prepare("SELECT count(*) FROM annotations"))).toEqual([[4]]);
		expect(await run(t.client, prepare("SELECT count(*) FROM annotations", OTHER))).toEqual([[1]]);
		expect(await run(t.client, prepare("SELECT count(*) FROM annotations LAST 1d"))).toEqual([[5]]);
	});

	it("selects rows with times in epoch milliseconds, LIKE case-insensitive", async () => {
		const rows = await run(
			t.client,
			prepare(
				"SELECT title, timestamp, author FROM annotations WHERE title LIKE 'deploy%' ORDER BY timestamp",
			),
		);
		expect(rows).toEqual([
			["Deploy api v1", NOW - 50 * 60_000, "ci"],
			["Deploy web", NOW - 40 * 60_000, "ci"],
			["deploy api v2", NOW - 10 * 60_000, "ci"],
		]);
	});

	it("groups, orders by the aggregate and filters on tags", async () => {
		const rows = await run(
			t.client,
			prepare(
				"SELECT service, count(*) AS n, min(timestamp) AS first FROM annotations WHERE tags CONTAINS '\"deploy\"' GROUP BY service ORDER BY n DESC LAST 1d",
			),
		);
		expect(rows).toEqual([
			["api", 3, NOW - 3 * HOUR],
			["web", 1, NOW - 40 * 60_000],
		]);
	});

	it("plots a TIMESERIES per environment, series ranked by count, ties by key (NULL last)", async () => {
		const compiled = prepare("SELECT count(*) FROM annotations GROUP BY environment TIMESERIES 30m");
		const rows = await run(t.client, compiled);
		const bucket = (ms: number) => Math.floor(ms / 1_800_000) * 1_800_000;
		expect(rows).toEqual([
			[bucket(NOW - 50 * 60_000), "prod", 2, 1],
			[bucket(NOW - 10 * 60_000), "staging", 1, 2],
			[bucket(NOW - 30 * 60_000), null, 1, 3],
		]);
	});

	it("finds quotes in strings without breaking out of them", async () => {
		const rows = await run(t.client, prepare("SELECT title FROM annotations WHERE title CONTAINS 'it''s'"));
		expect(rows).toEqual([["Incident: it's down"]]);
		expect(
			await run(t.client, prepare("SELECT title FROM annotations WHERE title = ''' OR 1=1 --'")),
		).toEqual([]);
	});

	it("uses the (org_id, time) index", async () => {
		const compiled = prepare("SELECT count(*) FROM annotations WHERE title LIKE '%deploy%'");
		const plan = await t.client.execute({
			sql: `EXPLAIN QUERY PLAN ${compiled.sql}`,
			args: compiled.params as InValue[],
		});
		const details = plan.rows.map((row) => String(row.detail)).join("\n");
		expect(details).toMatch(/annotations_org_(time|service_time|environment_time)_idx/);
		expect(details).not.toMatch(/SCAN "?t"?\b(?! USING)/);
	});
});
