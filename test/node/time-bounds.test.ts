/**
 * Security review findings 5 and 6: times past what 64-bit nanoseconds hold answered 500; a crafted
 * page cursor carrying its own window skipped the 31-day limit. Every time a client gives — OQL time
 * points and literals, TIMESERIES intervals, page windows and cursors — is checked against the
 * valid range, and a cursor's window goes through every rule a first page's does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { send } from "../support/management.js";
import { createWorld, get, HOUR, T0, type World } from "../support/pages.js";

let world: World;
beforeAll(async () => {
	world = await createWorld({ logs: 50, spans: 50, metrics: 10 });
});
afterAll(() => world.t.close());

const RANGE = /1970-01-01T00:00:00\.000Z and 2262-04-11T23:47:16\.854Z/;

const dsl = (query: string) => send(world.t, "POST", "/api/v1/dsl", { auth: world.tokenA, body: { query } });

const cursorOf = (value: unknown) =>
	btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

describe("times beyond 64-bit nanoseconds (finding 6)", () => {
	it("OQL: a time point, a time literal or a TIMESERIES interval past the range → 400 naming the range", async () => {
		for (const query of [
			"SELECT count(*) FROM logs SINCE '2300-01-01T00:00:00Z'",
			"SELECT count(*) FROM logs SINCE '2262-04-11T00:00:00Z' UNTIL '2262-04-12T00:00:00Z'",
			"SELECT count(*) FROM logs WHERE timestamp >= '9999-12-31T23:59:59Z' LAST 1h",
			"SELECT count(*) FROM spans WHERE timestamp < '1900-01-01T00:00:00Z' LAST 1h",
			"SELECT count(*) FROM logs SINCE '1969-12-31T00:00:00Z' UNTIL '1970-01-01T01:00:00Z'",
			"SELECT count(*) FROM logs TIMESERIES 20000w LAST 1h",
		]) {
			const response = await dsl(query);
			const body = response.json as { error: { code: string; message: string } };
			expect({ query, status: response.status }).toEqual({ query, status: 400 });
			expect(body.error.code, query).toMatch(/^oql_(invalid_query|range_too_large)$/);
			expect(body.error.message, query).toMatch(RANGE);
		}
	});

	it("pages: from or to past the range → 400 invalid_request naming the range", async () => {
		for (const path of [
			"/api/v1/pages/logs?to=2300-01-01T00:00:00Z",
			"/api/v1/pages/traces?from=2262-04-11T00:00:00Z&to=2262-04-12T00:00:00Z",
			"/api/v1/pages/hosts?from=1969-12-31T23:00:00Z&to=1970-01-01T00:30:00Z",
			"/api/v1/pages/overview?to=9300000000000",
		]) {
			const answer = await get(world, path);
			expect({ path, status: answer.status, code: answer.json?.error?.code }).toEqual({
				path,
				status: 400,
				code: "invalid_request",
			});
			expect(JSON.stringify(answer.json.error.details), path).toMatch(RANGE);
		}
	});

	it("a time in range still works: the newest valid instant", async () => {
		const response = await dsl(
			"SELECT count(*) FROM logs WHERE timestamp < '2262-04-11T23:47:16.854Z' LAST 1h",
		);
		expect(response.status).toBe(200);
	});
});

describe("page cursors carry no authority (finding 5)", () => {
	it("a cursor with a window wider than 31 days, a negative bound or a bound past 2262 → 400", async () => {
		for (const kind of ["logs", "traces", "hosts"] as const) {
			const first = await get(world, `/api/v1/pages/${kind}?range=2h&limit=1`);
			expect(first.status, first.text).toBe(200);
			const real = JSON.parse(atob(String(first.json.next_cursor).replaceAll("-", "+").replaceAll("_", "/")));
			for (const window of [
				{ f: T0 - 400 * 24 * HOUR, t: T0 },
				{ f: -5_000, t: T0 - 2 * HOUR },
				{ f: T0, t: 9_300_000_000_000 },
			]) {
				const answer = await get(
					world,
					`/api/v1/pages/${kind}?range=2h&limit=1&cursor=${cursorOf({ ...real, ...window })}`,
				);
				expect({ kind, window, status: answer.status, code: answer.json?.error?.code }).toEqual({
					kind,
					window,
					status: 400,
					code: "invalid_request",
				});
			}
			// The real cursor still reads the next page.
			const next = await get(
				world,
				`/api/v1/pages/${kind}?range=2h&limit=1&cursor=${first.json.next_cursor}`,
			);
			expect(next.status, next.text).toBe(200);
		}
	});

	it("a cursor whose position lies outside its window → 400", async () => {
		const first = await get(world, "/api/v1/pages/logs?range=2h&limit=1");
		const real = JSON.parse(atob(String(first.json.next_cursor).replaceAll("-", "+").replaceAll("_", "/")));
		const outside = { ...real, a: [String(BigInt(T0 + 10 * HOUR) * 1_000_000n), 1] };
		const answer = await get(world, `/api/v1/pages/logs?range=2h&limit=1&cursor=${cursorOf(outside)}`);
		expect({ status: answer.status, code: answer.json?.error?.code }).toEqual({
			status: 400,
			code: "invalid_request",
		});
	});
});
