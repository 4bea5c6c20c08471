import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROLES } from "../../src/auth/jwt.js";
import { monitors } from "../../src/db/schema-heartbeats.js";
import { newId } from "../../src/ids.js";
import { PERCENTILE_RELATIVE_ERROR } from "../../src/ingest/rollups.js";
import { createApiKey, createOrg } from "../../src/services/api-keys.js";
import { send } from "../support/management.js";
import {
	createWorld,
	expectedHistogram,
	expectedHosts,
	expectedLogs,
	expectedOverview,
	expectedTrace,
	expectedTraces,
	get,
	HOUR,
	insertRows,
	iso,
	logJson,
	spanRow,
	T0,
	tokenFor,
	type World,
} from "../support/pages.js";

/**
 * Golden answers: every page over a generated, seeded data set (two orgs sharing service and host
 * names), compared with answers computed from the generated rows in test/support/pages.ts.
 */

let world: World;
const FROM = T0 - HOUR;
const window = `from=${iso(FROM)}&to=${iso(T0)}`;
const wide = `from=${iso(T0 - 2 * HOUR)}&to=${iso(T0)}`;

beforeAll(async () => {
	world = await createWorld(undefined, async (t, orgA) => {
		// Heartbeat monitors in every status (org A), one in another org.
		const statuses = ["up", "up", "down", "late", "paused", "new"] as const;
		for (const [i, status] of statuses.entries()) {
			await t.database.db.insert(monitors).values({
				id: newId("mon"),
				orgId: orgA,
				slug: `job-${i}`,
				graceS: 60,
				periodS: 3600,
				status,
				createdAt: T0,
				updatedAt: T0,
			});
		}
		const key = await createApiKey(t.database.db, t.clock, { orgId: orgA, name: "ci", createdBy: "cli" });
		for (const [title, minutes] of [
			["deploy v1", 90],
			["deploy v2", 30],
			["deploy v3", 5],
		] as const) {
			const res = await send(t, "POST", "/api/v1/annotations", {
				auth: { key: key.key },
				body: { title, time: T0 - minutes * 60_000, service: "svc-01" },
			});
			expect(res.status).toBe(201);
		}
	});
});
afterAll(() => world.t.close());

describe("overview", () => {
	it("answers volumes, error rates, top services, slowest entry operations, monitors, annotations", async () => {
		const res = await get(world, `/api/v1/pages/overview?${window}`);
		expect(res.status).toBe(200);
		const expected = expectedOverview(world, world.orgA, FROM, T0);
		const { slowest_operations, ...rest } = res.json;
		expect(rest).toEqual({
			range: { from: iso(FROM), to: iso(T0) },
			...expected,
			slowest_operations: undefined,
			heartbeats: { total: 6, new: 1, up: 2, late: 1, down: 1, paused: 1 },
			annotations: [
				expect.objectContaining({ title: "deploy v3" }),
				expect.objectContaining({ title: "deploy v2" }),
			],
		});
		expect(slowest_operations.map((op: { service: string; name: string }) => [op.service, op.name])).toEqual(
			expected.slowest_operations.map((op) => [op.service, op.name]),
		);
		slowest_operations.forEach((op: { p95_ms: number; spans: number }, i: number) => {
			// From the rollups' latency histograms: within their documented bound of the exact p95.
			const exact = expected.slowest_operations[i]?.p95_ms as number;
			expect(Math.abs(op.p95_ms - exact) / exact).toBeLessThanOrEqual(PERCENTILE_RELATIVE_ERROR);
			expect(op.spans).toBe(expected.slowest_operations[i]?.spans);
		});
		// The data set is big enough for every part to matter.
		expect(expected.logs.errors).toBeGreaterThan(0);
		expect(expected.spans.errors).toBeGreaterThan(0);
		expect(expected.top_services.length).toBeGreaterThan(2);
		expect(expected.slowest_operations).toHaveLength(10);
	});

	it("defaults to the last hour before now", async () => {
		const res = await get(world, "/api/v1/pages/overview");
		expect(res.status).toBe(200);
		expect(res.json.range).toEqual({ from: iso(T0 - HOUR), to: iso(T0) });
		expect(res.json.logs).toEqual(expectedOverview(world, world.orgA, T0 - HOUR, T0).logs);
		const day = await get(world, "/api/v1/pages/overview?range=2h");
		expect(day.json.logs).toEqual(expectedOverview(world, world.orgA, T0 - 2 * HOUR, T0).logs);
	});

	it("is empty, not an error, for an org without telemetry", async () => {
		const empty = await createOrg(world.t.database.db, world.t.clock, "Empty");
		const other = await tokenFor(world, empty.id, "viewer");
		const res = await get(world, "/api/v1/pages/overview", other);
		expect(res.status).toBe(200);
		expect(res.json).toMatchObject({
			logs: { count: 0, errors: 0, error_rate: null },
			spans: { count: 0, errors: 0, error_rate: null },
			error_rate: null,
			top_services: [],
			slowest_operations: [],
			heartbeats: { total: 0 },
			annotations: [],
		});
	});
});

