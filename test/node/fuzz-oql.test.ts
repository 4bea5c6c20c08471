/**
 * Property/fuzz suite for OQL end to end (`POST /api/v1/dsl` over a real embedded database): random
 * queries from a grammar of fragments — MATCHES patterns valid, invalid and explosive, times from
 * year 1 to 9999, TIMESERIES intervals up to 100,000 weeks, odd LIMITs — and the golden queries
 * mutated character by character. None may answer 500; every error has the contract's shape; and
 * no statement runs past its cost bound: whenever the MATCHES work of a query (characters in its
 * window × pattern cost) is over OQL_MAX_MATCH_COST, the answer is 400 `oql_range_too_large`, and
 * every 200 was within it. Fixed seed in `npm test`; longer with `npm run fuzz`.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_OQL_SETTINGS } from "../../src/config.js";
import { ApiError } from "../../src/errors.js";
import { compileOql } from "../../src/oql/execute.js";
import { FakeClock } from "../support/clock.js";
import { fuzzRuns, fuzzTimeout } from "../support/fuzz.js";
import { send } from "../support/management.js";
import { createTestApp, type TestApp } from "../support/node-app.js";
import { GOLDEN_QUERIES } from "../support/oql-golden-queries.js";

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const MAX_MATCH_COST = 5_000_000;

let t: TestApp;
let org: { orgId: string; key: string };

beforeAll(async () => {
	t = await createTestApp({
		clock: new FakeClock(NOW),
		oql: { ...DEFAULT_OQL_SETTINGS, maxMatchCost: MAX_MATCH_COST },
	});
	org = await t.createOrgWithKey("Fuzz");
	const ns = (msAgo: number) => BigInt(NOW - msAgo) * 1_000_000n;
	for (let i = 0; i < 40; i++) {
		await t.database.client.execute({
			sql: `INSERT INTO logs (org_id, timestamp, observed_timestamp, level, body, service, resource_attributes, attributes)
			      VALUES (?, ?, ?, ?, ?, ?, '{}', ?)`,
			args: [
				org.orgId,
				ns(i * 60_000),
				ns(i * 60_000),
				["info", "error", "warn"][i % 3] as string,
				`request ${i} ${"ab".repeat(i * 10)} took ${i}ms`,
				`svc-${i % 4}`,
				JSON.stringify({ "http.route": `/api/v${i % 3}/items`, n: i }),
			],
		});
	}
});
afterAll(() => t.close());

// ---- fragments ----

const pattern = fc.oneof(
	fc.constantFrom(
		"ab",
		"^request",
		"[0-9]+ms$",
		"(a|b){40}c",
		"(x|y){300}z",
		"((a{10}){10}){10}",
		"(?i)x",
		"\\1",
		"[",
		"a{2,1}",
		"",
		"\\d+",
	),
	fc.stringMatching(/^[ab()|*+?{}[\]^$.\\0-9,xz]{1,24}$/),
	fc.nat({ max: 400 }).map((n) => `(a|b){${n}}c`),
);
const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;
const time = fc.oneof(
	fc.constantFrom(
		"0001-01-01T00:00:00Z",
		"1969-12-31T23:59:59Z",
		"1970-01-01T00:00:00Z",
		"2262-04-11T23:47:16.854Z",
		"2262-04-11T23:47:16.855Z",
		"2300-01-01T00:00:00Z",
		"9999-12-31T23:59:59Z",
		"2026-11-28T11:00:00Z",
		"2026-02-30T00:00:00Z",
		"not a time",
	),
	fc
		.date({ min: new Date(-62_000_000_000_000), max: new Date(253_000_000_000_000), noInvalidDate: true })
		.map((d) => d.toISOString()),
);
const duration = fc
	.tuple(
		fc.oneof(fc.nat({ max: 100 }), fc.constantFrom(0, 1, 20_000, 100_000, 10 ** 9)),
		fc.constantFrom("s", "m", "h", "d", "w"),
	)
	.map(([n, unit]) => `${n}${unit}`);
const field = fc.constantFrom(
	"body",
	"service",
	"level",
	"severity_text",
	"attributes['http.route']",
	"attributes['n']",
	"duration_ms",
	"name",
	"nonsense",
);
const predicate = fc.oneof(
	fc
		.tuple(field, fc.constantFrom("MATCHES", "NOT MATCHES"), pattern)
		.map(([f, op, p]) => `${f} ${op} ${quote(p)}`),
	fc
		.tuple(field, fc.constantFrom("=", "!=", "<", ">=", "CONTAINS", "LIKE"), fc.string({ maxLength: 8 }))
		.map(([f, op, v]) => `${f} ${op} ${quote(v)}`),
	fc
		.tuple(fc.constantFrom("timestamp >=", "timestamp <", "timestamp ="), time)
		.map(([f, v]) => `${f} ${quote(v)}`),
	fc.constantFrom(
		"level IN ('error', 'warn')",
		"trace_id IS NULL",
		"attributes['n'] > 10",
		"NOT (service = 'svc-1')",
	),
);
const where = fc
	.array(fc.tuple(predicate, fc.constantFrom(" AND ", " OR ")), { minLength: 0, maxLength: 3 })
	.map((parts) =>
		parts.length === 0 ? "" : ` WHERE ${parts.map(([p, j], i) => (i === 0 ? p : `${j}${p}`)).join("")}`,
	);
const range = fc.oneof(
	duration.map((d) => ` LAST ${d}`),
	time.map((s) => ` SINCE ${quote(s)}`),
	fc.tuple(time, time).map(([s, u]) => ` SINCE ${quote(s)} UNTIL ${quote(u)}`),
	duration.map((d) => ` SINCE ${d} AGO`),
	fc.constant(""),
);
const query = fc
	.record({
		select: fc.constantFrom(
			"count(*)",
			"body",
			"count(*), avg(attributes['n'])",
			"service, count(*)",
			"*",
			"max(timestamp)",
			"p95(duration_ms)",
		),
		from: fc.constantFrom("logs", "spans", "metrics", "traces", "nowhere"),
		where,
		group: fc.constantFrom("", " GROUP BY service", " GROUP BY level, service"),
		series: fc.oneof(
			fc.constant(""),
			fc.constant(" TIMESERIES AUTO"),
			duration.map((d) => ` TIMESERIES ${d}`),
		),
		limit: fc.constantFrom("", " LIMIT 1", " LIMIT 0", " LIMIT 10001", " LIMIT -1"),
		range,
	})
	.map((q) => `SELECT ${q.select} FROM ${q.from}${q.where}${q.group}${q.series}${q.limit}${q.range}`);

/** Mostly well-formed log queries with a MATCHES, so many run and the bound is met both ways. */
const matchesQuery = fc
	.record({
		select: fc.constantFrom("count(*)", "body", "service, count(*)", "count(*), max(timestamp)"),
		operand: fc.constantFrom("body", "service", "attributes['http.route']"),
		negated: fc.boolean(),
		pattern,
		extra: fc.constantFrom("", " AND level = 'error'", " OR service = 'svc-2'"),
		group: fc.constantFrom("", " GROUP BY service"),
		range: fc.constantFrom(" LAST 1h", " LAST 10m", " LAST 1d", " SINCE '2026-11-28T11:30:00Z'", ""),
	})
	.map(
		(q) =>
			`SELECT ${q.select} FROM logs WHERE ${q.operand} ${q.negated ? "NOT MATCHES" : "MATCHES"} ${quote(q.pattern)}${q.extra}${q.select.startsWith("service") ? " GROUP BY service" : q.group}${q.range}`,
	);

