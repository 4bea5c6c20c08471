/**
 * OQL end to end on Node: POST /api/v1/dsl and runOql over the generated golden data set
 * (bench/oql-data.ts) in a migrated embedded database. The same golden table runs in workerd
 * (test/workers/oql.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logRows, type Row, seedOqlDataset, spanRows } from "../../bench/oql-data.js";
import { ConfigError, DEFAULT_OQL_SETTINGS, oqlSettingsFrom } from "../../src/config.js";
import { directReadExecutor, HeavyReads } from "../../src/db/reads.js";
import { ApiError } from "../../src/errors.js";
import { rebuildRollups } from "../../src/ingest/rollup-rebuild.js";
import { runOql } from "../../src/oql/execute.js";
import { FakeClock } from "../support/clock.js";
import { type Answer, send } from "../support/management.js";
import { createTestApp, type TestApp } from "../support/node-app.js";
import { expectGolden, GOLDEN } from "../support/oql-golden.js";
import {
	GOLDEN_END,
	GOLDEN_QUERIES,
	GOLDEN_START,
	goldenSpecA,
	goldenSpecB,
} from "../support/oql-golden-queries.js";

const DSL = "/api/v1/dsl";
const SEED_EXAMPLE = "SELECT count(*) FROM logs WHERE level = 'error' LAST 1h";
const W = "SINCE '2026-11-01T00:00:00Z' UNTIL '2026-11-01T06:00:00Z'";
const HOUR = 3_600_000;

let t: TestApp;
let a: { orgId: string; key: string };
let b: { orgId: string; key: string };

function dsl(
	query: unknown,
	key: string | null = a.key,
	extra: Record<string, unknown> = {},
): Promise<Answer> {
	return send(t, "POST", DSL, { auth: key === null ? null : { key }, body: { query, ...extra } });
}

async function ok(query: string, key = a.key) {
	const answer = await dsl(query, key);
	expect(answer.status, answer.text).toBe(200);
	return answer.json as {
		columns: { name: string; type: string }[];
		rows: unknown[][];
		meta: Record<string, unknown>;
	};
}

async function expectOqlError(answer: Answer, status: number, code: string) {
	expect({ status: answer.status, code: answer.json?.error?.code }, answer.text).toEqual({ status, code });
	expect(answer.json.error.request_id).toBe(answer.headers.get("X-Request-Id"));
	expect(answer.text).not.toMatch(/\bSELECT\b.*"t"|\?\d|sqlite|stack/i);
	return answer.json.error as { code: string; message: string; position?: { line: number; column: number } };
}

beforeAll(async () => {
	t = await createTestApp({ clock: new FakeClock(GOLDEN_END) });
	a = await t.createOrgWithKey("Org A");
	b = await t.createOrgWithKey("Org B");
	await seedOqlDataset(t.database.client, goldenSpecA(a.orgId));
	await seedOqlDataset(t.database.client, goldenSpecB(b.orgId));
	// A row only org B has, and an attribute past 2^53.
	await t.database.client.execute({
		sql: `INSERT INTO logs (org_id, timestamp, observed_timestamp, level, body, service, resource_attributes, attributes)
		      VALUES (?, ?, ?, 'info', 'org-b-secret', 'api', '{}', '{"big": 9007199254740993}')`,
		args: [b.orgId, BigInt(GOLDEN_END - 60_000) * 1_000_000n, BigInt(GOLDEN_END - 60_000) * 1_000_000n],
	});
	await t.database.client.execute({
		sql: `INSERT INTO logs (org_id, timestamp, observed_timestamp, level, body, service, resource_attributes, attributes)
		      VALUES (?, ?, ?, 'info', 'big numbers', 'api', '{}', '{"big": 9007199254740993, "small": 42, "nested": {"a": [1, 2]}, "flag": true}')`,
		args: [a.orgId, BigInt(GOLDEN_START - HOUR) * 1_000_000n, BigInt(GOLDEN_START - HOUR) * 1_000_000n],
	});
	// Written around the ingest path: their rollups are built as ingest would have.
	await rebuildRollups(t.database.client, a.orgId);
	await rebuildRollups(t.database.client, b.orgId);
});
afterAll(() => t.close());

describe("golden table (same answers in workerd)", () => {
	it("has an answer for every query", () => {
		expect(Object.keys(GOLDEN).sort()).toEqual(Object.keys(GOLDEN_QUERIES).sort());
	});

	for (const [name, query] of Object.entries(GOLDEN_QUERIES)) {
		it(name, async () => {
			const body = await ok(query);
			const { elapsed_ms, ...meta } = body.meta;
			expect(elapsed_ms).toEqual(expect.any(Number));
			expectGolden(name, { ...body, meta });
		});
	}

	it("answers the seed example verbatim (LAST 1h ends at the clock: the data set's last hour)", async () => {
		const body = await ok(SEED_EXAMPLE);
		expect(body.columns).toEqual([{ name: "count(*)", type: "number" }]);
		expect(body.rows).toEqual(GOLDEN["errors in the last hour of data"]?.rows);
		expect(body.meta).toMatchObject({ from: "2026-11-01T05:00:00.000Z", to: "2026-11-01T06:00:00.000Z" });
	});
});

describe("oracle: the golden answers recomputed in JavaScript from the generated rows", () => {
	const logs = [...logRows(goldenSpecA("x"))];
	const spans = [...spanRows(goldenSpecA("x"))];
	const ms = (row: Row) => Number((row.timestamp as bigint) / 1_000_000n);
	const rows = (name: string) => GOLDEN[name]?.rows ?? [];

	it("counts per level and in the last hour", () => {
		const byLevel = new Map<string, number>();
		for (const row of logs) byLevel.set(String(row.level), (byLevel.get(String(row.level)) ?? 0) + 1);
		expect(rows("count by level")).toEqual([...byLevel].sort(([x], [y]) => x.localeCompare(y)));
		const lastHour = logs.filter((r) => r.level === "error" && ms(r) >= GOLDEN_END - HOUR).length;
		expect(rows("errors in the last hour of data")).toEqual([[lastHour]]);
	});

	it("distinct users and exact percentiles (percentile_cont)", () => {
		const users = logs.map((r) => JSON.parse(String(r.attributes))["user.id"]).filter((u) => u !== undefined);
		expect(rows("distinct users")).toEqual([[new Set(users).size, users.length]]);
		const durations = spans
			.filter((s) => s.name === "GET /api/search")
			.map((s) => Number(s.duration_ns) / 1e6)
			.sort((x, y) => x - y);
		const p = (q: number) => {
			const h = ((durations.length - 1) * q) / 100;
			const lo = Math.floor(h);
			return (durations[lo] as number) + (h - lo) * ((durations[lo + 1] ?? 0) - (durations[lo] as number));
		};
		const [got] = rows("percentiles of one route") as number[][];
		for (const [i, q] of [50, 90, 99, 99.9].entries()) expect(got?.[i]).toBeCloseTo(p(q), 6);
	});

	it("buckets, zero-filled", () => {
		const bucketMs = 30 * 60_000;
		const counts = new Map<number, number>();
		for (const s of spans) {
			if ((s.service === "billing" || s.service === "worker") && s.status_code === "error") {
				const bucket = Math.floor(ms(s) / bucketMs) * bucketMs;
				counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
			}
		}
		const expected = [];
		for (let bucket = GOLDEN_START; bucket < GOLDEN_END; bucket += bucketMs) {
			expected.push([new Date(bucket).toISOString(), counts.get(bucket) ?? 0]);
		}
		expect(rows("sparse timeseries, zero-filled").map((r) => r.slice(0, 2))).toEqual(expected);
	});

	it("top hosts", () => {
		const byHost = new Map<string, number>();
		for (const row of logs) byHost.set(String(row.host), (byHost.get(String(row.host)) ?? 0) + 1);
		const top = [...byHost].sort(([h1, n1], [h2, n2]) => n2 - n1 || h1.localeCompare(h2)).slice(0, 5);
		expect(rows("top hosts")).toEqual(top);
	});
});

describe("errors (contract §4)", () => {
	it("oql_syntax_error with position, in the body and the message", async () => {
		const error = await expectOqlError(await dsl("SELECT count(*) FORM logs"), 400, "oql_syntax_error");
		expect(error.position).toEqual({ line: 1, column: 17 });
		expect(error.message).toMatch(/Did you mean FROM\?.*line 1, column 17/);
		const multiline = await expectOqlError(
			await dsl("SELECT count(*)\nFROM logs\n  WHERE level = = 'error'"),
			400,
			"oql_syntax_error",
		);
		expect(multiline.position).toEqual({ line: 3, column: 17 });
		const unterminated = await expectOqlError(
			await dsl("SELECT body FROM logs WHERE body = 'x"),
			400,
			"oql_syntax_error",
		);
		expect(unterminated.position).toEqual({ line: 1, column: 36 });
	});

	it("oql_invalid_query for unknown sources, fields and functions and type errors, with a suggestion", async () => {
		const source = await expectOqlError(await dsl("SELECT count(*) FROM logz"), 400, "oql_invalid_query");
		expect(source.message).toMatch(/Did you mean logs\?/);
		expect(source.position).toEqual({ line: 1, column: 22 });
		const field = await expectOqlError(
			await dsl("SELECT count(*) FROM logs WHERE sevrity > 3"),
			400,
			"oql_invalid_query",
		);
		expect(field.message).toMatch(/Did you mean severity\?/);
		const fn = await expectOqlError(await dsl("SELECT cuont(*) FROM logs"), 400, "oql_invalid_query");
		expect(fn.message).toMatch(/Did you mean count\?/);
		await expectOqlError(await dsl("SELECT count(*) FROM logs WHERE body > 3"), 400, "oql_invalid_query");
		await expectOqlError(await dsl("SELECT count(*) FROM logs LIMIT 10001"), 400, "oql_invalid_query");
	});

	it("oql_range_too_large past the configured maximum (31 days by default)", async () => {
		const error = await expectOqlError(
			await dsl("SELECT count(*) FROM logs LAST 32d"),
			400,
			"oql_range_too_large",
		);
		expect(error.message).toMatch(/31 days/);
		expect((await dsl("SELECT count(*) FROM logs LAST 31d")).status).toBe(200);
	});

	it("oql_invalid_query when the engine refuses a MATCHES pattern at run time", async () => {
		const error = await expectOqlError(
			await dsl(`SELECT count(*) FROM logs WHERE body MATCHES 'time\\qout' ${W}`),
			400,
			"oql_invalid_query",
		);
		expect(error.message).toBe("The MATCHES pattern cannot be used: unknown \\ escape.");
	});

	it("oql_invalid_query, not a 500, for a query within OQL's nesting limit that the engine's parser cannot take", async () => {
		const deep = [
			`SELECT count(*) FROM logs WHERE ${"NOT ".repeat(60)}level = 'x' ${W}`,
			`SELECT count(*) FROM logs WHERE ${Array.from({ length: 95 }, (_, i) => `service = 's${i}'`).join(" OR ")} ${W}`,
			`SELECT ${Array.from({ length: 95 }, () => "1").join(" + ")} FROM logs ${W}`,
			`SELECT ${Array.from({ length: 90 }, () => "count(*)").join(" + ")} FROM logs ${W}`,
		];
		for (const query of deep) {
			const error = await expectOqlError(await dsl(query), 400, "oql_invalid_query");
			expect(error.message).toMatch(/nested too deeply/);
		}
		// One level over OQL's own limit is still the parser's syntax error.
		await expectOqlError(
			await dsl(`SELECT count(*) FROM logs WHERE ${"NOT ".repeat(100)}level = 'x' ${W}`),
			400,
			"oql_syntax_error",
		);
	});

	it("invalid_request for a body without a query, or with other fields (org_id)", async () => {
		await expectOqlError(
			await send(t, "POST", DSL, { auth: { key: a.key }, body: {} }),
			400,
			"invalid_request",
		);
		await expectOqlError(await dsl(42), 400, "invalid_request");
		await expectOqlError(
			await dsl("SELECT count(*) FROM logs", a.key, { org_id: b.orgId }),
			400,
			"invalid_request",
		);
		const text = await t.app.request(DSL, {
			method: "POST",
			headers: { "X-API-Key": a.key, "Content-Type": "text/plain" },
			body: "SELECT count(*) FROM logs",
		});
		expect(text.status).toBe(415);
	});
});

describe("a dashboard's time range and variables on the route (a panel's preview)", () => {
	it("takes from/to that replace the query's range, and variables bound as strings", async () => {
		const plain = await ok(`SELECT count(*) FROM logs WHERE service = 'checkout' ${W}`);
		const answer = await dsl("SELECT count(*) FROM logs WHERE service = $service LAST 5m", a.key, {
			from: "2026-11-01T00:00:00Z",
			to: GOLDEN_END,
			variables: { service: "checkout" },
		});
		expect(answer.status, answer.text).toBe(200);
		expect(answer.json.rows).toEqual(plain.rows);
		expect(answer.json.meta).toMatchObject({
			from: "2026-11-01T00:00:00.000Z",
			to: "2026-11-01T06:00:00.000Z",
		});
		const hostile = await dsl("SELECT count(*) FROM logs WHERE service = $service", a.key, {
			from: GOLDEN_START,
			to: GOLDEN_END,
			variables: { service: "checkout' OR '1'='1" },
		});
		expect(hostile.json.rows).toEqual([[0]]);
	});

	it("refuses a missing variable, a bad name, from after to and too long a value", async () => {
		const missing = await expectOqlError(
			await dsl("SELECT count(*) FROM logs WHERE service = $service", a.key, { variables: { servce: "x" } }),
			400,
			"oql_invalid_query",
		);
		expect(missing.message).toMatch(/Unknown variable \$service/);
		for (const extra of [
			{ variables: { "1bad": "x" } },
			{ variables: { service: "x".repeat(1001) } },
			{ from: GOLDEN_END, to: GOLDEN_START },
			{ from: "yesterday" },
		]) {
			await expectOqlError(await dsl("SELECT count(*) FROM logs", a.key, extra), 400, "invalid_request");
		}
	});
});

describe("query_timeout", () => {
	let slow: TestApp;
	let key: string;

	beforeAll(async () => {
		slow = await createTestApp({ clock: new FakeClock(GOLDEN_END), oql: { maxRangeDays: 31, timeoutMs: 1 } });
		const org = await slow.createOrgWithKey("Slow");
		key = org.key;
		await seedOqlDataset(slow.database.client, { ...goldenSpecA(org.orgId), logs: 0, spans: 20_000 });
	});
	afterAll(() => slow.close());

	it("answers 503 query_timeout with Retry-After when the statement outlives OQL_TIMEOUT_MS", async () => {
		const answer = await send(slow, "POST", DSL, {
			auth: { key },
			body: { query: `SELECT p99(duration_ms), count_distinct(trace_id) FROM spans GROUP BY name ${W}` },
		});
		await expectOqlError(answer, 503, "query_timeout");
		expect(answer.headers.get("Retry-After")).toBe("5");
		expect(answer.json.error.message).toMatch(/did not finish within 1 ms/);
	});

	it("races a remote-style client: the answer comes at the deadline, the statement is abandoned", async () => {
		const client = slow.database.client;
		let finished = false;
		const stalled = new Proxy(client, {
			get(target, prop, receiver) {
				if (prop === "protocol") return "http"; // a remote client, as on Workers
				if (prop === "batch") {
					return async (stmts: Parameters<typeof client.batch>[0]) => {
						await new Promise((resolve) => setTimeout(resolve, 300));
						finished = true;
						return target.batch(stmts, "read");
					};
				}
				return Reflect.get(target, prop, receiver);
			},
		});
		const error = await runOql(
			{
				reads: new HeavyReads(directReadExecutor(stalled)),
				clock: slow.clock,
				config: { ...slow.deps.config, oql: { maxRangeDays: 31, timeoutMs: 50 } },
			},
			"org",
			"SELECT count(*) FROM logs",
		).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(ApiError);
		expect((error as ApiError).code).toBe("query_timeout");
		// Answered while the statement was still running: the deadline, not the statement, ended it.
		expect(finished).toBe(false);
	});
});

describe("injection attempts through the route", () => {
	let totalA: number;
	beforeAll(async () => {
		totalA = (await ok(`SELECT count(*) FROM logs ${W}`)).rows[0]?.[0] as number;
	});

	it("keeps quotes inside strings: values are bound parameters", async () => {
		for (const value of [
			"' OR 1=1 --",
			"x'') OR (''1''=''1",
			"'; DROP TABLE logs; --",
			"api\\' OR \\'1\\'=\\'1",
		]) {
			const text = value.replaceAll("'", "''");
			const body = await ok(
				`SELECT count(*) FROM logs WHERE service = '${text}' OR body LIKE '${text}' ${W}`,
			);
			expect(body.rows).toEqual([[0]]);
		}
	});

	it("reads attribute keys through a bound JSON path, and refuses keys a path cannot hold", async () => {
		const key = "http.route') OR ('1'='1";
		const body = await ok(
			`SELECT count(*) FROM logs WHERE attributes['${key.replaceAll("'", "''")}'] = 'x' ${W}`,
		);
		expect(body.rows).toEqual([[0]]);
		await expectOqlError(
			await dsl(`SELECT count(*) FROM logs WHERE attributes['a"] OR 1=1 --'] = 1`),
			400,
			"oql_invalid_query",
		);
		await expectOqlError(
			await dsl(`SELECT count(*) FROM logs WHERE attributes['a\\'] = 1`),
			400,
			"oql_invalid_query",
		);
	});

	it("takes names only from the field map", async () => {
		await expectOqlError(await dsl("SELECT org_id FROM logs"), 400, "oql_invalid_query");
		await expectOqlError(await dsl("SELECT count(*) FROM api_keys"), 400, "oql_invalid_query");
		await expectOqlError(
			await dsl(`SELECT count(*) FROM logs WHERE org_id = '${b.orgId}'`),
			400,
			"oql_invalid_query",
		);
		await expectOqlError(await dsl('SELECT count(*) FROM "logs"'), 400, "oql_syntax_error");
		await expectOqlError(await dsl("SELECT count(*) FROM logs; DROP TABLE logs"), 400, "oql_syntax_error");
		await expectOqlError(
			await dsl("SELECT count(*) FROM logs UNION SELECT key_hash FROM api_keys"),
			400,
			"oql_syntax_error",
		);
		await expectOqlError(await dsl("SELECT count(*) FROM logs /* x */"), 400, "oql_syntax_error");
		await expectOqlError(
			await dsl("SELECT count(*) FROM logs WHERE service = $service"),
			400,
			"oql_invalid_query",
		);
	});

	it("binds numbers; a condition that is always true only widens within the org and the window", async () => {
		expect((await ok(`SELECT count(*) FROM logs WHERE severity = 1 OR 1 = 1 ${W}`)).rows).toEqual([[totalA]]);
		await expectOqlError(await dsl("SELECT count(*) FROM logs LIMIT 1e3"), 400, "oql_syntax_error");
		await expectOqlError(await dsl("SELECT count(*) FROM logs LIMIT 0x10"), 400, "oql_syntax_error");
		await expectOqlError(
			await dsl("SELECT count(*) FROM logs WHERE severity > 99999999999999999999"),
			400,
			"oql_syntax_error",
		);
	});

	it("leaves the tables as they were", async () => {
		expect((await ok(`SELECT count(*) FROM logs ${W}`)).rows).toEqual([[totalA]]);
	});
});

