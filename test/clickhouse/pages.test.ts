/**
 * Page differentials: the OQL golden data set (and one hand-made trace with events, links, logs,
 * nesting and a span whose parent is missing) in embedded libSQL and in ClickHouse, every built-in
 * page read from both — libSQL through its default backend (rollups, one read batch), ClickHouse
 * through `clickHousePageBackend` (its rollups, kept by materialized views, and raw rows at the
 * edges; bound parameters) — and the answers compared.
 *
 * One data load; each case reads a page from both stores and compares. Exact everywhere (counts,
 * times, orders, cursors' positions, the overview's p95: both engines bucket durations alike),
 * after the documented representation differences (docs/scale-out.md, "The pages on ClickHouse"):
 * - row ids are the store's own (libSQL's rowid, ClickHouse's content hash): a log's `id` and the
 *   id half of a cursor are left out; each store's next page is read with its own cursor;
 * - attribute values are text in ClickHouse: attribute and resource maps are compared as text.
 */
import type { InValue } from "@libsql/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertTelemetry, type TelemetryTable } from "../../src/clickhouse/rows.js";
import { sweepTelemetryRetention } from "../../src/ingest/retention.js";
import { rebuildRollups } from "../../src/ingest/rollup-rebuild.js";
import { clickHousePageBackend } from "../../src/pages/backend.js";
import { hostDetail, hostsPage } from "../../src/pages/hosts.js";
import { type LogFilters, logsPage } from "../../src/pages/logs.js";
import { overview } from "../../src/pages/overview.js";
import { schemaPage } from "../../src/pages/schema.js";
import { type PageReader, pageReader } from "../../src/pages/store.js";
import { type TraceFilters, traceDetail, tracesPage } from "../../src/pages/traces.js";
import type { PageWindow } from "../../src/pages/window.js";
import { GOLDEN_END, GOLDEN_START, goldenSpecA, goldenSpecB } from "../support/oql-golden-queries.js";
import { comparablePage } from "../support/page-compare.js";
import { type BothStores, loadBothStores, TEST_RETENTION_DAYS } from "./support.js";

type HostsPage = Awaited<ReturnType<typeof hostsPage>>;

const ORG_A = "org_pages_a";
const ORG_B = "org_pages_b";
/** The hand-made trace's org. */
const ORG_C = "org_pages_c";
const HOUR = 3_600_000;

let stores: BothStores;
let readers: { lite: (org: string) => PageReader; ch: (org: string) => PageReader };

// ---------------------------------------------------------------------------------------------
// A hand-made trace: a root, nested children, a span with events (one time past 2^53 ns as
// ingest writes it), a span with links, a span whose parent never arrived, and two logs.

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const T0 = BigInt(GOLDEN_END - HOUR) * 1_000_000n + 123_456n;
const ms = (n: number) => BigInt(n) * 1_000_000n;

function handMadeSpans(): Record<string, InValue>[] {
	const span = (
		spanId: string,
		parent: string | null,
		name: string,
		startMs: number,
		durationMs: number,
		extra: Record<string, InValue> = {},
	): Record<string, InValue> => ({
		org_id: ORG_C,
		timestamp: T0 + ms(startMs),
		duration_ns: ms(durationMs) + 17n,
		trace_id: TRACE,
		span_id: spanId,
		parent_span_id: parent,
		name,
		kind: parent === null ? "server" : "internal",
		status_code: "unset",
		status_message: null,
		service: parent === null ? "frontend" : "backend",
		host: "web-1",
		scope_name: "tracer",
		scope_version: "1.2.3",
		resource_attributes: JSON.stringify({ "service.name": parent === null ? "frontend" : "backend" }),
		attributes: JSON.stringify({ "http.status_code": 200, big: 9007199254740993n.toString(), ok: true }),
		events: null,
		links: null,
		...extra,
	});
	const eventTime = (offsetMs: number) => (T0 + ms(offsetMs)).toString();
	return [
		span("a000000000000001", null, "GET /checkout", 0, 250),
		span("a000000000000002", "a000000000000001", "load cart", 10, 40, {
			events: `[{"timestamp":${eventTime(12)},"name":"cache miss","attributes":{"key":"cart:7","size":9007199254740993}},{"timestamp":${eventTime(30)},"name":"retry","attributes":{}}]`,
		}),
		span("a000000000000003", "a000000000000002", "SELECT carts", 15, 20, {
			status_code: "error",
			status_message: "deadlock",
			service: null,
		}),
		span("a000000000000004", "a000000000000001", "charge", 60, 150, {
			links: JSON.stringify([{ trace_id: "1".repeat(32), span_id: "2".repeat(16), attributes: { n: 1 } }]),
		}),
		span("a000000000000005", "ffffffffffffffff", "orphan", 70, 5),
	];
}

