const S = 1;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

type AxisTable = (string | number | null)[][];

/**
 * The time axis' values in 24-hour time with dates as "Dec 3", as the log rows write them (uPlot's
 * default is "3:50pm" and "12/3/26"). uPlot's table form: the least tick step (seconds), the value's
 * format, then what is added below the first value of a new year, month, day, hour, minute and
 * second (null: nothing), and 1 to add it under the value.
 */
// biome-ignore format: one row per tick step reads as the table it is
const WITH_YEARS: AxisTable = [
	[365 * D, "{YYYY}", null, null, null, null, null, null, 1],
	[28 * D, "{MMM}", "\n{YYYY}", null, null, null, null, null, 1],
	[D, "{MMM} {D}", "\n{YYYY}", null, null, null, null, null, 1],
	[H, "{HH}:{mm}", "\n{MMM} {D} {YYYY}", null, "\n{MMM} {D}", null, null, null, 1],
	[M, "{HH}:{mm}", "\n{MMM} {D} {YYYY}", null, "\n{MMM} {D}", null, null, null, 1],
	[S, ":{ss}", "\n{MMM} {D} {YYYY} {HH}:{mm}", null, "\n{MMM} {D} {HH}:{mm}", null, "\n{HH}:{mm}", null, 1],
	[0.001, ":{ss}.{fff}", "\n{MMM} {D} {YYYY} {HH}:{mm}", null, "\n{MMM} {D} {HH}:{mm}", null, "\n{HH}:{mm}", null, 1],
];

/**
 * The same, without the year: for a chart whose moments all fall in this year, as formatTime writes
 * a moment of this year ("Dec 3 17:22", not "Dec 3 2026"). The first tick gets the "new year" text.
 */
const THIS_YEAR: AxisTable = WITH_YEARS.map((row, i) =>
	i === 0
		? row
		: row.map((cell, column) => {
				if (column !== 2 || typeof cell !== "string") return cell;
				const text = cell.replace(" {YYYY}", "");
				return text === "\n{YYYY}" ? null : text;
			}),
);

/** The time axis' table for moments from `firstMs` to `lastMs` (local time, as uPlot draws). */
export function timeAxisValues(
	firstMs: number | undefined,
	lastMs: number | undefined,
	now = Date.now(),
): AxisTable {
	if (firstMs === undefined || lastMs === undefined) return WITH_YEARS;
	const year = new Date(now).getFullYear();
	return new Date(firstMs).getFullYear() === year && new Date(lastMs).getFullYear() === year
		? THIS_YEAR
		: WITH_YEARS;
}
