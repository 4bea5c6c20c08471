/**
 * Security review finding 2: `SELECT count(*) FROM logs WHERE body MATCHES '(x|y){300}z' LAST 5m`
 * over 120 rows of 500 characters held the server for 25 s (SQLite's regexp.c costs states² a
 * character), longer over more rows, and nothing could stop it. The work MATCHES may do is now
 * bounded before the statement runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_OQL_SETTINGS, oqlSettingsFrom } from "../../src/config.js";
import { sqliteRegexCharCost } from "../../src/oql/sqlite-dialect.js";
import { FakeClock } from "../support/clock.js";
import { type Answer, send } from "../support/management.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const ATTACK = "SELECT count(*) FROM logs WHERE body MATCHES '(x|y){300}z' LAST 5m";
const XY = Array.from({ length: 500 }, (_, i) => (i % 2 ? "x" : "y")).join("");

let t: TestApp;
let a: { orgId: string; key: string };
let b: { orgId: string; key: string };

const dsl = (query: string, key = a.key): Promise<Answer> =>
	send(t, "POST", "/api/v1/dsl", { auth: { key }, body: { query } });

async function insertLogs(orgId: string, count: number, body: string, attributes = "{}") {
	const ns = BigInt(NOW - 60_000) * 1_000_000n;
	await t.database.client.execute({
		sql: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		      INSERT INTO logs (org_id, timestamp, observed_timestamp, level, body, resource_attributes, attributes)
		      SELECT ?, ?, ?, 'info', ?, '{}', ? FROM n`,
		args: [count, orgId, ns, ns, body, attributes],
	});
}

beforeAll(async () => {
	// A long deadline: the bound must hold without it.
	t = await createTestApp({
		clock: new FakeClock(NOW),
		oql: { ...DEFAULT_OQL_SETTINGS, timeoutMs: 600_000 },
	});
	a = await t.createOrgWithKey("Org A");
	b = await t.createOrgWithKey("Org B");
	await insertLogs(a.orgId, 120, XY, JSON.stringify({ path: XY }));
	// Another org's text is not read, so it cannot make org A's query too expensive.
	await insertLogs(b.orgId, 5_000, XY);
});
afterAll(() => t.close());

describe("MATCHES cost bound (finding 2)", () => {
	it("the review's attack is refused before it runs: 400 oql_range_too_large naming the remedy", async () => {
		const answer = await dsl(ATTACK);
		expect(answer.status, answer.text).toBe(400);
		expect(answer.json.error.code).toBe("oql_range_too_large");
		expect(answer.json.error.message).toMatch(/^MATCHES would read 60000 characters/);
		expect(answer.json.error.message).toMatch(/Narrow the time range/);
		expect(answer.text).not.toMatch(/REGEXP|SELECT total|\?\d/);
	});

	it("on an attribute and negated too", async () => {
		for (const query of [
			"SELECT count(*) FROM logs WHERE attributes['path'] MATCHES '(x|y){300}z' LAST 5m",
			"SELECT count(*) FROM logs WHERE NOT (body NOT MATCHES '(x|y){300}z') LAST 5m",
		]) {
			const answer = await dsl(query);
			expect({ status: answer.status, code: answer.json.error?.code }).toEqual({
				status: 400,
				code: "oql_range_too_large",
			});
		}
	});

	it("cheap patterns over the same rows run and answer correctly", async () => {
		const answer = await dsl("SELECT count(*) FROM logs WHERE body MATCHES '^(yx)+$' LAST 5m");
		expect(answer.status, answer.text).toBe(200);
		expect(answer.json.rows).toEqual([[120]]);
		const none = await dsl("SELECT count(*) FROM logs WHERE body MATCHES 'z' LAST 5m");
		expect(none.json.rows).toEqual([[0]]);
	});

	it("the cost is the org's own text: the same pattern over a window without org A's rows runs", async () => {
		const answer = await dsl(
			"SELECT count(*) FROM logs WHERE body MATCHES '(x|y){300}z' SINCE '2026-11-28T10:00:00Z' UNTIL '2026-11-28T11:00:00Z'",
		);
		expect(answer.status, answer.text).toBe(200);
		expect(answer.json.rows).toEqual([[0]]);
	});

	it("a pattern's cost per character is its states squared; the budget is OQL_MAX_MATCH_COST", () => {
		expect(sqliteRegexCharCost("abc")).toBe(9);
		expect(sqliteRegexCharCost("(x|y){300}z")).toBe(901 * 901);
		expect(oqlSettingsFrom({}).maxMatchCost).toBe(1e10);
		expect(oqlSettingsFrom({ OQL_MAX_MATCH_COST: "5000" }).maxMatchCost).toBe(5000);
		expect(() => oqlSettingsFrom({ OQL_MAX_MATCH_COST: "-1" })).toThrow(/OQL_MAX_MATCH_COST/);
	});
});