describe("logs", () => {
	const cases: {
		name: string;
		query: string;
		filter: Omit<Parameters<typeof expectedLogs>[1], "orgId" | "fromMs" | "toMs">;
	}[] = [
		{ name: "unfiltered", query: "", filter: {} },
		{ name: "levels", query: "&level=error,FATAL", filter: { levels: ["error", "fatal"] } },
		{
			name: "service and host",
			query: "&service=svc-02&host=host-002.prod",
			filter: { service: "svc-02", host: "host-002.prod" },
		},
		{ name: "full text, any case", query: "&q=EconnReset", filter: { q: "econnreset" } },
		{
			name: "full text with % and '",
			query: `&q=${encodeURIComponent("100% of")}`,
			filter: { q: "100% of" },
		},
		{
			name: "everything",
			query: "&q=ms&level=warn&service=svc-01",
			filter: { q: "ms", levels: ["warn"], service: "svc-01" },
		},
	];
	for (const { name, query, filter } of cases) {
		it(`pages through every matching row, newest first, with its histogram (${name})`, async () => {
			const expected = expectedLogs(world, { orgId: world.orgA, fromMs: FROM, toMs: T0, ...filter });
			expect(expected.length).toBeGreaterThan(2);
			const limit = Math.max(2, Math.ceil(expected.length / 3));
			const first = await get(world, `/api/v1/pages/logs?${window}${query}&limit=${limit}`);
			expect(first.status).toBe(200);
			expect(first.json.range).toEqual({ from: iso(FROM), to: iso(T0) });
			expect(first.json.histogram.interval_ms).toBe(60_000);
			expect(first.json.histogram.oql).toMatch(/^SELECT count\(\*\) FROM logs/);
			expect(first.json.histogram.buckets).toEqual(expectedHistogram(expected, FROM, T0, 60_000));
			const seen = [...first.json.data];
			let cursor = first.json.next_cursor;
			while (cursor) {
				const next = await get(world, `/api/v1/pages/logs?${window}${query}&limit=${limit}&cursor=${cursor}`);
				expect(next.status).toBe(200);
				expect(next.json.histogram).toBeNull();
				seen.push(...next.json.data);
				cursor = next.json.next_cursor;
			}
			expect(seen).toEqual(expected.map(logJson));
		});
	}

	it("keeps exact nanoseconds and breaks timestamp ties by id", async () => {
		const expected = expectedLogs(world, { orgId: world.orgA, fromMs: T0 - 2 * HOUR, toMs: T0 });
		const ties = expected.filter((row, i) => i > 0 && row.timestamp === expected[i - 1]?.timestamp);
		expect(ties.length).toBeGreaterThan(0);
		const res = await get(world, `/api/v1/pages/logs?${wide}&limit=1000`);
		expect(res.json.data).toEqual(expected.slice(0, 1000).map(logJson));
		expect(res.json.data[0].time_unix_nano).toMatch(/^\d{19}$/);
	});

	it("refuses bad filters and cursors", async () => {
		for (const query of [
			"level=err%20or",
			"limit=0",
			"limit=1001",
			"org_id=x",
			"range=1h&from=2026-11-28T00:00:00Z",
			`from=${iso(T0)}&to=${iso(FROM)}`,
			"range=32d",
			"cursor=garbage",
			"unknown=1",
		]) {
			const res = await get(world, `/api/v1/pages/logs?${query}`);
			expect(res.status, query).toBe(400);
			expect(res.json.error.code, query).toBe("invalid_request");
		}
		const first = await get(world, `/api/v1/pages/logs?${window}&limit=5`);
		const replayed = await get(
			world,
			`/api/v1/pages/logs?${window}&level=error&limit=5&cursor=${first.json.next_cursor}`,
		);
		expect(replayed.status).toBe(400);
		expect(replayed.json.error.message).toMatch(/other filters/);
		const traces = await get(world, `/api/v1/pages/traces?${window}&cursor=${first.json.next_cursor}`);
		expect(traces.status).toBe(400);
	});
});

