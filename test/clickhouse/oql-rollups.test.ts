/**
 * OQL from ClickHouse's rollups (src/oql/rollup-planner.ts with the ClickHouse dialect; the tables of
 * clickhouse/migrations/0004_rollups.sql, kept by materialized views): the OQL golden data set in
 * libSQL (rollups rebuilt as ingest writes them) and in ClickHouse (rolled up by the views as it is
 * inserted), and for each query and window four answers — ClickHouse from its rollups, ClickHouse
 * over raw rows (`rollups: false`), libSQL from its rollups and libSQL over raw rows.
 *
 * - ClickHouse's rollup answer equals its raw answer: counts exactly, sums, averages, minima and
 *   maxima within 1e-9 relative (another summation order); percentiles from the histograms within
 *   PERCENTILE_RELATIVE_ERROR (2^(1/16) − 1 ≈ 4.4 %) of the exact ones.
 * - It equals libSQL's rollup answer within 1e-9 relative, percentiles included (the same histogram
 *   buckets: ClickHouse's log2 puts every duration where src/ingest/rollups.ts `histogramIndex` does),
 *   with the same `meta.source`.
 * - Windows of whole hours, whole minutes, unaligned ones (raw edges) and one inside a minute (raw).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OQL_BENCH_QUERIES } from "../../bench/oql.js";
import { compileOqlForClickHouse, runOqlOnClickHouse } from "../../src/clickhouse/oql.js";
import { HOUR_MS, MINUTE_MS, PERCENTILE_RELATIVE_ERROR } from "../../src/ingest/rollups.js";
import { type OqlResult, runOql } from "../../src/oql/execute.js";
import type { SourceName } from "../../src/oql/fields.js";
import { typedQuery } from "../support/oql-arbitraries.js";
import { GOLDEN_END, GOLDEN_QUERIES, GOLDEN_START, goldenSpecA } from "../support/oql-golden-queries.js";
import { ROLLUP_COUNT_SHAPES, ROLLUP_PERCENTILE_SHAPES } from "../support/oql-rollup-plans.js";
import { type BothStores, comparableCell, loadBothStores, type OqlOutcome, oqlOutcome } from "./support.js";

const ORG = "org_ch_rollups";
const NOW = GOLDEN_END;

let stores: BothStores;

beforeAll(async () => {
	stores = await loadBothStores([goldenSpecA(ORG)], NOW);
});
afterAll(() => stores.close());

const onClickHouse = (query: string, rollups: boolean) =>
	oqlOutcome(() =>
		runOqlOnClickHouse(stores.deps, stores.clickhouse.client, ORG, query, rollups ? {} : { rollups: false }),
	);
const onLibsql = (query: string, rollups: boolean) =>
	oqlOutcome(() => runOql(stores.deps, ORG, query, rollups ? {} : { rollups: false }));

/** Which visible columns of the query's rollup plan on ClickHouse are percentiles read from histograms. */
function histogramColumns(query: string): boolean[] {
	try {
		return compileOqlForClickHouse(stores.deps, ORG, query)
			.columns.filter((c) => c.role !== "rank")
			.map((c) => c.histogramPercentile !== undefined);
	} catch {
		return [];
	}
}

/**
 * `actual` against `expected`: the same columns, window, row count and truncation; each number within
 * `bound(column)` relative (+1e-9 absolute), everything else equal.
 */
function expectClose(
	actual: OqlOutcome,
	expected: OqlOutcome,
	bound: (column: number) => number,
	label: string,
): void {
	if (!actual.ok || !expected.ok) {
		expect(actual, label).toEqual(expected);
		return;
	}
	const a = actual.result;
	const e = expected.result;
	expect(a.columns, label).toEqual(e.columns);
	const meta = (m: OqlResult["meta"]) => ({
		from: m.from,
		to: m.to,
		row_count: m.row_count,
		truncated: m.truncated,
	});
	expect(meta(a.meta), label).toEqual(meta(e.meta));
	expect(a.rows.length, label).toBe(e.rows.length);
	for (const [i, row] of a.rows.entries()) {
		for (const [j, value] of row.entries()) {
			const type = a.columns[j]?.type ?? "";
			const want = comparableCell(e.rows[i]?.[j], type);
			const got = comparableCell(value, type);
			if (typeof got === "number" && typeof want === "number") {
				expect(Math.abs(got - want), `${label} row ${i} column ${j}: ${got} vs ${want}`).toBeLessThanOrEqual(
					bound(j) * Math.abs(want) + 1e-9,
				);
			} else {
				expect(got, `${label} row ${i} column ${j}`).toEqual(want);
			}
		}
	}
}

