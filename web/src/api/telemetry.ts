import type { ChartSeries } from "../components/time-chart";
import type { TimeRange } from "../components/time-range";
import { api, unwrap } from "./client";
import type { components } from "./schema";

export type OqlResult = components["schemas"]["OqlResult"];

/** The pages' window parameters: `range` for a relative window (the server's now), else from/to. */
export function rangeParams(range: TimeRange): { range?: string; from?: string; to?: string } {
	return range.key === "absolute"
		? { from: range.from.toISOString(), to: range.to.toISOString() }
		: { range: range.key };
}

/** The same window as an OQL clause. */
export function oqlWindow(range: TimeRange): string {
	return range.key === "absolute"
		? `SINCE '${range.from.toISOString()}' UNTIL '${range.to.toISOString()}'`
		: `LAST ${range.key}`;
}

/** A key that changes when the window does (not on every render of a relative one). */
export function rangeKey(range: TimeRange): string {
	return range.key === "absolute" ? `${range.from.getTime()}-${range.to.getTime()}` : range.key;
}

/** An OQL string literal: quotes doubled, as the language requires. */
export function oqlString(value: string): string {
	return `'${value.replaceAll("'", "''")}'`;
}

export function runOql(query: string): Promise<OqlResult> {
	return unwrap(api.POST("/api/v1/dsl", { body: { query } }));
}

/**
 * A TIMESERIES answer as chart data: the bucket column gives the times, the group keys name the
 * series (joined with " · "), and one value column is plotted.
 */
export function timeseriesChart(
	result: OqlResult,
	valueColumn?: string,
): { times: number[]; series: ChartSeries[] } {
	const names = result.columns.map((c) => c.name);
	const timeIndex = result.columns.findIndex((c) => c.type === "time" && c.name === "timestamp");
	const valueIndex = valueColumn ? names.indexOf(valueColumn) : result.columns.length - 1;
	const keyIndexes = result.columns
		.map((_c, i) => i)
		.filter((i) => i !== timeIndex && i !== valueIndex && result.columns[i]?.type !== "number");
	const times = [...new Set(result.rows.map((row) => Date.parse(String(row[timeIndex]))))].sort(
		(a, b) => a - b,
	);
	const position = new Map(times.map((t, i) => [t, i]));
	const bySeries = new Map<string, Array<number | null>>();
	for (const row of result.rows) {
		const label =
			keyIndexes.length === 0
				? (names[valueIndex] ?? "value")
				: keyIndexes.map((i) => String(row[i] ?? "(none)")).join(" · ");
		let values = bySeries.get(label);
		if (!values) {
			values = times.map(() => null);
			bySeries.set(label, values);
		}
		const value = row[valueIndex];
		values[position.get(Date.parse(String(row[timeIndex]))) as number] =
			typeof value === "number" ? value : null;
	}
	return { times, series: [...bySeries].map(([label, values]) => ({ label, values })) };
}

export const LEVEL_COLORS: Record<string, string> = {
	trace: "#adb5bd",
	debug: "#868e96",
	info: "#4c6ef5",
	warn: "#f59f00",
	error: "#e03131",
	fatal: "#862e9c",
};