const mutated = fc
	.tuple(
		fc.constantFrom(...Object.values(GOLDEN_QUERIES)),
		fc.array(
			fc.tuple(
				fc.nat(),
				fc.constantFrom("delete", "insert"),
				fc.constantFrom(..."()'\",*=<>!|{}[]\\0123456789 aZ\n\u0000é"),
			),
			{ maxLength: 4 },
		),
	)
	.map(([text, edits]) => {
		let out = text;
		for (const [at, op, ch] of edits) {
			const i = at % (out.length + 1);
			out = op === "delete" ? out.slice(0, i) + out.slice(i + 1) : out.slice(0, i) + ch + out.slice(i);
		}
		return out;
	});

/** The MATCHES work of a query as its bound counts it, or null when it does not compile or has none. */
async function matchWork(text: string): Promise<number | null> {
	let compiled: ReturnType<typeof compileOql>;
	try {
		compiled = compileOql(t.deps, org.orgId, text);
	} catch (error) {
		if (error instanceof ApiError) return null;
		throw error;
	}
	const cost = compiled.regexCost;
	if (!cost) return null;
	const result = await t.database.client.execute({ sql: cost.sql, args: cost.params as never });
	const row = result.rows[0] ?? [];
	return cost.charCosts.reduce((sum, perChar, i) => sum + Number(row[i] ?? 0) * perChar, 0);
}

