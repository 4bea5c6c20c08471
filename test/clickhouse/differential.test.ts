/**
 * The differential suite: the OQL golden data set (bench/oql-data.ts) in embedded libSQL (the
 * existing seeding) and in ClickHouse (chdb behind the HTTP stand-in, through @clickhouse/client),
 * the same OQL on both — the golden queries, the bench's queries, more constructs, and random
 * well-typed queries from the SQLite properties (fast-check) — and the answers compared.
 *
 * Both answer over raw rows (`rollups: false`: rollup percentiles are histogram estimates): this suite
 * compares the compilers; test/clickhouse/oql-rollups.test.ts compares the answers from the rollups.
 * Compared exactly: columns, row counts, truncation, the window, text, times. Numbers: within 1e-9
 * relative (sums and averages add floats in another order; percentiles interpolate in Float64).
 * Known representation differences (docs/scale-out.md, "Where the answers differ"), normalized here:
 * ClickHouse keeps attribute values as text, so an attribute read back as a value (`attributes['k']`
 * in a select list, or a whole map) is compared as text on both sides.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OQL_BENCH_QUERIES } from "../../bench/oql.js";
import { runOqlOnClickHouse } from "../../src/clickhouse/oql.js";
import { runOql } from "../../src/oql/execute.js";
import type { SourceName } from "../../src/oql/fields.js";
import { typedQuery } from "../support/oql-arbitraries.js";
import { GOLDEN_END, GOLDEN_QUERIES, goldenSpecA, goldenSpecB } from "../support/oql-golden-queries.js";
import { type BothStores, comparableCell, loadBothStores, type OqlOutcome, oqlOutcome } from "./support.js";

const ORG_A = "org_diff_a";
const ORG_B = "org_diff_b";
/** The data set ends here: `LAST 1h` and the bench's windows read its last hours. */
const NOW = GOLDEN_END;

let stores: BothStores;

beforeAll(async () => {
	stores = await loadBothStores([goldenSpecA(ORG_A), goldenSpecB(ORG_B)], NOW);
});
afterAll(() => stores.close());

const onLibsql = (query: string, org = ORG_A) =>
	oqlOutcome(() => runOql(stores.deps, org, query, { rollups: false }));
const onClickHouse = (query: string, org = ORG_A) =>
	oqlOutcome(() => runOqlOnClickHouse(stores.deps, stores.clickhouse.client, org, query, { rollups: false }));

function comparable(outcome: OqlOutcome): unknown {
	if (!outcome.ok) return { error: outcome.code, status: outcome.status };
	const { columns, rows, meta } = outcome.result;
	return {
		columns,
		rows: rows.map((row) => row.map((cell, i) => comparableCell(cell, columns[i]?.type ?? ""))),
		meta: { from: meta.from, to: meta.to, row_count: meta.row_count, truncated: meta.truncated },
	};
}

/** `actual` with each number within 1e-9 relative of the expected one replaced by it. */
function withinTolerance(actual: unknown, expected: unknown): unknown {
	if (typeof actual === "number" && typeof expected === "number") {
		const close = Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(actual), Math.abs(expected));
		return close ? expected : actual;
	}
	if (Array.isArray(actual) && Array.isArray(expected)) {
		return actual.map((item, i) => withinTolerance(item, expected[i]));
	}
	if (actual && expected && typeof actual === "object" && typeof expected === "object") {
		const other = expected as Record<string, unknown>;
		return Object.fromEntries(
			Object.entries(actual).map(([key, value]) => [key, withinTolerance(value, other[key])]),
		);
	}
	return actual;
}

const isClose = (a: unknown, b: unknown) =>
	typeof a === "number" && typeof b === "number" && withinTolerance(a, b) === b;
const sameRow = (a: unknown[], b: unknown[]) =>
	a.length === b.length && a.every((cell, i) => cell === b[i] || isClose(cell, b[i]));

