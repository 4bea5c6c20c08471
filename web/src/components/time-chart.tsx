import { useEffect, useId, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { formatTime } from "./format";
import { timeAxisValues } from "./time-axis";
import "uplot/dist/uPlot.min.css";

/** One series on a shared time axis: a value (or null, a gap) per `times` entry. */
export interface ChartSeries {
	label: string;
	values: Array<number | null>;
	/** A fixed colour (e.g. by log level); else one from the palette by position. */
	color?: string;
}

/** A vertical marker: a deploy or any other annotation, with its title on hover. */
export interface ChartMarker {
	time: number;
	title: string;
}

export interface TimeChartProps {
	/** Accessible name of the chart (also its visible heading is the caller's). */
	label: string;
	/** Epoch milliseconds, ascending. */
	times: number[];
	series: ChartSeries[];
	markers?: ChartMarker[];
	kind?: "line" | "bars";
	height?: number;
	/** Unit shown on the y axis' values ("ms", "%", …). */
	unit?: string;
	/** Called with the selected window (epoch ms) when the person drags across the chart. */
	onZoom?: (from: number, to: number) => void;
}

export const PALETTE = [
	"#4c6ef5",
	"#f76707",
	"#37b24d",
	"#e64980",
	"#1098ad",
	"#ae3ec9",
	"#f59f00",
	"#868e96",
];

function cssVar(name: string, fallback: string): string {
	return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/**
 * A uPlot time chart (line or bars) that fills its container's width, with a legend naming every
 * series, deploy markers drawn as vertical lines (hover shows their title) and drag-to-zoom.
 * Rebuilt when its data change; resized with its container.
 *
 * With the keyboard (the chart is a tab stop): the arrow keys, Home and End move the cursor from
 * point to point, and the legend and a line under the chart (read out as it changes) say the
 * moment, each series' value and the annotations there; Shift with an arrow selects a span, Enter
 * zooms to it (where the chart zooms); Escape lets go.
 */
export function TimeChart(props: TimeChartProps) {
	const box = useRef<HTMLElement>(null);
	const plot = useRef<uPlot | null>(null);
	const onZoom = useRef(props.onZoom);
	onZoom.current = props.onZoom;
	const [readout, setReadout] = useState("");
	const hintId = useId();

	useEffect(() => {
		const element = box.current;
		if (!element) return;
		const axisColor = cssVar("--muted", "#5c6670");
		const gridColor = cssVar("--border", "#d9dde3");
		const bars = props.kind === "bars" ? uPlot.paths.bars?.({ size: [0.8, 40] }) : undefined;
		const unit = props.unit ?? "";
		const markers = props.markers ?? [];
		// Whole numbers (counts) get whole-number ticks ("0.5 logs" means nothing), and a scale that
		// ends on a tick.
		const whole = props.series.every((s) => s.values.every((v) => v === null || Number.isInteger(v)));
		const options: uPlot.Options = {
			width: Math.max(200, element.clientWidth),
			height: props.height ?? 220,
			// A vertical line only: the moment is what the legend reads (a horizontal one at the pointer's
			// height, or halfway down under the keyboard, meant nothing).
			cursor: { y: false, drag: { x: true, y: false, setScale: false } },
			legend: { show: true },
			scales: whole ? { x: { time: true }, y: { range: wholeRange } } : { x: { time: true } },
			axes: [
				{
					stroke: axisColor,
					grid: { stroke: gridColor, width: 1 },
					ticks: { stroke: gridColor, size: AXIS_TICK },
					font: AXIS_FONT,
					space: timeAxisSpace(),
					values: timeAxisValues(props.times[0], props.times[props.times.length - 1]),
				},
				{
					stroke: axisColor,
					grid: { stroke: gridColor, width: 1 },
					ticks: { stroke: gridColor, size: AXIS_TICK },
					font: AXIS_FONT,
					gap: AXIS_GAP,
					size: (_u, values) => yAxisWidth(values),
					space: Y_SPACE,
					incrs: whole ? WHOLE_STEPS : undefined,
					values: (_u, ticks) => ticks.map((v) => `${formatNumber(v)}${unit}`),
				},
			],
			series: [
				{
					label: "Time",
					// The hovered moment as the UI writes moments ("—" when the pointer is away, as the values).
					value: (_u: uPlot, v: number | null) =>
						v === null ? "—" : formatTime(v * 1000, { seconds: false }),
				},
				...props.series.map((s, i) => {
					const color = s.color ?? (PALETTE[i % PALETTE.length] as string);
					return {
						label: s.label,
						stroke: color,
						width: 1.5,
						fill: props.kind === "bars" ? `${color}cc` : undefined,
						paths: bars,
						// Sparse series (a few buckets with data) show their points, filled in the series' colour,
						// or a lone value is invisible (hollow 5 px rings were easy to miss: an error spike).
						points: { show: sparse(s.values), size: 8, fill: color },
						spanGaps: false,
						value: (_u: uPlot, v: number | null) => (v === null ? "—" : `${formatNumber(v)}${unit}`),
					};
				}),
			],
			hooks: {
				setSelect: [
					(u) => {
						if (u.select.width < 4) return;
						const from = u.posToVal(u.select.left, "x") * 1000;
						const to = u.posToVal(u.select.left + u.select.width, "x") * 1000;
						u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
						onZoom.current?.(Math.round(from), Math.round(to));
					},
				],
				draw: [
					(u) => {
						// Deploy markers as vertical lines across the plot.
						const { ctx } = u;
						ctx.save();
						ctx.strokeStyle = cssVar("--text", "#1b1f24");
						ctx.setLineDash([4, 3]);
						ctx.lineWidth = 1.5 * devicePixelRatio;
						for (const marker of markers) {
							const x = Math.round(u.valToPos(marker.time / 1000, "x", true));
							if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
							ctx.beginPath();
							ctx.moveTo(x, u.bbox.top);
							ctx.lineTo(x, u.bbox.top + u.bbox.height);
							ctx.stroke();
						}
						ctx.restore();
					},
				],
				ready: [
					(u) => {
						// Hover targets with the marker's title (text, never markup).
						for (const marker of markers) {
							const flag = document.createElement("div");
							flag.className = "chart-marker";
							flag.title = marker.title;
							flag.setAttribute("role", "img");
							flag.setAttribute("aria-label", `Annotation: ${marker.title}`);
							flag.dataset.time = String(marker.time);
							u.over.appendChild(flag);
						}
						placeMarkers(u);
					},
				],
				setSize: [placeMarkers],
				setScale: [placeMarkers],
			},
		};
		const data: uPlot.AlignedData = [props.times.map((t) => t / 1000), ...props.series.map((s) => s.values)];
		const u = new uPlot(options, data, element);
		plot.current = u;
		const resize = new ResizeObserver(() => {
			plot.current?.setSize({ width: Math.max(200, element.clientWidth), height: props.height ?? 220 });
		});
		resize.observe(element);
		const keyboard = chartKeyboard(u, props, markers, unit, setReadout, (from, to) =>
			onZoom.current?.(from, to),
		);
		element.addEventListener("keydown", keyboard.keydown);
		element.addEventListener("blur", keyboard.leave);
		return () => {
			element.removeEventListener("keydown", keyboard.keydown);
			element.removeEventListener("blur", keyboard.leave);
			setReadout("");
			resize.disconnect();
			plot.current?.destroy();
			plot.current = null;
		};
	}, [props.times, props.series, props.markers, props.kind, props.height, props.unit]);

	return (
		<>
			<figure
				class="time-chart"
				ref={box}
				aria-label={props.label}
				tabIndex={props.times.length > 0 ? 0 : undefined}
				aria-describedby={hintId}
			/>
			<span id={hintId} class="visually-hidden">
				{props.onZoom
					? "Arrow keys, Home and End read the values; Shift with an arrow selects a span, Enter zooms to it."
					: "Arrow keys, Home and End read the values."}
			</span>
			<p class="chart-readout" aria-live="polite">
				{readout}
			</p>
		</>
	);
}

/**
 * The chart's keys: a cursor from point to point (and a selection from an anchor) drawn with uPlot's
 * own cursor and selection, and said in `say` — the moment, each series' value, the annotations in
 * that point's bucket.
 */
function chartKeyboard(
	u: uPlot,
	props: TimeChartProps,
	markers: ChartMarker[],
	unit: string,
	say: (text: string) => void,
	zoom: (from: number, to: number) => void,
) {
	const times = props.times;
	const last = times.length - 1;
	/** A bucket's end: the next point's time, or the last point's plus the step before it. */
	const endOf = (i: number) =>
		times[i + 1] ??
		(times[i] as number) + (last > 0 ? (times[last] as number) - (times[last - 1] as number) : 1);
	let at: number | null = null;
	let anchor: number | null = null;
	const show = () => {
		if (at === null) {
			u.setCursor({ left: -10, top: -10 });
			u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
			say("");
			return;
		}
		const x = (i: number) => u.valToPos((times[i] as number) / 1000, "x");
		u.setCursor({ left: x(at), top: u.over.clientHeight / 2 });
		if (anchor !== null && anchor !== at) {
			const [a, b] = [Math.min(x(anchor), x(at)), Math.max(x(anchor), x(at))];
			u.setSelect({ left: a, top: 0, width: b - a, height: u.over.clientHeight }, false);
		} else u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
		const from = times[at] as number;
		const values = props.series.map((s) => {
			const v = s.values[at as number];
			return `${s.label} ${v === null || v === undefined ? "no value" : `${formatNumber(v)}${unit}`}`;
		});
		const notes = markers.filter((m) => m.time >= from && m.time < endOf(at as number)).map((m) => m.title);
		const span =
			anchor !== null && anchor !== at
				? `Selected ${formatTime(times[Math.min(anchor, at)] as number, { seconds: false })} to ${formatTime(endOf(Math.max(anchor, at)), { seconds: false })}${props.onZoom ? ", Enter zooms to it" : ""}. `
				: "";
		say(
			`${span}${formatTime(from, { seconds: false })}: ${values.join(", ")}${notes.length > 0 ? `. Annotation: ${notes.join("; ")}` : ""}`,
		);
	};
	const keydown = (event: KeyboardEvent) => {
		// Alt/Ctrl/Meta with an arrow are the browser's (Back, word and line moves): left alone.
		if (last < 0 || event.target !== event.currentTarget || event.altKey || event.ctrlKey || event.metaKey)
			return;
		// Left and right only: up and down still scroll the page (a dashboard is charts one under another).
		const step: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1 };
		let next = at;
		if (event.key in step)
			next = at === null ? last : Math.min(last, Math.max(0, at + (step[event.key] as number)));
		else if (event.key === "Home") next = 0;
		else if (event.key === "End") next = last;
		else if (event.key === "Escape" && at !== null) next = null;
		else if (event.key === "Enter" && at !== null && anchor !== null && anchor !== at && props.onZoom) {
			event.preventDefault();
			zoom(times[Math.min(anchor, at)] as number, endOf(Math.max(anchor, at)));
			return;
		} else return;
		event.preventDefault();
		if (next !== null && event.shiftKey) anchor ??= at ?? next;
		else anchor = null;
		at = next;
		show();
	};
	const leave = () => {
		at = null;
		anchor = null;
		show();
	};
	return { keydown, leave };
}

/** The axes' values are drawn in this font; their widths are measured with the same one. */
const AXIS_FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const AXIS_TICK = 10;
const AXIS_GAP = 5;
let measuring: CanvasRenderingContext2D | null = null;

function textWidth(text: string): number {
	measuring ??= document.createElement("canvas").getContext("2d");
	if (!measuring) return text.length * 7;
	measuring.font = AXIS_FONT;
	return measuring.measureText(text).width;
}

/**
 * The y axis' width in CSS pixels: ticks, gap and its widest value ("400 ms", "1.5k %"), so no
 * value is clipped at the chart's left edge (a fixed width cut the first digit of "400 ms").
 */
function yAxisWidth(values: string[] | null | undefined): number {
	let widest = 0;
	for (const value of values ?? []) widest = Math.max(widest, textWidth(value));
	return Math.max(40, Math.ceil(AXIS_TICK + AXIS_GAP + widest + 4));
}

/**
 * The least distance between the time axis' ticks: its widest routine value (a minute, "23:55", or
 * a day, "Dec 30") and a gap, so neighbouring values never touch (uPlot's default, 50 px, let them
 * run together).
 */
function timeAxisSpace(): number {
	return Math.ceil(Math.max(textWidth("23:55"), textWidth("Dec 30")) + 24);
}

/** Tick steps for whole-number series: 1, 2, 5, 10, 20, 50, … */
const WHOLE_STEPS = Array.from(
	{ length: 16 * 3 },
	(_, i) => (i % 3 === 0 ? 1 : i % 3 === 1 ? 2 : 5) * 10 ** Math.floor(i / 3),
);

/** The least distance between the value axis' ticks (uPlot's default). */
const Y_SPACE = 30;

/**
 * A whole-number series' value scale: from 0 up to the first tick at or above its largest value,
 * with the step uPlot will choose for that height, so the top is labelled (bars of 3 under ticks 0
 * and 2 left the 3 unlabelled). Below 0 the same, downwards.
 */
function wholeRange(u: uPlot, min: number | null, max: number | null): uPlot.Range.MinMax {
	const low = Math.min(0, Math.floor(min ?? 0));
	const high = Math.max(1, Math.ceil(max ?? 1));
	const height = u.bbox.height > 0 ? u.bbox.height / uPlot.pxRatio : u.height - 60;
	const fits = Math.max(1, height / Y_SPACE);
	// uPlot takes the least step whose ticks stay Y_SPACE apart over the range; the range ends on
	// a multiple of it. Settle the two (a step fixes the range, the range the step).
	let step = 1;
	let range: [number, number] = [low, high];
	for (let i = 0; i < 4; i++) {
		range = [Math.floor(low / step) * step, Math.ceil(high / step) * step];
		const needed = (range[1] - range[0]) / fits;
		const next = WHOLE_STEPS.find((s) => s >= needed) ?? step;
		if (next === step) break;
		step = next;
	}
	return range;
}

function sparse(values: Array<number | null>): boolean {
	let present = 0;
	for (let i = 0; i < values.length; i++) {
		const value = values[i];
		if (value === null || value === undefined) continue;
		const before = values[i - 1];
		const after = values[i + 1];
		// A value with no neighbour draws no line segment.
		if ((before === null || before === undefined) && (after === null || after === undefined)) return true;
		present++;
	}
	return present < 3;
}

function placeMarkers(u: uPlot): void {
	for (const flag of u.over.querySelectorAll<HTMLElement>(".chart-marker")) {
		const left = u.valToPos(Number(flag.dataset.time) / 1000, "x");
		flag.style.left = `${left - 4}px`;
		flag.style.display = left < 0 || left > u.over.clientWidth ? "none" : "block";
	}
}

export function formatNumber(value: number): string {
	const abs = Math.abs(value);
	if (abs >= 1e9) return `${(value / 1e9).toFixed(abs >= 1e10 ? 0 : 1)}G`;
	if (abs >= 1e6) return `${(value / 1e6).toFixed(abs >= 1e7 ? 0 : 1)}M`;
	if (abs >= 1e4) return `${(value / 1e3).toFixed(abs >= 1e5 ? 0 : 1)}k`;
	if (abs >= 100 || Number.isInteger(value)) return String(Math.round(value));
	return value.toPrecision(3).replace(/\.?0+$/, "");
}
