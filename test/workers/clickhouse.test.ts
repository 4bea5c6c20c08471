/**
 * OQL over ClickHouse inside workerd: the official `@clickhouse/client-web` (as a Worker would use
 * it) reaching the real engine (chdb behind the HTTP stand-in, test/support/edge-clickhouse.ts),
 * the golden data set inserted through it, and the golden queries over telemetry answered as the
 * libSQL golden table says (test/support/oql-golden.ts). Included only when the engine is installed
 * (vitest.config.ts; `npm run clickhouse:install`). Then the Worker built with TELEMETRY_URL: an
 * OTLP export stored in ClickHouse and queried through /api/v1/dsl, and the built-in pages read
 * from ClickHouse compared with the same pages of the same data in libSQL.
 */
import { env } from "cloudflare:workers";
import { createClient } from "@clickhouse/client-web";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { logRows, metricRows, spanRows } from "../../bench/oql-data.js";
import { createApp } from "../../src/app.js";
import { runOqlOnClickHouse } from "../../src/clickhouse/oql.js";
import { attributeMap, insertTelemetry } from "../../src/clickhouse/rows.js";
import type { AppConfig } from "../../src/config.js";
import { ApiError } from "../../src/errors.js";
import { PERCENTILE_RELATIVE_ERROR } from "../../src/ingest/rollups.js";
import { buildWorkerDeps, type WorkerEnv } from "../../src/runtime/worker.js";
import { GOLDEN, ROLLUP_SOURCES } from "../support/oql-golden.js";
import { GOLDEN_END, GOLDEN_QUERIES, goldenSpecA, goldenSpecB } from "../support/oql-golden-queries.js";
import { comparablePage } from "../support/page-compare.js";
import { db, expectOk, ORIGIN, orgWithKey, tokenForNewUser, workerFetch } from "./support.js";

const client = createClient({ url: env.CLICKHOUSE_URL });
// One ClickHouse serves every run of this file in a vitest process: orgs of this run's own.
const RUN = crypto.randomUUID().slice(0, 8);
const ORG_A = `org_ch_workers_a_${RUN}`;
const ORG_B = `org_ch_workers_b_${RUN}`;
const deps = {
	clock: { now: () => GOLDEN_END },
	config: { oql: { maxRangeDays: 31, timeoutMs: 30_000 } } as AppConfig,
};

beforeAll(async () => {
	for (const spec of [goldenSpecA(ORG_A), goldenSpecB(ORG_B)]) {
		const options = { retentionDays: 3_650 };
		await insertTelemetry(client, "logs", logRows(spec), options);
		await insertTelemetry(client, "spans", spanRows(spec), options);
		await insertTelemetry(client, "metric_points", metricRows(spec), options);
	}
});

/** Attribute values as text (ClickHouse keeps them so: docs/scale-out.md). */
function normal(rows: unknown[][], columns: { type: string }[]): unknown[][] {
	return rows.map((row) =>
		row.map((cell, i) => {
			const type = columns[i]?.type;
			if (cell !== null && type === "json" && typeof cell === "object") return attributeMap(cell);
			if (type === "any" && typeof cell === "number") return String(cell);
			return cell;
		}),
	);
}

/** `actual` with each number within `relative` of the expected one replaced by it. */
function within(actual: unknown, expected: unknown, relative: number): unknown {
	if (typeof actual === "number" && typeof expected === "number") {
		return Math.abs(actual - expected) <= relative * Math.max(1, Math.abs(expected)) ? expected : actual;
	}
	if (Array.isArray(actual) && Array.isArray(expected))
		return actual.map((a, i) => within(a, expected[i], relative));
	return actual;
}

const telemetryGolden = Object.entries(GOLDEN_QUERIES).filter(
	([, query]) => !/\bFROM (heartbeats|annotations)\b/.test(query),
);