const sourceOf = (o: OqlOutcome) => (o.ok ? o.result.meta.source : o.code);

/**
 * The answers of one query: ClickHouse's rollup answer against its raw one (percentiles within the
 * histogram bound) and, when from the rollups, against libSQL's rollup answer (within 1e-9); the
 * same source on both engines. Returns ClickHouse's source.
 */
async function expectRollupsAgree(query: string): Promise<string> {
	const chRollups = await onClickHouse(query, true);
	const chRaw = await onClickHouse(query, false);
	const liteRollups = await onLibsql(query, true);
	if (chRaw.ok) expect(chRaw.result.meta.source).toBe("raw");
	expect(sourceOf(chRollups), query).toBe(sourceOf(liteRollups));
	const percentiles = histogramColumns(query);
	expectClose(
		chRollups,
		chRaw,
		(j) => (percentiles[j] ? PERCENTILE_RELATIVE_ERROR : 1e-9),
		`${query} (vs raw)`,
	);
	// Raw answers across the engines are the differential suite's (there, ties in an ORDER BY over
	// interpolated floats may order differently: 17 and 17.000000000000004 are not equal).
	if (sourceOf(chRollups).startsWith("rollup"))
		expectClose(chRollups, liteRollups, () => 1e-9, `${query} (vs libSQL's rollups)`);
	return sourceOf(chRollups);
}

const iso = (ms: number) => new Date(ms).toISOString();
const window = (fromMs: number, toMs: number) => `SINCE '${iso(fromMs)}' UNTIL '${iso(toMs)}'`;
const at = (hours: number, minutes = 0, ms = 0) => GOLDEN_START + hours * HOUR_MS + minutes * MINUTE_MS + ms;

/** Windows of the data set (00:00–06:00) and the source a count over each is read from. */
const WINDOWS = {
	"whole hours": { text: window(at(1), at(5)), count: "rollup_1h", percentile: "rollup_1h" },
	"whole minutes within an hour": {
		text: window(at(1, 17), at(1, 43)),
		count: "rollup_1m",
		percentile: "rollup_1m",
	},
	"whole minutes across hours": {
		text: window(at(0, 13), at(4, 59)),
		count: "rollup_1h",
		percentile: "rollup_1h",
	},
	// Raw rows at the edges: counts and sums still from the rollups; percentiles need whole minutes.
	unaligned: { text: window(at(0, 13, 27_500), at(3, 41, 10_250)), count: "rollup_1h", percentile: "raw" },
	"unaligned within an hour": {
		text: window(at(2, 5, 10_000), at(2, 50, 45_500)),
		count: "rollup_1m",
		percentile: "raw",
	},
	"inside one minute": { text: window(at(2, 5, 10_000), at(2, 5, 50_000)), count: "raw", percentile: "raw" },
} as const;