function handMadeLogs(): Record<string, InValue>[] {
	const log = (offsetMs: number, level: string, body: string, spanId: string) => ({
		org_id: ORG_C,
		timestamp: T0 + ms(offsetMs),
		observed_timestamp: T0 + ms(offsetMs) + 999n,
		severity_number: level === "error" ? 17 : 9,
		severity_text: level.toUpperCase(),
		level,
		body,
		trace_id: TRACE,
		span_id: spanId,
		event_name: "checkout.step",
		service: "backend",
		host: "web-1",
		scope_name: "logger",
		resource_attributes: JSON.stringify({ "service.name": "backend" }),
		attributes: JSON.stringify({ step: offsetMs, "100%": "50_50\\" }),
	});
	return [
		log(16, "error", "deadlock on carts (100% busy)", "a000000000000003"),
		log(61, "info", "charging card", "a000000000000004"),
	];
}

/**
 * `n` spans and as many logs of `org` from `startNs` on, a second apart (so over several minutes),
 * on a few hosts, services, operations, levels and statuses, with durations over many buckets.
 */
function someRows(org: string, startNs: bigint, n: number, tag: string) {
	const spans: Record<string, InValue>[] = [];
	const logs: Record<string, InValue>[] = [];
	for (let i = 0; i < n; i++) {
		const timestamp = startNs + BigInt(i) * 1_000_000_000n + BigInt(i * 7919);
		spans.push({
			org_id: org,
			timestamp,
			duration_ns: BigInt(1 + ((i * 104_729) % 900_000_000)),
			trace_id: `${tag}${i}`.padStart(32, "0"),
			span_id: `${i}`.padStart(16, "0"),
			parent_span_id: i % 3 === 0 ? null : "ffffffffffffffff",
			name: `op ${i % 4}`,
			kind: i % 2 === 0 ? "server" : "internal",
			status_code: i % 5 === 0 ? "error" : "ok",
			service: i % 7 === 0 ? null : `svc-${i % 3}`,
			host: `host-${i % 4}`,
			resource_attributes: "{}",
			attributes: "{}",
		});
		logs.push({
			org_id: org,
			timestamp,
			observed_timestamp: timestamp,
			level: ["info", "warn", "error"][i % 3] as string,
			body: `${tag} ${i}`,
			service: `svc-${i % 3}`,
			host: i % 6 === 0 ? null : `host-${i % 4}`,
			resource_attributes: "{}",
			attributes: "{}",
		});
	}
	return { spans, logs };
}

/** Rows into both stores: libSQL's rollups rebuilt for the org (ingest's job), ClickHouse's by its views. */
async function ingestBoth(
	org: string,
	rows: { spans: Record<string, InValue>[]; logs: Record<string, InValue>[] },
	retentionDays = TEST_RETENTION_DAYS,
): Promise<void> {
	await insertBoth("spans", rows.spans, retentionDays);
	await insertBoth("logs", rows.logs, retentionDays);
	await rebuildRollups(stores.libsql.client, org);
}

async function addOrg(org: string, retentionDays: number): Promise<void> {
	await stores.libsql.client.execute({
		sql: "INSERT INTO orgs (id, name, created_at, retention_days) VALUES (?, ?, ?, ?)",
		args: [org, org, GOLDEN_END, retentionDays],
	});
}