describe("traces", () => {
	const cases: {
		query: string;
		filter: Omit<Parameters<typeof expectedTraces>[1], "orgId" | "fromMs" | "toMs">;
	}[] = [
		{ query: "", filter: {} },
		{ query: "&status=error", filter: { status: "error" } },
		{ query: "&status=ok&service=svc-03", filter: { status: "ok", service: "svc-03" } },
		{ query: "&min_duration_ms=150.5", filter: { minDurationMs: 150.5 } },
	];
	for (const { query, filter } of cases) {
		it(`lists root spans with their traces' counts, newest first (${query || "unfiltered"})`, async () => {
			const expected = expectedTraces(world, { orgId: world.orgA, fromMs: FROM, toMs: T0, ...filter });
			expect(expected.length).toBeGreaterThan(2);
			const limit = Math.max(2, Math.ceil(expected.length / 3));
			const seen = [];
			let cursor: string | null = null;
			do {
				const res = await get(
					world,
					`/api/v1/pages/traces?${window}${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`,
				);
				expect(res.status).toBe(200);
				seen.push(...res.json.data);
				cursor = res.json.next_cursor;
			} while (cursor);
			expect(seen).toEqual(expected);
		});
	}

	it("answers one trace as a waterfall tree with events and its logs", async () => {
		const traces = expectedTraces(world, { orgId: world.orgA, fromMs: T0 - 2 * HOUR, toMs: T0 });
		const withLogs = world.rows.logs.filter((row) => row.org_id === world.orgA && row.trace_id !== null);
		// A deep trace with an error (so with an event) and logs.
		const chosen = traces
			.filter((trace) => trace.error && withLogs.some((row) => row.trace_id === trace.trace_id))
			.sort((a, b) => b.span_count - a.span_count)[0];
		expect(chosen).toBeDefined();
		const id = chosen?.trace_id as string;
		const res = await get(world, `/api/v1/pages/traces/${id.toUpperCase()}`);
		expect(res.status).toBe(200);
		const expected = expectedTrace(world, world.orgA, id);
		expect(res.json).toEqual(expected);
		expect(Math.max(...res.json.spans.map((s: { depth: number }) => s.depth))).toBeGreaterThan(0);
		expect(res.json.spans.some((s: { events: unknown[] }) => s.events.length > 0)).toBe(true);
		expect(res.json.logs.length).toBeGreaterThan(0);

		// view=summary: the same tree and logs without each span's time, scope and details.
		const summary = await get(world, `/api/v1/pages/traces/${id}?view=summary`);
		expect(summary.status).toBe(200);
		const details = ["time", "time_unix_nano", "scope", "attributes", "resource", "events", "links"];
		expect(summary.json).toEqual({
			...expected,
			spans: (expected.spans as Record<string, unknown>[]).map((span) =>
				Object.fromEntries(Object.entries(span).filter(([key]) => !details.includes(key))),
			),
		});
		expect((await get(world, `/api/v1/pages/traces/${id}?view=full`)).json).toEqual(expected);
		const bad = await get(world, `/api/v1/pages/traces/${id}?view=tree`);
		expect(bad.status).toBe(400);
		expect(bad.json.error.code).toBe("invalid_request");
	});

	it("draws spans whose parent is missing, or in a cycle, as roots — every span once", async () => {
		const traceId = "00000000000000000000000000c0ffee";
		const span = (id: string, parent: string | null, startMs: number) =>
			spanRow({
				org_id: world.orgA,
				trace_id: traceId,
				span_id: `aaaaaaaaaaaaaaa${id}`,
				parent_span_id: parent === null ? null : parent.length === 1 ? `aaaaaaaaaaaaaaa${parent}` : parent,
				timestamp: BigInt(startMs) * 1_000_000n,
			});
		await insertRows(world, "spans", [
			span("1", null, T0 - 60_000),
			span("2", "1", T0 - 59_000),
			// The same start as 2: siblings with equal starts go by id.
			span("6", "1", T0 - 59_000),
			span("3", "ffffffffffffffff", T0 - 58_000),
			span("4", "5", T0 - 57_000),
			span("5", "4", T0 - 56_000),
		]);
		const res = await get(world, `/api/v1/pages/traces/${traceId}`);
		expect(res.status).toBe(200);
		expect(
			res.json.spans.map(
				(s: { span_id: string; depth: number; children: string[]; missing_parent: boolean }) => [
					s.span_id.slice(-1),
					s.depth,
					s.children.map((c) => c.slice(-1)),
					s.missing_parent,
				],
			),
		).toEqual([
			["1", 0, ["2", "6"], false],
			["2", 1, [], false],
			["6", 1, [], false],
			["3", 0, [], true],
			["4", 0, ["5"], true],
			["5", 1, [], false],
		]);
		expect(res.json.spans[1].start_offset_ms).toBe(1000);
		expect(res.json.duration_ms).toBe(4005);
	});
});

