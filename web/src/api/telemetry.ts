import type { ChartSeries } from "../components/time-chart";
import { refreshTick, type TimeRange } from "../components/time-range";
import { toSeries } from "../views/query/shape";
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

/**
 * A key that changes when the window does (not on every render of a relative one), and when the
 * header's Refresh is pressed (a component that calls this re-renders on it).
 */
export function rangeKey(range: TimeRange): string {
	const window = range.key === "absolute" ? `${range.from.getTime()}-${range.to.getTime()}` : range.key;
	return `${window}#${refreshTick.value}`;
}

/** An OQL string literal: quotes doubled, as the language requires. */
export function oqlString(value: string): string {
	return `'${value.replaceAll("'", "''")}'`;
}

export function runOql(query: string): Promise<OqlResult> {
	return unwrap(api.POST("/api/v1/dsl", { body: { query } }));
}

/** A TIMESERIES answer as chart data (one series per group); empty when it has no time axis. */
export function timeseriesChart(result: OqlResult): { times: number[]; series: ChartSeries[] } {
	return toSeries(result) ?? { times: [], series: [] };
}

export const LEVEL_COLORS: Record<string, string> = {
	trace: "#adb5bd",
	debug: "#868e96",
	info: "#4c6ef5",
	warn: "#f59f00",
	error: "#e03131",
	fatal: "#862e9c",
};