async function chCount(sql: string, params: Record<string, unknown>): Promise<number> {
	const result = await stores.clickhouse.client.query({
		query: sql,
		query_params: params,
		format: "JSONEachRow",
	});
	return Number((await result.json<{ n: string | number }>())[0]?.n);
}

async function insertBoth(
	table: TelemetryTable,
	rows: Record<string, InValue>[],
	retentionDays = TEST_RETENTION_DAYS,
): Promise<void> {
	const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
	for (let at = 0; at < rows.length; at += 500) {
		const chunk = rows.slice(at, at + 500);
		await stores.libsql.client.execute({
			sql: `INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(", ")}) VALUES ${chunk
				.map(() => `(${columns.map(() => "?").join(", ")})`)
				.join(", ")}`,
			args: chunk.flatMap((row) => columns.map((c) => row[c] ?? null)),
		});
	}
	await insertTelemetry(stores.clickhouse.client, table, rows, { retentionDays });
}

beforeAll(async () => {
	stores = await loadBothStores([goldenSpecA(ORG_A), goldenSpecB(ORG_B)], GOLDEN_END);
	await stores.libsql.client.execute({
		sql: "INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)",
		args: [ORG_C, ORG_C, GOLDEN_END],
	});
	await insertBoth("spans", handMadeSpans());
	await insertBoth("logs", handMadeLogs());
	await rebuildRollups(stores.libsql.client, ORG_C);
	const deps = { db: stores.libsql.db, reads: stores.deps.reads, config: stores.deps.config };
	const backend = clickHousePageBackend(stores.clickhouse.client, deps);
	readers = {
		lite: (org) => pageReader(deps, org),
		ch: (org) => pageReader(deps, org, backend),
	};
}, 120_000);
afterAll(() => stores.close());

// ---------------------------------------------------------------------------------------------
// Comparing

async function expectSame<T>(
	label: string,
	read: (reader: PageReader) => Promise<T>,
	org = ORG_A,
): Promise<{ lite: T; ch: T }> {
	const [lite, ch] = [await read(readers.lite(org)), await read(readers.ch(org))];
	expect(comparablePage(ch), label).toEqual(comparablePage(lite));
	return { lite, ch };
}

const window = (fromMs: number, toMs: number): PageWindow => ({ fromMs, toMs });
/** Unaligned edges: both stores read hours, minutes (their rollups) and raw rows. */
const WINDOWS: Record<string, PageWindow> = {
	"1 h, unaligned": window(GOLDEN_END - HOUR - 7_777, GOLDEN_END - 7_777),
	"24 h": window(GOLDEN_END - 24 * HOUR, GOLDEN_END),
	"5 h, hours + minutes + raw edges": window(GOLDEN_START + 90_123, GOLDEN_END - 61_001),
	"a minute with nothing": window(GOLDEN_END + HOUR, GOLDEN_END + HOUR + 60_000),
};

// ---------------------------------------------------------------------------------------------