describe("hosts", () => {
	it("lists the hosts seen in the window by name, with counts, services and error rates", async () => {
		const expected = expectedHosts(world, world.orgA, FROM, T0);
		expect(expected.length).toBeGreaterThan(3);
		const seen = [];
		let cursor: string | null = null;
		do {
			const res = await get(
				world,
				`/api/v1/pages/hosts?${window}&limit=2${cursor ? `&cursor=${cursor}` : ""}`,
			);
			expect(res.status).toBe(200);
			seen.push(...res.json.data);
			cursor = res.json.next_cursor;
		} while (cursor);
		expect(seen).toEqual(expected);
	});

	it("answers one host with its services, histograms and recent errors", async () => {
		const host = expectedHosts(world, world.orgA, FROM, T0)[1];
		const res = await get(world, `/api/v1/pages/hosts/${encodeURIComponent(host?.host as string)}?${window}`);
		expect(res.status).toBe(200);
		const { by_service, histogram, recent_errors, range, ...summary } = res.json;
		expect(summary).toEqual(host);
		expect(range).toEqual({ from: iso(FROM), to: iso(T0) });
		expect(by_service.map((s: { service: string }) => s.service)).toEqual(host?.services);
		expect(by_service.reduce((n: number, s: { logs: { count: number } }) => n + s.logs.count, 0)).toBe(
			host?.logs.count,
		);
		const logs = expectedLogs(world, {
			orgId: world.orgA,
			fromMs: FROM,
			toMs: T0,
			host: host?.host as string,
		});
		expect(histogram.logs.buckets).toEqual(expectedHistogram(logs, FROM, T0, 60_000));
		expect(recent_errors).toEqual(
			logs
				.filter((row) => ["error", "fatal"].includes(String(row.level)))
				.slice(0, 20)
				.map(logJson),
		);
	});
});