/** What the random queries reached, so the suite shows it exercised the bound both ways. */
const seen = { overBudget: 0, matchedWithinBudget: 0, ok: 0, refused: 0 };

async function check(text: string): Promise<void> {
	const answer = await send(t, "POST", "/api/v1/dsl", { auth: { key: org.key }, body: { query: text } });
	expect([200, 400, 503], `${answer.status} for ${JSON.stringify(text)}: ${answer.text}`).toContain(
		answer.status,
	);
	if (answer.status !== 200) {
		expect(answer.json.error).toEqual(
			expect.objectContaining({
				code: expect.any(String),
				message: expect.any(String),
				request_id: expect.any(String),
			}),
		);
		expect(answer.text).not.toMatch(/SQLITE|\bat \S+ \(|\?\d/);
	}
	const work = await matchWork(text);
	if (work !== null && work > MAX_MATCH_COST) {
		expect({ query: text, code: answer.json?.error?.code }).toEqual({
			query: text,
			code: "oql_range_too_large",
		});
	}
	if (answer.status === 200 && work !== null) expect(work).toBeLessThanOrEqual(MAX_MATCH_COST);
	if (work !== null && work > MAX_MATCH_COST) seen.overBudget++;
	if (work !== null && answer.status === 200) seen.matchedWithinBudget++;
	if (answer.status === 200) seen.ok++;
	else seen.refused++;
}

describe("OQL: property and fuzz suite", () => {
	it(
		"random queries: never a 500, errors in the contract's shape, MATCHES never past its cost bound",
		async () => {
			await fc.assert(fc.asyncProperty(fc.oneof(query, matchesQuery), check), fuzzRuns(300));
			expect(seen.overBudget, JSON.stringify(seen)).toBeGreaterThan(0);
			expect(seen.matchedWithinBudget, JSON.stringify(seen)).toBeGreaterThan(0);
			expect(seen.ok, JSON.stringify(seen)).toBeGreaterThan(0);
		},
		fuzzTimeout(120_000),
	);

	it(
		"the golden queries mutated character by character: never a 500",
		async () => {
			await fc.assert(fc.asyncProperty(mutated, check), fuzzRuns(300));
		},
		fuzzTimeout(120_000),
	);

	it("the review's attacks are among the answers the suite accepts: bounded, 400, never 500", async () => {
		for (const text of [
			"SELECT count(*) FROM logs WHERE body MATCHES '(x|y){300}z' LAST 5m",
			"SELECT count(*) FROM logs TIMESERIES 20000w",
			"SELECT count(*) FROM logs SINCE '2300-01-01T00:00:00Z'",
			"SELECT count(*) FROM logs WHERE timestamp >= '9999-12-31T23:59:59Z'",
		]) {
			const answer = await send(t, "POST", "/api/v1/dsl", { auth: { key: org.key }, body: { query: text } });
			expect(answer.status, text).toBe(400);
		}
	});
});