describe("tenancy and access", () => {
	it("never shows another org's rows", async () => {
		expect((await ok("SELECT count(*) FROM logs WHERE body = 'org-b-secret'")).rows).toEqual([[0]]);
		expect((await ok("SELECT count(*) FROM logs WHERE body = 'org-b-secret'", b.key)).rows).toEqual([[1]]);
		expect((await ok(`SELECT count(*) FROM spans ${W}`)).rows).toEqual([[2_000]]);
		expect((await ok(`SELECT count(*) FROM spans ${W}`, b.key)).rows).toEqual([[800]]);
		expect((await ok(`SELECT count(*) FROM heartbeats ${W}`, b.key)).rows).toEqual([[30]]);
		expect((await ok(`SELECT count(*) FROM annotations ${W}`, b.key)).rows).toEqual([[4]]);
		expect((await ok(`SELECT count(*) FROM metrics ${W}`, b.key)).rows).toEqual([[50]]);
	});

	it("accepts API keys and JWTs of every role from viewer up", async () => {
		for (const role of ["viewer", "member", "admin", "owner"] as const) {
			const token = await t.mintToken({ orgId: a.orgId, role });
			const answer = await send(t, "POST", DSL, { auth: { token }, body: { query: SEED_EXAMPLE } });
			expect(answer.status, role).toBe(200);
			expect(answer.json.rows).toEqual(GOLDEN["errors in the last hour of data"]?.rows);
		}
	});

	it("answers 401 without a credential or with a bad one, 405 for other methods", async () => {
		const none = await dsl(SEED_EXAMPLE, null);
		await expectOqlError(none, 401, "missing_credentials");
		expect(none.headers.get("WWW-Authenticate")).toBe('ApiKey realm="hexcovery", header="X-API-Key"');
		await expectOqlError(await dsl(SEED_EXAMPLE, "hxk_not_a_key"), 401, "invalid_api_key");
		const get = await send(t, "GET", DSL, { auth: { key: a.key } });
		expect(get.status).toBe(405);
		expect(get.headers.get("Allow")).toBe("POST");
	});

	it("is in the OpenAPI document with both security schemes", async () => {
		const doc = (await (await t.app.request("/api/v1/openapi.json")).json()) as {
			paths: Record<string, Record<string, { security?: unknown; responses?: Record<string, unknown> }>>;
		};
		expect(doc.paths["/api/v1/dsl"]?.post?.security).toEqual([{ ApiKey: [] }, { Bearer: [] }]);
		expect(Object.keys(doc.paths["/api/v1/dsl"]?.post?.responses ?? {})).toEqual(
			expect.arrayContaining(["200", "400", "401", "503"]),
		);
	});
});

