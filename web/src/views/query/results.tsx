import { useMemo } from "preact/hooks";
import { formatNumber, PALETTE, TimeChart } from "../../components/time-chart";
import { Empty } from "../../components/ui";
import type { OqlResult } from "./oql";
import { cellFormats, type ResultKind, singleNumber, toSeries } from "./shape";

export { autoKind, type ResultKind } from "./shape";

/** Rows a table draws at most; the rest are counted, not rendered (a result holds up to 10,000). */
const TABLE_ROWS = 500;

export function ResultView(props: {
	result: OqlResult;
	kind: ResultKind;
	label: string;
	height?: number;
	unit?: string;
}) {
	const { result, kind } = props;
	if (kind === "timeseries" || (kind === "bar" && result.columns.some((c) => c.type === "time"))) {
		return <SeriesChart {...props} />;
	}
	if (kind === "number") {
		const value = singleNumber(result);
		return (
			<figure class="big-number" aria-label={props.label}>
				{value === null ? "—" : formatNumber(value)}
				{value !== null && props.unit ? <span class="unit">{props.unit}</span> : null}
			</figure>
		);
	}
	if (kind === "bar") return <Bars {...props} />;
	return <ResultTable result={result} label={props.label} />;
}

function SeriesChart(props: {
	result: OqlResult;
	kind: ResultKind;
	label: string;
	height?: number;
	unit?: string;
}) {
	const data = useMemo(() => toSeries(props.result), [props.result]);
	if (!data) return <Empty>This result has no time column to chart; add TIMESERIES to the query.</Empty>;
	if (data.series.length === 0) return <Empty>No data in this window.</Empty>;
	return (
		<TimeChart
			label={props.label}
			times={data.times}
			series={data.series}
			kind={props.kind === "bar" ? "bars" : "line"}
			height={props.height}
			unit={props.unit}
		/>
	);
}

/** A grouped answer without time (count by service) as horizontal bars. */
function Bars(props: { result: OqlResult; label: string; unit?: string }) {
	const { result } = props;
	const valueIndex = result.columns.findIndex((c) => c.type === "number");
	if (valueIndex < 0) return <ResultTable result={result} label={props.label} />;
	const formats = cellFormats(result);
	const rows = result.rows.slice(0, 50).map((row) => ({
		label:
			row.flatMap((cell, i) => (i === valueIndex ? [] : [formats[i]?.(cell) ?? String(cell)])).join(" · ") ||
			result.columns[valueIndex]?.name,
		value: typeof row[valueIndex] === "number" ? (row[valueIndex] as number) : 0,
	}));
	const max = Math.max(1e-9, ...rows.map((r) => Math.abs(r.value)));
	return (
		<ul class="bars" aria-label={props.label}>
			{rows.map((r, i) => (
				<li key={i}>
					<span class="bar-label">{r.label}</span>
					<span class="bar-track">
						<span
							class="bar-fill"
							style={{
								width: `${(Math.abs(r.value) / max) * 100}%`,
								background: PALETTE[i % PALETTE.length],
							}}
						/>
					</span>
					<span class="bar-value">
						{formatNumber(r.value)}
						{props.unit ?? ""}
					</span>
				</li>
			))}
		</ul>
	);
}

export function ResultTable({ result, label }: { result: OqlResult; label: string }) {
	const formats = useMemo(() => cellFormats(result), [result]);
	if (result.rows.length === 0) return <Empty>No rows in this window.</Empty>;
	const shown = result.rows.slice(0, TABLE_ROWS);
	return (
		<div class="table-wrap result-table">
			<table aria-label={label}>
				<thead>
					<tr>
						{result.columns.map((c) => (
							<th key={c.name} scope="col" class={c.type === "number" ? "num" : undefined}>
								{c.name}
							</th>
						))}
					</tr>
				</thead>
				<tbody>
					{shown.map((row, r) => (
						<tr key={r}>
							{row.map((cell, i) => (
								<td key={i} class={result.columns[i]?.type === "number" ? "num" : undefined}>
									{formats[i]?.(cell) ?? String(cell)}
								</td>
							))}
						</tr>
					))}
				</tbody>
			</table>
			{result.rows.length > shown.length ? (
				<p class="subtitle">
					Showing the first {shown.length} of {result.rows.length} rows.
				</p>
			) : null}
		</div>
	);
}
