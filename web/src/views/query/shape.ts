/**
 * How an OQL answer is read for drawing (pure, no DOM): series for a chart, a single figure, the
 * view that suits it. The answer has no column roles, so they are read from the types.
 */
import { formatTime } from "../../components/format";
import type { OqlResult } from "./oql";

/** One series on the time axis (the shape TimeChart takes). */
export interface Series {
	label: string;
	values: Array<number | null>;
}

export type ResultKind = "table" | "timeseries" | "bar" | "number" | "logs";

/**
 * A TIMESERIES answer as chart series: the time column is the x axis, number columns are values,
 * every other column is a group key, so each key combination (× value column) is one series.
 */
export function toSeries(result: OqlResult): { times: number[]; series: Series[] } | null {
	const timeIndex = result.columns.findIndex((c) => c.type === "time");
	if (timeIndex < 0) return null;
	const valueIndexes = result.columns.flatMap((c, i) => (c.type === "number" && i !== timeIndex ? [i] : []));
	if (valueIndexes.length === 0) return null;
	const keyIndexes = result.columns.flatMap((_column, i) =>
		i !== timeIndex && !valueIndexes.includes(i) ? [i] : [],
	);
	const times = [...new Set(result.rows.map((row) => Date.parse(String(row[timeIndex]))))]
		.filter((t) => Number.isFinite(t))
		.sort((a, b) => a - b);
	const position = new Map(times.map((t, i) => [t, i]));
	const series = new Map<string, Series>();
	for (const row of result.rows) {
		const slot = position.get(Date.parse(String(row[timeIndex])));
		if (slot === undefined) continue;
		const keys = keyIndexes.map((i) => (row[i] === null ? "(none)" : String(row[i])));
		for (const v of valueIndexes) {
			const parts = [...keys];
			if (valueIndexes.length > 1 || keys.length === 0) parts.push(result.columns[v]?.name ?? "");
			const label = parts.join(" · ");
			let entry = series.get(label);
			if (!entry) {
				entry = { label, values: times.map(() => null) };
				series.set(label, entry);
			}
			const value = row[v];
			entry.values[slot] = typeof value === "number" ? value : null;
		}
	}
	return { times, series: [...series.values()] };
}

/** The single figure of a one-row answer: its first number. */
export function singleNumber(result: OqlResult): number | null {
	const row = result.rows[0];
	if (!row) return null;
	const index = result.columns.findIndex((c) => c.type === "number");
	const value = index >= 0 ? row[index] : null;
	return typeof value === "number" ? value : null;
}

/** How a result looks best when the person has not chosen. */
export function autoKind(result: OqlResult, isTimeseries: boolean): ResultKind {
	if (isTimeseries && toSeries(result)) return "timeseries";
	if (result.rows.length === 1 && result.columns.length === 1 && singleNumber(result) !== null)
		return "number";
	return "table";
}

export function formatCell(value: unknown): string {
	if (value === null || value === undefined) return "—";
	if (typeof value === "number")
		return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
	if (typeof value === "string") return value;
	return JSON.stringify(value);
}

/**
 * How each column's cells are written: a `time` column as every moment in the UI is (formatTime,
 * with milliseconds when any of its values has them: a log's time, not a bucket's), the rest by
 * formatCell.
 */
export function cellFormats(result: OqlResult): Array<(value: unknown) => string> {
	return result.columns.map((column, i) => {
		if (column.type !== "time") return formatCell;
		const millis = result.rows.some((row) => {
			const at = Date.parse(String(row[i]));
			return Number.isFinite(at) && at % 1000 !== 0;
		});
		return (value) => (value === null || value === undefined ? "—" : formatTime(String(value), { millis }));
	});
}