describe("OQL over ClickHouse in workerd (@clickhouse/client-web)", () => {
	it("answers ping through the outbound service", async () => {
		expect((await client.ping()).success).toBe(true);
	});

	it.each(telemetryGolden)("golden: %s", async (name, query) => {
		const answer = await runOqlOnClickHouse(deps, client, ORG_A, query);
		const golden = GOLDEN[name];
		if (!golden) throw new Error(`no golden answer for ${name}`);
		expect(answer.columns).toEqual(golden.columns);
		const { elapsed_ms, source, ...meta } = answer.meta;
		// ClickHouse's rollups answer what libSQL's answer.
		expect(source).toBe(ROLLUP_SOURCES[name] ?? "raw");
		expect(meta).toEqual(golden.meta);
		// The golden percentiles of one route are exact; the rollups' within their documented error.
		const relative = name === "percentiles of one route" ? PERCENTILE_RELATIVE_ERROR : 1e-9;
		const expected = normal(golden.rows, golden.columns);
		expect(within(normal(answer.rows, answer.columns), expected, relative)).toEqual(expected);
	});

	it("keeps the other org's rows out, and the contract's errors", async () => {
		const [own] = (await runOqlOnClickHouse(deps, client, ORG_B, "SELECT count(*) FROM logs LAST 6h")).rows;
		expect(own).toEqual([goldenSpecB(ORG_B).logs]);
		const error = await runOqlOnClickHouse(
			deps,
			client,
			ORG_A,
			"SELECT count(*) FROM logs WHERE body MATCHES '(' LAST 1h",
		).catch((err: unknown) => err);
		expect(error).toBeInstanceOf(ApiError);
		expect((error as ApiError).code).toBe("oql_invalid_query");
	});
});

describe("the Worker with TELEMETRY_URL: telemetry in ClickHouse through @clickhouse/client-web", () => {
	// The Worker's own deps from its bindings, with TELEMETRY_URL added (the other workers tests keep
	// telemetry in libSQL, so this app is built here rather than bound for the whole pool).
	const app = createApp(
		buildWorkerDeps({
			...(env as unknown as WorkerEnv),
			TELEMETRY_URL: env.CLICKHOUSE_URL,
			LOG_LEVEL: "silent",
		}),
	);
	const call = (path: string, key: string, body: unknown) =>
		app.fetch(
			new Request(ORIGIN + path, {
				method: "POST",
				headers: { "X-API-Key": key, "Content-Type": "application/json" },
				body: JSON.stringify(body),
			}),
		);

	it("stores an OTLP export in ClickHouse and answers /api/v1/dsl from there, per org", async () => {
		const a = await orgWithKey("Edge ClickHouse A");
		const b = await orgWithKey("Edge ClickHouse B");
		const now = BigInt(Date.now()) * 1_000_000n;
		const logRecords = [0n, 1n, 2n].map((i) => ({
			timeUnixNano: String(now - i * 1_000_000_000n),
			severityText: "ERROR",
			body: { stringValue: `edge line ${i}` },
			attributes: [{ key: "route", value: { stringValue: "/cart" } }],
		}));
		const exported = await call("/v1/logs", a.key, {
			resourceLogs: [
				{
					resource: { attributes: [{ key: "service.name", value: { stringValue: "edge-shop" } }] },
					scopeLogs: [{ logRecords }],
				},
			],
		});
		expect(exported.status).toBe(200);
		// Acknowledged = in ClickHouse, under org A.
		const stored = await client.query({
			query: "SELECT body, service, attributes FROM logs WHERE org_id = {org:String} ORDER BY timestamp",
			format: "JSONEachRow",
			query_params: { org: a.orgId },
		});
		expect(await stored.json()).toEqual(
			[2, 1, 0].map((i) => ({
				body: `edge line ${i}`,
				service: "edge-shop",
				attributes: { route: "/cart" },
			})),
		);
		// …and not in libSQL.
		const inLibsql = await db.all<{ n: number }>(
			sql`SELECT count(*) AS n FROM logs WHERE org_id = ${a.orgId}`,
		);
		expect(inLibsql).toEqual([{ n: 0 }]);
		const answer = await call("/api/v1/dsl", a.key, {
			query:
				"SELECT service, count(*) FROM logs WHERE attributes['route'] = '/cart' GROUP BY service LAST 1h",
		});
		expect(answer.status).toBe(200);
		const json = (await answer.json()) as { rows: unknown[][]; meta: { source: string } };
		expect(json.rows).toEqual([["edge-shop", 3]]);
		expect(json.meta.source).toBe("raw");
		const other = await call("/api/v1/dsl", b.key, { query: "SELECT count(*) FROM logs LAST 1h" });
		expect(((await other.json()) as { rows: unknown[][] }).rows).toEqual([[0]]);
	});
});

// ---------------------------------------------------------------------------------------------
// The built-in pages inside workerd on ClickHouse (`clickHousePageBackend` over
// @clickhouse/client-web), compared with the same pages over libSQL (the default Worker, its
// rollups and read batches over Hrana): the same OTLP exports sent to both, one org each.

