/**
 * The query explorer's and dashboards' pure parts (web/src/views/query/oql.ts, shape.ts,
 * dashboards/model.ts), the OQL ones checked against the real OQL compiler: the global range the
 * explorer adds parses after any text and leaves error positions where the person wrote them.
 */
import { describe, expect, it } from "vitest";
import { OqlError, prepareOql, sqliteDialect } from "../../src/oql/index.js";
import { fits, freeSpot, overlaps } from "../../web/src/views/dashboards/model.js";
import {
	completionWords,
	hasTimeRange,
	hasTimeseries,
	sourceOf,
	withoutPosition,
	withRange,
} from "../../web/src/views/query/oql.js";
import { autoKind, singleNumber, toSeries } from "../../web/src/views/query/shape.js";

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const FROM = new Date(NOW - 6 * 3_600_000);
const TO = new Date(NOW - 3_600_000);
const prepare = (text: string) => prepareOql(text, { orgId: "org_1", now: NOW, dialect: sqliteDialect });

function positionOf(text: string): unknown {
	try {
		prepare(text);
	} catch (error) {
		if (error instanceof OqlError) return error.position;
		throw error;
	}
	throw new Error("no error");
}

describe("the global range added to a query", () => {
	it("applies when the query names no range, even after a trailing comment", () => {
		const text = "SELECT count(*) FROM logs WHERE level = 'error' -- errors only";
		expect(hasTimeRange(text)).toBe(false);
		const compiled = prepare(withRange(text, FROM, TO));
		expect(compiled.range).toEqual({ fromMs: FROM.getTime(), toMs: TO.getTime() });
	});

	it("leaves the query's own LAST/SINCE/UNTIL alone, but not words in strings or comments", () => {
		expect(withRange("SELECT count(*) FROM logs LAST 15m", FROM, TO)).toBe(
			"SELECT count(*) FROM logs LAST 15m",
		);
		expect(hasTimeRange("SELECT count(*) FROM logs SINCE 2h ago")).toBe(true);
		expect(hasTimeRange("SELECT count(*) FROM logs WHERE body = 'LAST call' -- SINCE when?")).toBe(false);
		expect(hasTimeRange("SELECT count(*) FROM logs WHERE body = 'it''s LAST'")).toBe(false);
		expect(hasTimeseries("SELECT count(*) FROM logs TIMESERIES 5m")).toBe(true);
		expect(hasTimeseries("SELECT count(*) FROM logs WHERE body CONTAINS 'TIMESERIES'")).toBe(false);
	});

	it("keeps error positions where the person wrote them", () => {
		const text = "SELECT count(*)\nFORM logs";
		expect(positionOf(withRange(text, FROM, TO))).toEqual(positionOf(text));
		expect(positionOf(text)).toEqual({ line: 2, column: 1 });
	});

	it("finds the source after FROM, outside strings", () => {
		expect(sourceOf("select p95(duration_ms) from Spans group by service")).toBe("spans");
		expect(sourceOf("SELECT count(*) FROM logs WHERE body = 'FROM metrics'")).toBe("logs");
		expect(sourceOf("SELECT 1")).toBeNull();
	});
});

describe("completion words", () => {
	it("takes fields and attribute expressions from schema discovery, and fixed ones for the other sources", () => {
		const words = completionWords({
			sources: [
				{
					source: "spans",
					last_seen: null,
					fields: [
						{ name: "duration_ms", oql: "duration_ms", type: "number", description: "", values: null },
					],
					attributes: [
						{
							key: "http.route",
							namespace: "attributes",
							oql: "attributes['http.route']",
							types: ["string"],
							examples: [],
							first_seen: "",
							last_seen: "",
						},
						{
							key: 'odd"key',
							namespace: "attributes",
							oql: null,
							types: ["string"],
							examples: [],
							first_seen: "",
							last_seen: "",
						},
					],
				},
			],
		});
		expect(words.fields.spans).toEqual([["duration_ms", "number"]]);
		expect(words.fields.traces).toEqual(words.fields.spans);
		expect(words.attributes.spans).toEqual(["attributes['http.route']"]);
		expect(words.fields.heartbeats?.map(([name]) => name)).toContain("exit_code");
	});
});