describe("runOql (dashboards and saved queries)", () => {
	const run = (query: string, options?: Parameters<typeof runOql>[3]) =>
		runOql(t.deps, a.orgId, query, options);

	it("replaces $variables with bound strings, never with query text", async () => {
		const direct = await run(`SELECT count(*) FROM logs WHERE service = 'checkout' ${W}`);
		const bound = await run(`SELECT count(*) FROM logs WHERE service = $service ${W}`, {
			variables: { service: "checkout" },
		});
		expect(bound.rows).toEqual(direct.rows);
		expect((direct.rows[0]?.[0] as number) > 0).toBe(true);
		const inList = await run(
			`SELECT count(*) FROM logs WHERE service IN ($a, $b) AND body NOT LIKE $p ${W}`,
			{
				variables: { a: "checkout", b: "nope", p: "zzz%" },
			},
		);
		expect(inList.rows).toEqual(direct.rows);
		for (const hostile of ["checkout' OR '1'='1", "checkout'' OR ''1''=''1", "' OR service IS NOT NULL --"]) {
			const injected = await run(`SELECT count(*) FROM logs WHERE service = $service ${W}`, {
				variables: { service: hostile },
			});
			expect(injected.rows).toEqual([[0]]);
		}
	});

	it("refuses an unknown variable with its position and the nearest name", async () => {
		const error = await run("SELECT count(*) FROM logs WHERE service = $servce", {
			variables: { service: "api" },
		}).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(ApiError);
		expect(error).toMatchObject({
			status: 400,
			code: "oql_invalid_query",
			options: { position: { line: 1, column: 43 } },
		});
		expect((error as ApiError).message).toMatch(/Unknown variable \$servce\. Did you mean service\?/);
	});

	it("lets from/to replace the query's own range, still within the maximum", async () => {
		const result = await run("SELECT count(*) FROM logs WHERE level = 'error' LAST 1h", {
			from: GOLDEN_START,
			to: GOLDEN_END,
		});
		expect(result.meta).toMatchObject({ from: "2026-11-01T00:00:00.000Z", to: "2026-11-01T06:00:00.000Z" });
		expect(result.rows).toEqual([[70]]);
		const error = await run("SELECT count(*) FROM logs", {
			from: GOLDEN_END - 40 * 86_400_000,
			to: GOLDEN_END,
		}).catch((e: unknown) => e);
		expect(error).toMatchObject({ status: 400, code: "oql_range_too_large" });
		const auto = await run("SELECT count(*) FROM spans TIMESERIES AUTO", {
			from: GOLDEN_START,
			to: GOLDEN_END,
		});
		expect(auto.rows).toHaveLength(72); // 6 h in 5 min buckets (at most 120)
		expect(auto.rows.reduce((sum, row) => sum + (row[1] as number), 0)).toBe(2_000);
	});

	it("returns integers past 2^53 as exact text, JSON values as the engine gives them", async () => {
		const result = await run(
			"SELECT attributes['big'] AS big, attributes['small'] + 1 AS small, attributes['nested'] AS nested, attributes['flag'] AS flag FROM logs WHERE body = 'big numbers' LAST 3h",
			{ from: GOLDEN_START - 2 * HOUR, to: GOLDEN_START },
		);
		expect(result.rows).toEqual([["9007199254740993", 43, '{"a":[1,2]}', 1]]);
	});

	it("counts rows and reports truncation at the limit", async () => {
		const result = await run(`SELECT timestamp FROM logs LIMIT 10 ${W}`);
		expect(result.meta).toMatchObject({ row_count: 10, truncated: true });
		expect(result.rows[0]?.[0]).toBe("2026-11-01T05:59:59.368Z"); // newest first;
		const all = await run(`SELECT timestamp FROM logs WHERE level = 'fatal' LIMIT 10 ${W}`);
		expect(all.meta).toMatchObject({ row_count: 10, truncated: false });
	});
});

