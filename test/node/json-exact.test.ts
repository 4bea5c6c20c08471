/**
 * Integers beyond ±2^53 in stored attribute maps come back exact — as decimal strings, as OTLP/JSON
 * writes int64 — from OQL's `SELECT *` and from the built-in pages, instead of rounded numbers.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJsonExact, quoteUnsafeIntegers } from "../../src/http/json-exact.js";
import { request, tokenFor } from "../support/heartbeats.js";
import { createTestApp, type TestApp } from "../support/node-app.js";

describe("parseJsonExact", () => {
	it("keeps unsafe integers as their text and leaves everything else as JSON.parse reads it", () => {
		expect(
			parseJsonExact('{"big": 9007199254740993, "neg": -9223372036854775808, "safe": 9007199254740991}'),
		).toEqual({
			big: "9007199254740993",
			neg: "-9223372036854775808",
			safe: 9007199254740991,
		});
		expect(
			parseJsonExact('{"s": "id 12345678901234567890 \\" 12345678901234567890", "f": 1.5e300, "a": [1, 2]}'),
		).toEqual({
			s: 'id 12345678901234567890 " 12345678901234567890',
			f: 1.5e300,
			a: [1, 2],
		});
	});

	it("changes no JSON without unsafe integers (property)", () => {
		fc.assert(
			fc.property(fc.jsonValue(), (value) => {
				const text = JSON.stringify(value);
				const safe = !/\d{16}/.test(text);
				return !safe || quoteUnsafeIntegers(text) === text;
			}),
			{ seed: 42, numRuns: 500 },
		);
	});
});

describe("unsafe integers through the API", () => {
	let t: TestApp;
	let token = "";
	const now = Date.now();
	beforeAll(async () => {
		t = await createTestApp();
		const org = await t.createOrgWithKey("Big");
		token = await tokenFor(t, org.orgId, "viewer");
		await t.database.client.execute({
			sql: `INSERT INTO logs (org_id, timestamp, observed_timestamp, level, body, service, host, resource_attributes, attributes)
			      VALUES (?, ?, ?, 'info', 'int64 attribute', 'api', 'h1', '{"pid": 9007199254740993}', '{"big": 9007199254740993, "small": 7}')`,
			args: [org.orgId, BigInt(now - 60_000) * 1_000_000n, BigInt(now - 60_000) * 1_000_000n],
		});
	});
	afterAll(() => t.close());

	it("OQL SELECT * returns the attribute map with the integer exact", async () => {
		const res = await request(t, "POST", "/api/v1/dsl", {
			token,
			json: { query: "SELECT * FROM logs WHERE body = 'int64 attribute' LAST 1h" },
		});
		expect(res.status, res.text).toBe(200);
		const columns = (res.json.columns as { name: string }[]).map((c) => c.name);
		const row = res.json.rows[0] as unknown[];
		expect(row[columns.indexOf("attributes")]).toEqual({ big: "9007199254740993", small: 7 });
		expect(row[columns.indexOf("resource")]).toEqual({ pid: "9007199254740993" });
	});

	it("the logs page returns the attribute and resource maps exact", async () => {
		const res = await request(t, "GET", "/api/v1/pages/logs?range=1h", { token });
		expect(res.status, res.text).toBe(200);
		expect(res.json.data[0].attributes).toEqual({ big: "9007199254740993", small: 7 });
		expect(res.json.data[0].resource).toEqual({ pid: "9007199254740993" });
		expect(res.text).not.toContain("9007199254740992");
	});
});