describe("the pages over libSQL and ClickHouse", () => {
	it.each(Object.entries(WINDOWS))("overview, %s", async (label, w) => {
		for (const org of [ORG_A, ORG_B]) {
			const { lite } = await expectSame(`overview ${label} ${org}`, (r) => overview(r, org, w), org);
			if (!label.includes("nothing")) {
				expect(lite.logs.count).toBeGreaterThan(0);
				expect(lite.slowest_operations.length).toBeGreaterThan(0);
			}
		}
	});

	it.each(Object.entries(WINDOWS))("hosts, every page of 4, %s", async (label, w) => {
		let after: string | null = null;
		let hosts = 0;
		for (let page = 0; page < 20; page++) {
			const from: string | null = after;
			const lite: HostsPage = (
				await expectSame(`hosts ${label} after ${from}`, (r) =>
					hostsPage(r, ORG_A, w, { limit: 4, after: from }),
				)
			).lite;
			hosts += lite.rows.length;
			after = lite.next;
			if (after === null) break;
		}
		if (!label.includes("nothing")) expect(hosts).toBeGreaterThan(8);
	});

	it("host detail: a busy host, a host of the hand-made trace, an unknown host", async () => {
		const w = WINDOWS["5 h, hours + minutes + raw edges"] as PageWindow;
		const busy = await expectSame("api-01", (r) => hostDetail(r, ORG_A, w, "api-01"));
		expect(busy.lite?.recent_errors.length).toBeGreaterThan(0);
		const c = await expectSame(
			"web-1",
			(r) => hostDetail(r, ORG_C, WINDOWS["24 h"] as PageWindow, "web-1"),
			ORG_C,
		);
		expect(c.lite?.by_service.map((s) => s.service)).toEqual(["backend", "frontend", null]);
		const none = await expectSame("nope", (r) => hostDetail(r, ORG_A, w, "nope"));
		expect(none.lite).toBeNull();
	});

	const LOG_FILTERS: Record<string, LogFilters> = {
		"no filter": {},
		"error and fatal": { levels: ["error", "fatal"] },
		"one service": { service: "checkout" },
		"one host": { host: "api-02" },
		"text, any case (ASCII)": { q: "TimeOut" },
		"text with LIKE's characters": { q: "card_error" },
		"all together": { levels: ["warn", "error"], service: "api", q: "ms" },
		"nothing matches": { service: "nope" },
	};

	it.each(Object.entries(LOG_FILTERS))("logs, three pages of 40, %s", async (label, filters) => {
		const w = WINDOWS["5 h, hours + minutes + raw edges"] as PageWindow;
		let after = { lite: null as [string, number] | null, ch: null as [string, number] | null };
		for (let page = 0; page < 3; page++) {
			const [lite, ch] = [
				await logsPage(readers.lite(ORG_A), ORG_A, w, filters, { limit: 40, after: after.lite }),
				await logsPage(readers.ch(ORG_A), ORG_A, w, filters, { limit: 40, after: after.ch }),
			];
			expect(comparablePage({ ...ch, next: ch.next?.[0] }), `${label} page ${page}`).toEqual(
				comparablePage({ ...lite, next: lite.next?.[0] }),
			);
			if (page === 0 && label !== "nothing matches") expect(lite.rows.length).toBeGreaterThan(0);
			if (!lite.next || !ch.next) break;
			after = { lite: lite.next, ch: ch.next };
		}
	});

	it("logs of the hand-made trace's org: body, event name, observed time, attributes", async () => {
		const { lite } = await expectSame(
			"org C logs",
			(r) => logsPage(r, ORG_C, WINDOWS["24 h"] as PageWindow, { q: "100%" }, { limit: 10, after: null }),
			ORG_C,
		);
		expect(lite.rows.map((row) => row.body)).toEqual(["deadlock on carts (100% busy)"]);
	});

	const TRACE_FILTERS: Record<string, TraceFilters> = {
		"no filter": {},
		"one service": { service: "api" },
		"at least 100 ms": { minDurationMs: 100 },
		"with an error": { status: "error" },
		"without an error": { status: "ok" },
		"all together": { service: "checkout", minDurationMs: 20, status: "ok" },
	};

	it.each(Object.entries(TRACE_FILTERS))("traces, three pages of 25, %s", async (label, filters) => {
		const w = WINDOWS["1 h, unaligned"] as PageWindow;
		let after = { lite: null as [string, number] | null, ch: null as [string, number] | null };
		for (let page = 0; page < 3; page++) {
			const [lite, ch] = [
				await tracesPage(readers.lite(ORG_A), ORG_A, w, filters, { limit: 25, after: after.lite }),
				await tracesPage(readers.ch(ORG_A), ORG_A, w, filters, { limit: 25, after: after.ch }),
			];
			expect(comparablePage({ ...ch, next: ch.next?.[0] }), `${label} page ${page}`).toEqual(
				comparablePage({ ...lite, next: lite.next?.[0] }),
			);
			if (page === 0) expect(lite.rows.length).toBeGreaterThan(0);
			if (!lite.next || !ch.next) break;
			after = { lite: lite.next, ch: ch.next };
		}
	});

	it("the hand-made trace in the list: span count, errors, services", async () => {
		const { lite } = await expectSame(
			"org C traces",
			(r) => tracesPage(r, ORG_C, WINDOWS["24 h"] as PageWindow, {}, { limit: 10, after: null }),
			ORG_C,
		);
		expect(lite.rows.map((t) => [t.trace_id, t.span_count, t.error_count, t.services])).toEqual([
			[TRACE, 5, 1, ["backend", "frontend"]],
		]);
	});

	it.each(["full", "summary"] as const)(
		"trace detail (%s): the hand-made trace and a data set's",
		async (view) => {
			const c = await expectSame(`hand-made ${view}`, (r) => traceDetail(r, ORG_C, TRACE, view), ORG_C);
			expect(c.lite?.spans.map((s) => [s.span_id, s.depth, s.missing_parent])).toEqual([
				["a000000000000001", 0, false],
				["a000000000000002", 1, false],
				["a000000000000003", 2, false],
				["a000000000000004", 1, false],
				["a000000000000005", 0, true],
			]);
			expect(c.lite?.logs).toHaveLength(2);
			if (view === "full") {
				const events = c.lite?.spans[1]?.events ?? [];
				expect(events.map((e) => [e.name, e.attributes])).toEqual([
					["cache miss", { key: "cart:7", size: "9007199254740993" }],
					["retry", {}],
				]);
				expect(c.lite?.spans[3]?.links).toHaveLength(1);
			}
			const listed = await tracesPage(
				readers.lite(ORG_A),
				ORG_A,
				WINDOWS["1 h, unaligned"] as PageWindow,
				{},
				{
					limit: 1,
					after: null,
				},
			);
			const traceId = listed.rows[0]?.trace_id as string;
			const a = await expectSame(`data set ${view}`, (r) => traceDetail(r, ORG_A, traceId, view));
			expect(a.lite?.span_count).toBe(1);
			const none = await expectSame(`unknown ${view}`, (r) => traceDetail(r, ORG_A, TRACE, view));
			expect(none.lite).toBeNull();
		},
	);

	it("ClickHouse's rollups hold every raw row (materialized views at insert)", async () => {
		for (const [raw, rollup] of [
			["spans", "span_rollups"],
			["spans", "span_latency"],
			["logs", "log_rollups"],
			["metric_points", "metric_rollups"],
		] as const) {
			const rows = await chCount(`SELECT count() AS n FROM ${raw} WHERE org_id = {org:String}`, {
				org: ORG_A,
			});
			expect(rows, raw).toBeGreaterThan(0);
			for (const level of ["1m", "1h"]) {
				const table = `${rollup}_${level}`;
				const where = "WHERE org_id = {org:String}";
				expect(await chCount(`SELECT sum(count) AS n FROM ${table} ${where}`, { org: ORG_A }), table).toBe(
					rows,
				);
				// An hour's buckets are fewer than its rows: the pages read buckets, not rows.
				const buckets = await chCount(`SELECT count() AS n FROM ${table} ${where}`, { org: ORG_A });
				if (level === "1h") expect(buckets, table).toBeLessThan(rows);
				else expect(buckets, table).toBeLessThanOrEqual(rows);
			}
		}
		// Each latency histogram counts its rows' spans.
		for (const table of ["span_latency_1m", "span_latency_1h"]) {
			const sql = `SELECT countIf(arraySum(mapValues(hist)) != count) AS n FROM ${table} WHERE org_id = {org:String}`;
			expect(await chCount(sql, { org: ORG_A }), table).toBe(0);
		}
		// Both span rollups add up to the raw durations.
		const durations = await chCount("SELECT sum(duration_ns) AS n FROM spans WHERE org_id = {org:String}", {
			org: ORG_A,
		});
		for (const table of ["span_rollups_1m", "span_rollups_1h", "span_latency_1m", "span_latency_1h"]) {
			const sql = `SELECT sum(duration_sum_ns) AS n FROM ${table} WHERE org_id = {org:String}`;
			expect(await chCount(sql, { org: ORG_A }), table).toBe(durations);
		}
	});

	it("rows stored after a read are in the next read (the views keep the rollups at insert)", async () => {
		const org = "org_pages_later";
		await addOrg(org, TEST_RETENTION_DAYS);
		const start = BigInt(GOLDEN_START + 2 * HOUR - 150_000) * 1_000_000n;
		const windows = [WINDOWS["24 h"], WINDOWS["5 h, hours + minutes + raw edges"]] as PageWindow[];
		const read = async (label: string) => {
			const spans: number[] = [];
			for (const w of windows) {
				const { lite } = await expectSame(`overview ${label}`, (r) => overview(r, org, w), org);
				await expectSame(`hosts ${label}`, (r) => hostsPage(r, org, w, { limit: 3, after: null }), org);
				await expectSame(`host ${label}`, (r) => hostDetail(r, org, w, "host-1"), org);
				spans.push(lite.spans.count);
			}
			return spans;
		};
		await ingestBoth(org, someRows(org, start, 300, "a"));
		expect(await read("first")).toEqual([300, 300]);
		// Into the same minutes and hours as the first rows, and on into the next hour.
		await ingestBoth(org, someRows(org, start + 60_000_000_000n, 4_000, "b"));
		expect(await read("after more rows")).toEqual([4_300, 4_300]);
	});

	it("rows and rollups past the org's retention are gone alike (TTL on ClickHouse, the sweep on libSQL)", async () => {
		const org = "org_pages_retention";
		await addOrg(org, 1);
		const now = Date.now();
		const old = someRows(org, BigInt(now - 3 * 24 * HOUR) * 1_000_000n, 200, "old");
		const fresh = someRows(org, BigInt(now - 2 * HOUR) * 1_000_000n, 100, "new");
		await ingestBoth(org, { spans: [...old.spans, ...fresh.spans], logs: [...old.logs, ...fresh.logs] }, 1);
		// The other orgs' rows were written to ClickHouse with TEST_RETENTION_DAYS: libSQL's sweep
		// (every org's) must keep theirs too.
		await stores.libsql.client.execute({
			sql: "UPDATE orgs SET retention_days = ? WHERE id != ?",
			args: [TEST_RETENTION_DAYS, org],
		});
		await sweepTelemetryRetention(stores.libsql.db, now);
		// TTL is applied as parts merge; OPTIMIZE … FINAL merges now.
		const tables = ["spans", "logs", "span_rollups", "span_latency", "log_rollups"].flatMap((t) =>
			t.includes("_") ? [`${t}_1m`, `${t}_1h`] : [t],
		);
		for (const table of tables)
			await stores.clickhouse.client.command({ query: `OPTIMIZE TABLE ${table} FINAL` });
		const cutoffMs = now - 24 * HOUR;
		for (const table of tables.filter((t) => t.includes("_"))) {
			const n = await chCount(
				`SELECT count() AS n FROM ${table} WHERE org_id = {org:String} AND bucket < {cutoff:Int64}`,
				{
					org,
					cutoff: cutoffMs - HOUR,
				},
			);
			expect(n, table).toBe(0);
		}
		const w = window(now - 4 * 24 * HOUR - 7_777, now);
		const { lite } = await expectSame("overview", (r) => overview(r, org, w), org);
		expect(lite.spans.count).toBe(100);
		expect(lite.logs.count).toBe(100);
		await expectSame("hosts", (r) => hostsPage(r, org, w, { limit: 10, after: null }), org);
	});

	it("schema: fields, values, last seen, attribute keys, metric names", async () => {
		for (const org of [ORG_A, ORG_C]) {
			const { lite } = await expectSame(
				`schema ${org}`,
				(r) => schemaPage(r, org, ["logs", "spans", "metrics"]),
				org,
			);
			expect(lite[0]?.last_seen).not.toBeNull();
		}
	});
});