describe("schema", () => {
	it("lists fields with indexed values, attribute keys seen by ingest, metric names with units", async () => {
		const key = await createApiKey(world.t.database.db, world.t.clock, {
			orgId: world.orgA,
			name: "otel",
			createdBy: "cli",
		});
		const at = String(BigInt(T0 - 1000) * 1_000_000n);
		const resource = { attributes: [{ key: "service.name", value: { stringValue: "schema-svc" } }] };
		const logs = await send(world.t, "POST", "/v1/logs", {
			auth: { key: key.key },
			body: {
				resourceLogs: [
					{
						resource,
						scopeLogs: [
							{
								logRecords: [
									{
										timeUnixNano: at,
										severityNumber: 9,
										body: { stringValue: "hello" },
										attributes: [
											{ key: "http.route", value: { stringValue: "/a" } },
											{ key: "retries", value: { intValue: "3" } },
										],
									},
								],
							},
						],
					},
				],
			},
		});
		expect(logs.status).toBe(200);
		const metrics = await send(world.t, "POST", "/v1/metrics", {
			auth: { key: key.key },
			body: {
				resourceMetrics: [
					{
						resource,
						scopeMetrics: [
							{
								metrics: [
									{
										name: "queue.wait",
										unit: "ms",
										description: "Time in queue",
										gauge: { dataPoints: [{ timeUnixNano: at, asDouble: 1.5 }] },
									},
								],
							},
						],
					},
				],
			},
		});
		expect(metrics.status).toBe(200);

		const res = await get(world, "/api/v1/pages/schema?source=logs");
		expect(res.status).toBe(200);
		expect(res.json.sources).toHaveLength(1);
		const source = res.json.sources[0];
		expect(source.source).toBe("logs");
		expect(source.last_seen).toEqual({ time: iso(T0 - 1000), time_unix_nano: at });
		const field = (name: string) => source.fields.find((f: { name: string }) => f.name === name);
		expect(field("level")).toMatchObject({
			type: "string",
			oql: "level",
			values: ["debug", "error", "fatal", "info", "warn"],
		});
		expect(field("service").values).toEqual([
			"schema-svc",
			"svc-00",
			"svc-01",
			"svc-02",
			"svc-03",
			"svc-04",
			"svc-05",
		]);
		expect(field("body")).toMatchObject({ type: "string", values: null });
		expect(field("severity")).toMatchObject({ type: "number" });
		const attribute = (key: string) => source.attributes.find((a: { key: string }) => a.key === key);
		expect(attribute("http.route")).toEqual({
			namespace: "attributes",
			key: "http.route",
			oql: "attributes['http.route']",
			types: ["string"],
			examples: ["/a"],
			first_seen: iso(T0),
			last_seen: iso(T0),
		});
		expect(attribute("retries")).toMatchObject({ types: ["int"], examples: ["3"] });
		expect(attribute("service.name")).toMatchObject({
			namespace: "resource",
			oql: "resource['service.name']",
		});

		const all = await get(world, "/api/v1/pages/schema");
		expect(all.json.sources.map((s: { source: string }) => s.source)).toEqual(["logs", "spans", "metrics"]);
		const metricSource = all.json.sources[2];
		expect(metricSource.metrics).toEqual([
			{
				name: "queue.wait",
				kind: "gauge",
				unit: "ms",
				description: "Time in queue",
				first_seen: iso(T0),
				last_seen: iso(T0),
			},
		]);
		expect(all.json.sources[0].metrics).toBeUndefined();
		// Org B sees none of it.
		const other = await get(world, "/api/v1/pages/schema?source=logs", world.tokenB);
		expect(other.json.sources[0].attributes).toEqual([]);
		expect(
			other.json.sources[0].fields.find((f: { name: string }) => f.name === "service").values,
		).not.toContain("schema-svc");
	});
});