const PAGE_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SECOND_TRACE = "5cf92f3577b34da6a3ce929d0e0e4737";
/** One "now" for the seed, a minute back, so that offsets are exact and the window is in the past. */
const PAGE_BASE_MS = Date.now() - 60_000;
const pageNano = (msAgo: number) => String((BigInt(PAGE_BASE_MS) - BigInt(msAgo)) * 1_000_000n);

/** Every OTLP export of the pages' data set: two hosts, three services, two traces, logs of each level. */
function pageExports(): { path: string; body: unknown }[] {
	const resource = (service: string, host: string) => ({
		attributes: [
			{ key: "service.name", value: { stringValue: service } },
			{ key: "host.name", value: { stringValue: host } },
			{ key: "deployment.environment", value: { stringValue: "edge" } },
		],
	});
	const span = (
		trace: string,
		spanId: string,
		parent: string | undefined,
		name: string,
		start: number,
		end: number,
		error = false,
	) => ({
		traceId: trace,
		spanId,
		...(parent ? { parentSpanId: parent } : {}),
		name,
		kind: parent ? 3 : 2,
		startTimeUnixNano: pageNano(start),
		endTimeUnixNano: pageNano(end),
		status: error ? { code: 2, message: "boom" } : {},
		attributes: [{ key: "http.status_code", value: { intValue: error ? "500" : "200" } }],
		events: error
			? [
					{
						timeUnixNano: pageNano(start - 10),
						name: "exception",
						attributes: [{ key: "exception.message", value: { stringValue: "deadlock" } }],
					},
				]
			: [],
	});
	const log = (msAgo: number, severityNumber: number, text: string, trace?: string, spanId?: string) => ({
		timeUnixNano: pageNano(msAgo),
		// Given, not the ingest time each store's export would stamp (the exports are not simultaneous).
		observedTimeUnixNano: pageNano(msAgo - 1),
		severityNumber,
		body: { stringValue: text },
		attributes: [{ key: "route", value: { stringValue: "/orders" } }],
		...(trace ? { traceId: trace, spanId } : {}),
	});
	return [
		{
			path: "/v1/traces",
			body: {
				resourceSpans: [
					{
						resource: resource("edge-api", "edge-host-1"),
						scopeSpans: [
							{
								spans: [
									span(PAGE_TRACE, "00f067aa0ba902b7", undefined, "GET /orders", 125_000, 124_000),
									span(PAGE_TRACE, "00f067aa0ba902b9", "00f067aa0ba902b8", "cache get", 124_800, 124_700),
									span(SECOND_TRACE, "10f067aa0ba902b7", undefined, "GET /cart", 65_000, 64_950),
									span(SECOND_TRACE, "10f067aa0ba902b8", "10f067aa0ba902b7", "GET /cart", 64_990, 64_960),
								],
							},
						],
					},
					{
						resource: resource("edge-db", "edge-host-2"),
						scopeSpans: [
							{
								spans: [
									span(
										PAGE_TRACE,
										"00f067aa0ba902b8",
										"00f067aa0ba902b7",
										"SELECT orders",
										124_900,
										124_500,
										true,
									),
								],
							},
						],
					},
				],
			},
		},
		{
			path: "/v1/logs",
			body: {
				resourceLogs: [
					{
						resource: resource("edge-api", "edge-host-1"),
						scopeLogs: [
							{
								logRecords: [
									log(124_600, 17, "Query FAILED: deadlock", PAGE_TRACE, "00f067aa0ba902b8"),
									log(123_000, 9, "ok"),
									log(64_000, 13, "slow cart"),
									log(3_000, 5, "debug detail"),
								],
							},
						],
					},
					{
						resource: resource("edge-worker", "edge-host-2"),
						scopeLogs: [{ logRecords: [log(30_000, 9, "job done"), log(29_000, 21, "job crashed")] }],
					},
				],
			},
		},
	];
}