describe("settings", () => {
	it("reads OQL_MAX_RANGE_DAYS and OQL_TIMEOUT_MS, with defaults, and names a bad one", () => {
		expect(oqlSettingsFrom({})).toEqual(DEFAULT_OQL_SETTINGS);
		expect(DEFAULT_OQL_SETTINGS).toEqual({ maxRangeDays: 31, timeoutMs: 10_000, maxMatchCost: 1e10 });
		expect(oqlSettingsFrom({ OQL_MAX_RANGE_DAYS: "7", OQL_TIMEOUT_MS: "2500" })).toEqual({
			maxRangeDays: 7,
			timeoutMs: 2_500,
			maxMatchCost: 1e10,
		});
		for (const bad of [{ OQL_MAX_RANGE_DAYS: "0" }, { OQL_MAX_RANGE_DAYS: "x" }, { OQL_TIMEOUT_MS: "-1" }]) {
			expect(() => oqlSettingsFrom(bad)).toThrow(ConfigError);
		}
		expect(() => oqlSettingsFrom({ OQL_TIMEOUT_MS: "1e9" })).toThrow(/OQL_TIMEOUT_MS is invalid/);
	});

	it("applies a smaller maximum range from the config", async () => {
		const error = await runOql(
			{ ...t.deps, config: { ...t.deps.config, oql: { maxRangeDays: 1, timeoutMs: 10_000 } } },
			a.orgId,
			"SELECT count(*) FROM logs LAST 2d",
		).catch((e: unknown) => e);
		expect(error).toMatchObject({ status: 400, code: "oql_range_too_large" });
		expect((error as ApiError).message).toMatch(/wider than the 1 day allowed \(it spans 2 days\)/);
	});
});