/**
 * ClickHouse's rows with neighbours that are a float tie put in libSQL's order: rows i and i+1
 * swap only when that makes both equal libSQL's rows i and i+1 and the two rows hold numbers within
 * 1e-9 of each other in some column (the sort key, added up in another order: 15.4 and
 * 15.400000000000006 sort either way). Any other difference in order still fails.
 */
function orderFloatTies(actual: unknown, expected: unknown): unknown {
	const rowsOf = (answer: unknown) => (answer as { rows?: unknown[][] } | null)?.rows;
	const [mine, theirs] = [rowsOf(actual), rowsOf(expected)];
	if (!Array.isArray(mine) || !Array.isArray(theirs) || mine.length !== theirs.length) return actual;
	const rows = [...mine];
	for (let i = 0; i + 1 < rows.length; i++) {
		const [a, b] = [rows[i] as unknown[], rows[i + 1] as unknown[]];
		const [x, y] = [theirs[i] as unknown[], theirs[i + 1] as unknown[]];
		const tied = a.some((cell, c) => typeof cell === "number" && isClose(cell, b[c]));
		if (tied && !sameRow(a, x) && sameRow(b, x) && sameRow(a, y)) {
			rows[i] = b;
			rows[i + 1] = a;
		}
	}
	return { ...(actual as object), rows };
}

async function expectSameAnswer(query: string, org = ORG_A): Promise<OqlOutcome> {
	const [lite, ch] = [await onLibsql(query, org), await onClickHouse(query, org)];
	const expected = comparable(lite);
	const actual = orderFloatTies(comparable(ch), expected);
	expect(withinTolerance(actual, expected), query).toEqual(expected);
	return lite;
}

/** Golden queries over the telemetry sources (heartbeats and annotations stay in libSQL). */
const telemetryGolden = Object.entries(GOLDEN_QUERIES).filter(
	([, query]) => !/\bFROM (heartbeats|annotations)\b/.test(query),
);

const MORE: Record<string, string> = {
	"MATCHES (RE2 on ClickHouse)":
		"SELECT service, count(*) FROM logs WHERE body MATCHES 'timeout after [0-9]+ms' GROUP BY service LAST 6h",
	"NOT LIKE and CONTAINS":
		"SELECT count(*) FROM logs WHERE body NOT LIKE '%cache%' AND body CONTAINS 'ms' LAST 6h",
	"case-insensitive LIKE (ASCII)": "SELECT count(*) FROM logs WHERE body LIKE '%TiMeOuT%' LAST 6h",
	"IS NULL / IS NOT NULL":
		"SELECT count(*), count(trace_id) FROM logs WHERE trace_id IS NULL OR severity IS NOT NULL LAST 6h",
	"latest and extremes":
		"SELECT service, latest(duration_ms) AS newest, min(timestamp) AS first_at, max(duration_ms) AS worst FROM spans GROUP BY service ORDER BY service LAST 6h",
	"TIMESERIES AUTO": "SELECT count(*), p99(duration_ms) FROM spans TIMESERIES AUTO LAST 6h",
	"TIMESERIES by key, ordered":
		"SELECT avg(duration_ms) AS a FROM spans GROUP BY service ORDER BY a DESC LIMIT 3 TIMESERIES 1h LAST 6h",
	"arithmetic and rate":
		"SELECT service, rate(count(*), 1s) AS per_s, sum(duration_ms) / count(*) * 2 AS x FROM spans GROUP BY service LAST 6h",
	"attribute arithmetic and IN numbers":
		"SELECT count(*), avg(attributes['http.status_code']) FROM spans WHERE attributes['http.status_code'] IN (200, 404) OR attributes['http.status_code'] * 1 > 499 LAST 6h",
	"percentile of an attribute": "SELECT percentile(attributes['http.status_code'], 90) FROM spans LAST 6h",
	"count distinct keys":
		"SELECT count_distinct(service), count_distinct(host), count_distinct(trace_id) FROM logs LAST 6h",
	"metrics by host":
		"SELECT host, avg(value), p50(value) FROM metrics WHERE name LIKE '%cpu%' GROUP BY host LAST 6h",
	"rows, newest first":
		"SELECT timestamp, service, level, body FROM logs WHERE level = 'error' LIMIT 20 LAST 1h",
	"rows, other org": "SELECT count(*) FROM spans LAST 6h",
	"no rows at all":
		"SELECT sum(duration_ms), avg(duration_ms), min(duration_ms), p95(duration_ms), latest(name), count_distinct(name) FROM spans WHERE service = 'none' LAST 6h",
	"a bad pattern": "SELECT count(*) FROM logs WHERE body MATCHES '(' LAST 1h",
	"over the range limit": "SELECT count(*) FROM logs LAST 40d",
};