describe("tenancy", () => {
	it("never answers another org's trace or host: 404", async () => {
		const theirs = world.rows.spans.find((row) => row.org_id === world.orgB && row.parent_span_id === null);
		const trace = await get(world, `/api/v1/pages/traces/${theirs?.trace_id}`);
		expect(trace.status).toBe(404);
		expect(trace.json.error.code).toBe("not_found");
		expect((await get(world, `/api/v1/pages/traces/${theirs?.trace_id}`, world.tokenB)).status).toBe(200);
		// Org B has hosts 9–11, org A only 0–8.
		const host = await get(world, `/api/v1/pages/hosts/host-011.prod?${wide}`);
		expect(host.status).toBe(404);
		expect((await get(world, `/api/v1/pages/hosts/host-011.prod?${wide}`, world.tokenB)).status).toBe(200);
		expect((await get(world, `/api/v1/pages/hosts/nowhere?${wide}`)).status).toBe(404);
	});

	it("keeps a trace id shared by two orgs apart", async () => {
		const ours = world.rows.spans.find((row) => row.org_id === world.orgA && row.parent_span_id === null);
		await insertRows(world, "spans", [
			spanRow({
				org_id: world.orgB,
				trace_id: ours?.trace_id as string,
				span_id: "bbbbbbbbbbbbbbbb",
				name: "intruder",
				status_code: "error",
				timestamp: ours?.timestamp as bigint,
			}),
		]);
		const res = await get(world, `/api/v1/pages/traces/${ours?.trace_id}`);
		expect(res.json.spans.map((s: { name: string }) => s.name)).not.toContain("intruder");
		expect(res.json).toEqual(expectedTrace(world, world.orgA, ours?.trace_id as string));
	});
});

describe("access", () => {
	const routes = [
		"/api/v1/pages/overview",
		"/api/v1/pages/hosts",
		"/api/v1/pages/hosts/host-001.prod?range=2h",
		"/api/v1/pages/logs",
		"/api/v1/pages/traces",
		"/api/v1/pages/traces/:trace",
		"/api/v1/pages/schema",
	];
	const pathOf = (route: string) =>
		route.replace(":trace", String(world.rows.spans.find((row) => row.org_id === world.orgA)?.trace_id));

	for (const route of routes) {
		it(`${route}: every role reads; API keys get 403 session_required; no credential 401`, async () => {
			for (const role of ROLES) {
				const res = await get(world, pathOf(route), await tokenFor(world, world.orgA, role));
				expect(res.status, role).toBe(200);
			}
			const key = await createApiKey(world.t.database.db, world.t.clock, {
				orgId: world.orgA,
				name: "k",
				createdBy: "cli",
			});
			const withKey = await get(world, pathOf(route), { key: key.key });
			expect(withKey.status).toBe(403);
			expect(withKey.json.error.code).toBe("session_required");
			const none = await get(world, pathOf(route), null);
			expect(none.status).toBe(401);
			expect(none.json.error.code).toBe("missing_credentials");
			const post = await send(world.t, "POST", pathOf(route), { auth: world.tokenA });
			expect(post.status).toBe(405);
		});
	}

	it("documents every page route with examples", async () => {
		const doc = (await get(world, "/api/v1/openapi.json", null)).json;
		for (const path of [
			"/overview",
			"/hosts",
			"/hosts/{host}",
			"/logs",
			"/traces",
			"/traces/{trace_id}",
			"/schema",
		]) {
			const operation = doc.paths[`/api/v1/pages${path}`]?.get;
			expect(operation, path).toBeDefined();
			expect(operation.security).toEqual([{ Bearer: [] }]);
			expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(["200", "401", "403"]));
		}
		for (const schema of [
			"PageOverview",
			"PageHost",
			"PageLog",
			"PageTraceSummary",
			"PageTrace",
			"PageSchema",
			"PageHistogram",
		]) {
			expect(doc.components.schemas[schema]?.example, schema).toBeDefined();
		}
	});
});