describe("OQL from ClickHouse's rollups", () => {
	it.each(Object.entries(WINDOWS))(
		"equals ClickHouse's raw answer and libSQL's rollups: %s",
		async (_, w) => {
			for (const query of ROLLUP_COUNT_SHAPES) {
				const source = await expectRollupsAgree(`${query} ${w.text}`);
				// A TIMESERIES by 15m / 1m / 30m buckets reads minutes at most.
				const expected =
					/ TIMESERIES (1m|15m)/.test(query) && w.count === "rollup_1h" ? "rollup_1m" : w.count;
				expect(source, query).toBe(expected);
			}
			for (const query of ROLLUP_PERCENTILE_SHAPES) {
				const source = await expectRollupsAgree(`${query} ${w.text}`);
				const expected =
					/ TIMESERIES 30m/.test(query) && w.percentile === "rollup_1h" ? "rollup_1m" : w.percentile;
				expect(source, query).toBe(expected);
			}
		},
	);

	it("reads the rollup tables on ClickHouse, the raw table with rollups off", () => {
		const text = `SELECT service, count(*), p95(duration_ms) FROM spans GROUP BY service ${WINDOWS["whole minutes across hours"].text}`;
		const plan = compileOqlForClickHouse(stores.deps, ORG, text);
		expect(plan.source).toBe("rollup_1h");
		expect(plan.sql).toContain("FROM span_latency_1h WHERE org_id = {p");
		expect(plan.sql).toContain("FROM span_latency_1m WHERE org_id = {p");
		expect(plan.sql).toContain("sumMap(hist)");
		expect(plan.sql).not.toContain('FROM "spans"');
		const raw = compileOqlForClickHouse(stores.deps, ORG, text, { rollups: false });
		expect(raw.source).toBeUndefined();
		expect(raw.sql).toContain('FROM "spans" AS "t"');
		expect(raw.sql).not.toMatch(/_1[mh]\b/);
	});

	it.each([
		...Object.entries(GOLDEN_QUERIES).filter(([, q]) => !/\bFROM (heartbeats|annotations)\b/.test(q)),
		...OQL_BENCH_QUERIES.map((q) => [q.label, q.oql] as [string, string]),
	])("golden and bench queries alike: %s", async (_, query) => {
		await expectRollupsAgree(query);
	});

	it("answers random windows alike (fast-check)", { timeout: 120_000 }, async () => {
		const seen = new Set<string>();
		// Offsets within the data set's 6 hours, each at a whole hour, a whole minute or any ms.
		const offset = fc.oneof(
			fc.integer({ min: 0, max: 6 }).map((h) => h * HOUR_MS),
			fc.integer({ min: 0, max: 360 }).map((m) => m * MINUTE_MS),
			fc.integer({ min: 0, max: 6 * HOUR_MS }),
		);
		await fc.assert(
			fc.asyncProperty(
				fc.constantFrom(...ROLLUP_COUNT_SHAPES, ...ROLLUP_PERCENTILE_SHAPES),
				offset,
				offset,
				async (query, a, b) => {
					fc.pre(a !== b);
					const [from, to] = a < b ? [a, b] : [b, a];
					seen.add(await expectRollupsAgree(`${query} ${window(GOLDEN_START + from, GOLDEN_START + to)}`));
				},
			),
			{ numRuns: Number(process.env.CLICKHOUSE_PROPERTY_RUNS ?? 60) },
		);
		expect([...seen].sort()).toEqual(["raw", "rollup_1h", "rollup_1m"]);
	});

	it("answers random well-typed queries alike (the SQLite properties' generator)", {
		timeout: 120_000,
	}, async () => {
		// The generator's queries are answered from the rollups about 6 % of the time (most carry a
		// condition or a shape the rollups cannot answer), about 9 in 150 runs, so a floor on that count
		// failed by chance (CI drew 5). A quarter of the runs are rollup shapes over random whole hours:
		// the floor below says rollup answers were compared at all; the generator's own share is not
		// floored (the random-windows property above covers those shapes; this one the typed queries).
		const hour = fc.integer({ min: 0, max: 6 }).map((h) => GOLDEN_START + h * HOUR_MS);
		const rollupShaped = fc
			.tuple(fc.constantFrom(...ROLLUP_COUNT_SHAPES, ...ROLLUP_PERCENTILE_SHAPES), hour, hour)
			.filter(([, a, b]) => a !== b)
			.map(([shape, a, b]) => `${shape} ${window(Math.min(a, b), Math.max(a, b))}`);
		const typed = fc.constantFrom<SourceName>("logs", "spans").chain((source) => typedQuery(source));
		const runs = Number(process.env.CLICKHOUSE_PROPERTY_RUNS ?? 150);
		let fromRollups = 0;
		await fc.assert(
			fc.asyncProperty(
				fc.oneof({ weight: 3, arbitrary: typed }, { weight: 1, arbitrary: rollupShaped }),
				async (query) => {
					if ((await expectRollupsAgree(query)).startsWith("rollup")) fromRollups++;
				},
			),
			{ numRuns: runs },
		);
		// About 30 % expected; a tenth is more than five standard deviations below that at 150 runs
		// (a chance of about 2e-9).
		expect(fromRollups).toBeGreaterThanOrEqual(Math.floor(runs / 10));
	});
});