describe("the same OQL over libSQL and ClickHouse", () => {
	it("loaded the same rows into both stores", async () => {
		const counts = await (
			await stores.clickhouse.client.query({
				query:
					"SELECT (SELECT count() FROM logs) AS logs, (SELECT count() FROM spans) AS spans, (SELECT count() FROM metric_points) AS metrics",
				format: "JSONEachRow",
			})
		).json();
		const lite = await stores.libsql.client.execute(
			"SELECT (SELECT count(*) FROM logs) AS logs, (SELECT count(*) FROM spans) AS spans, (SELECT count(*) FROM metric_points) AS metrics",
		);
		expect(counts).toEqual([{ ...lite.rows[0] }]);
		expect(Number(lite.rows[0]?.logs)).toBeGreaterThan(3_000);
	});

	it.each(telemetryGolden)("golden: %s", async (_, query) => {
		const lite = await expectSameAnswer(query);
		expect(lite.ok, query).toBe(true);
	});

	it.each(OQL_BENCH_QUERIES.map((q) => [q.label, q.oql]))("bench: %s", async (_, query) => {
		const lite = await expectSameAnswer(query);
		expect(lite.ok, query).toBe(true);
	});

	it.each(Object.entries(MORE))("more: %s", async (name, query) => {
		const lite = await expectSameAnswer(query, name === "rows, other org" ? ORG_B : ORG_A);
		if (name === "a bad pattern" || name === "over the range limit") expect(lite.ok).toBe(false);
		else expect(lite.ok, query).toBe(true);
	});

	it("puts neighbours that are a float tie in libSQL's order, and no other rows", () => {
		// Seen in the random queries (1 in ~2,500): avg over the same values, added in another order.
		const lite = {
			rows: [
				["billing", 18.000000000000004],
				["checkout", 18],
			],
		};
		const tie = {
			rows: [
				["checkout", 18],
				["billing", 17.999999999999986],
			],
		};
		expect(withinTolerance(orderFloatTies(tie, lite), lite)).toEqual(lite);
		// Not a tie: the order is ClickHouse's, and the comparison fails.
		const apart = {
			rows: [
				["checkout", 19],
				["billing", 18],
			],
		};
		const liteApart = {
			rows: [
				["billing", 18],
				["checkout", 19],
			],
		};
		expect(orderFloatTies(apart, liteApart)).toEqual(apart);
		// A tie, but swapping would not give libSQL's rows: left as it is.
		const other = {
			rows: [
				["checkout", 18],
				["auth", 18],
			],
		};
		expect(orderFloatTies(other, lite)).toEqual(other);
	});

	const propertyRuns = Number(process.env.CLICKHOUSE_PROPERTY_RUNS ?? 150);
	it("answers random well-typed queries alike (the SQLite properties' generator)", {
		timeout: 60_000 + propertyRuns * 250,
	}, async () => {
		let answered = 0;
		await fc.assert(
			fc.asyncProperty(
				fc.constantFrom<SourceName>("logs", "spans", "metrics").chain((source) => typedQuery(source)),
				async (query) => {
					const lite = await expectSameAnswer(query);
					if (lite.ok) answered++;
				},
			),
			{ numRuns: propertyRuns },
		);
		// Nearly every generated query is valid and answered; a third is a floor, not a draw.
		expect(answered).toBeGreaterThan(propertyRuns / 3);
	});
});