describe("reading a result", () => {
	const timeseries = {
		columns: [
			{ name: "timestamp", type: "time" as const },
			{ name: "service", type: "string" as const },
			{ name: "count(*)", type: "number" as const },
		],
		rows: [
			["2026-11-28T11:00:00.000Z", "checkout", 4],
			["2026-11-28T11:05:00.000Z", "checkout", 2],
			["2026-11-28T11:05:00.000Z", "payments", 1],
			["2026-11-28T11:00:00.000Z", null, 7],
		],
		meta: { from: "", to: "", row_count: 4, truncated: false, elapsed_ms: 1, source: "raw" as const },
	};

	it("makes one series per group key, aligned on the buckets, gaps as null", () => {
		const data = toSeries(timeseries);
		expect(data?.times).toEqual([Date.UTC(2026, 10, 28, 11, 0), Date.UTC(2026, 10, 28, 11, 5)]);
		expect(data?.series).toEqual([
			{ label: "checkout", values: [4, 2] },
			{ label: "payments", values: [null, 1] },
			{ label: "(none)", values: [7, null] },
		]);
		expect(autoKind(timeseries, true)).toBe("timeseries");
		expect(autoKind(timeseries, false)).toBe("table");
	});

	it("names series by value column when there are several or no keys", () => {
		const data = toSeries({
			...timeseries,
			columns: [
				{ name: "timestamp", type: "time" },
				{ name: "p50", type: "number" },
				{ name: "p95", type: "number" },
			],
			rows: [["2026-11-28T11:00:00.000Z", 10, 90]],
		});
		expect(data?.series.map((s) => s.label)).toEqual(["p50", "p95"]);
	});

	it("shows a one-row, one-number answer as a number", () => {
		const single = { ...timeseries, columns: [{ name: "count(*)", type: "number" as const }], rows: [[19]] };
		expect(singleNumber(single)).toBe(19);
		expect(autoKind(single, false)).toBe("number");
		expect(toSeries(single)).toBeNull();
	});
});

describe("dashboard layout", () => {
	const panels = [
		{ id: "a", layout: { x: 0, y: 0, w: 12, h: 4 } },
		{ id: "b", layout: { x: 12, y: 0, w: 12, h: 4 } },
	];

	it("refuses overlaps and places outside the 24-column grid; touching edges is fine", () => {
		expect(overlaps({ x: 0, y: 0, w: 12, h: 4 }, { x: 12, y: 0, w: 12, h: 4 })).toBe(false);
		expect(fits({ x: 6, y: 2, w: 8, h: 4 }, panels)).toBe(false);
		expect(fits({ x: 0, y: 4, w: 24, h: 2 }, panels)).toBe(true);
		expect(fits({ x: 18, y: 4, w: 8, h: 2 }, panels)).toBe(false);
		expect(fits({ x: 0, y: 4, w: 25, h: 2 }, [])).toBe(false);
		// A panel may move over its own old place.
		expect(fits({ x: 1, y: 0, w: 11, h: 4 }, panels, "a")).toBe(true);
	});

	it("puts a new panel in the first free place", () => {
		expect(freeSpot(panels)).toEqual({ x: 0, y: 4, w: 12, h: 6 });
		expect(freeSpot([panels[0] as (typeof panels)[0]])).toEqual({ x: 12, y: 0, w: 12, h: 6 });
		expect(freeSpot([])).toEqual({ x: 0, y: 0, w: 12, h: 6 });
	});
});

describe("an error's position", () => {
	it("is taken off the end of the message, once, and nowhere else", () => {
		expect(withoutPosition("Expected FROM, found FORM (line 2, column 1)")).toBe("Expected FROM, found FORM");
		expect(withoutPosition("another began at line 1, column 8 (line 2, column 1)")).toBe(
			"another began at line 1, column 8",
		);
		expect(withoutPosition("Unknown field 'x'")).toBe("Unknown field 'x'");
	});
});