describe("the pages inside workerd on ClickHouse, against the same pages over libSQL", () => {
	const clickhouseApp = createApp(
		buildWorkerDeps({
			...(env as unknown as WorkerEnv),
			TELEMETRY_URL: env.CLICKHOUSE_URL,
			LOG_LEVEL: "silent",
		}),
	);
	const stores = {
		libsql: (path: string, init: RequestInit) => workerFetch(path, init),
		clickhouse: (path: string, init: RequestInit) => clickhouseApp.fetch(new Request(ORIGIN + path, init)),
	};
	const tokens = { libsql: "", clickhouse: "" };
	const orgIds = { libsql: "", clickhouse: "" };

	beforeAll(async () => {
		for (const store of ["libsql", "clickhouse"] as const) {
			const { orgId, key } = await orgWithKey(`Pages on ${store}`);
			for (const { path, body } of pageExports()) {
				await expectOk(
					await stores[store](path, {
						method: "POST",
						headers: { "X-API-Key": key, "Content-Type": "application/json" },
						body: JSON.stringify(body),
					}),
				);
			}
			tokens[store] = await tokenForNewUser(orgId, "viewer", "Edge viewer");
			orgIds[store] = orgId;
		}
		// Each store holds its org's rows only where it should.
		const inLibsql = await db.all<{ n: number }>(
			sql`SELECT count(*) AS n FROM logs WHERE org_id = ${orgIds.clickhouse}`,
		);
		expect(inLibsql).toEqual([{ n: 0 }]);
		const inClickHouse = await client.query({
			query: "SELECT count() AS n FROM logs WHERE org_id = {org:String}",
			format: "JSONEachRow",
			query_params: { org: orgIds.clickhouse },
		});
		expect(await inClickHouse.json()).toEqual([{ n: 6 }]);
	});

	/** The window: unaligned edges (libSQL reads rollups for whole minutes and raw rows at the edges). */
	const from = PAGE_BASE_MS - 20 * 60_000 - 7_777;
	const to = PAGE_BASE_MS + 1_234;
	const PAGES = [
		`/api/v1/pages/overview?from=${from}&to=${to}`,
		`/api/v1/pages/hosts?from=${from}&to=${to}`,
		`/api/v1/pages/hosts/edge-host-1?from=${from}&to=${to}`,
		`/api/v1/pages/logs?from=${from}&to=${to}`,
		`/api/v1/pages/logs?q=failed&from=${from}&to=${to}`,
		`/api/v1/pages/logs?level=error&from=${from}&to=${to}`,
		`/api/v1/pages/traces?from=${from}&to=${to}`,
		`/api/v1/pages/traces?status=error&from=${from}&to=${to}`,
		`/api/v1/pages/traces/${PAGE_TRACE}`,
		`/api/v1/pages/traces/${SECOND_TRACE}`,
	];

	it.each(PAGES)("%s: the same answer from both stores", async (path) => {
		const read = async (store: "libsql" | "clickhouse") =>
			expectOk<Record<string, unknown>>(
				await stores[store](path, { headers: { Authorization: `Bearer ${tokens[store]}` } }),
			);
		const [lite, ch] = [await read("libsql"), await read("clickhouse")];
		expect(comparablePage(ch)).toEqual(comparablePage(lite));
	});

	it("the pages hold the data set (the comparison is not between two empty answers)", async () => {
		const get = async (path: string) =>
			expectOk<Record<string, unknown>>(
				await stores.clickhouse(path, { headers: { Authorization: `Bearer ${tokens.clickhouse}` } }),
			);
		const overview = (await get(`/api/v1/pages/overview?from=${from}&to=${to}`)) as Record<
			string,
			{ count: number; errors: number }
		>;
		expect(overview.logs).toMatchObject({ count: 6, errors: 2 });
		expect(overview.spans).toMatchObject({ count: 5, errors: 1 });
		const hosts = (await get(`/api/v1/pages/hosts?from=${from}&to=${to}`)) as {
			data: { host: string; services: string[] }[];
		};
		expect(hosts.data.map((h) => [h.host, h.services])).toEqual([
			["edge-host-1", ["edge-api"]],
			["edge-host-2", ["edge-db", "edge-worker"]],
		]);
		const logs = (await get(`/api/v1/pages/logs?q=failed&from=${from}&to=${to}`)) as {
			data: { body: string }[];
		};
		expect(logs.data.map((row) => row.body)).toEqual(["Query FAILED: deadlock"]);
		const traces = (await get(`/api/v1/pages/traces?from=${from}&to=${to}`)) as {
			data: { trace_id: string; span_count: number; error: boolean }[];
		};
		expect(traces.data.map((t) => [t.trace_id, t.span_count, t.error]).sort()).toEqual([
			[PAGE_TRACE, 3, true],
			[SECOND_TRACE, 2, false],
		]);
		const trace = (await get(`/api/v1/pages/traces/${PAGE_TRACE}`)) as {
			spans: { depth: number; events: unknown[] }[];
			logs: unknown[];
		};
		expect(trace.spans.map((span) => span.depth)).toEqual([0, 1, 2]);
		expect(trace.spans.map((span) => span.events.length)).toEqual([0, 1, 0]);
		expect(trace.logs).toHaveLength(1);
	});
});
