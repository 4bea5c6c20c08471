import { signal } from "@preact/signals";
import { useId, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { rangeLabel, rangeMs } from "./format";

const rolling = (key: string) => [key, rangeLabel(key), rangeMs(key) as number] as const;

/** The global time range lives in the URL (`?range=1h`, or `?from=…&to=…`), so a link reproduces the view. */
export const RELATIVE_RANGES = [
	rolling("15m"),
	rolling("1h"),
	rolling("6h"),
	rolling("24h"),
	rolling("7d"),
] as const;
export const DEFAULT_RANGE = "1h";

/**
 * A page's own range, which it uses while the URL names none (a dashboard's default range): the
 * picker shows it as chosen, so it never claims "Last 1 hour" over a 6-hour dashboard, and any
 * range picked from it (Last 1 hour included) overrides it; it stays offered, to go back to it.
 * Null: pages use DEFAULT_RANGE.
 */
export const pageRange = signal<string | null>(null);

export interface TimeRange {
	/** `1h`…, or "absolute". */
	key: string;
	from: Date;
	to: Date;
}

export function resolveTimeRange(query: Record<string, string>, now = Date.now()): TimeRange {
	if (query.from && query.to) {
		const from = new Date(query.from);
		const to = new Date(query.to);
		if (!Number.isNaN(from.getTime()) && !Number.isNaN(to.getTime()) && from < to) {
			return { key: "absolute", from, to };
		}
	}
	const relative = RELATIVE_RANGES.find(([key]) => key === query.range) ?? RELATIVE_RANGES[1];
	return { key: relative[0], from: new Date(now - relative[2]), to: new Date(now) };
}

/** The URL parameters that name the time range. */
const RANGE_PARAMS = ["range", "from", "to"] as const;

/**
 * A link to `path` with `params` (empty ones left out) that keeps the URL's time range (`range`, or
 * `from` and `to`) and nothing else of it: moving between views keeps the window.
 */
export function linkWithRange(
	query: Record<string, string>,
	path: string,
	params: Record<string, string | undefined> = {},
): string {
	const next = new URLSearchParams();
	for (const key of RANGE_PARAMS) if (query[key]) next.set(key, query[key] as string);
	for (const [key, value] of Object.entries(params)) if (value) next.set(key, value);
	const text = next.toString();
	return text ? `${path}?${text}` : path;
}

/** `path` with the URL's other parameters but no range: back to the page's own (a dashboard's). */
export function linkWithoutRange(query: Record<string, string>, path: string): string {
	const next = new URLSearchParams(query);
	for (const key of RANGE_PARAMS) next.delete(key);
	const text = next.toString();
	return text ? `${path}?${text}` : path;
}

export function useTimeRange(): TimeRange {
	return resolveTimeRange(useLocation().query);
}

/** `datetime-local` values are local wall time without a zone. */
function toLocalInput(date: Date): string {
	const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
	return local.toISOString().slice(0, 16);
}

export function TimeRangePicker() {
	const { path, query, route } = useLocation();
	const range = resolveTimeRange(query);
	const named = Boolean(query.range || (query.from && query.to));
	// The page's own range (a dashboard's) stays offered while another is picked: the way back.
	const own = pageRange.value;
	const [editing, setEditing] = useState(false);
	const [from, setFrom] = useState(toLocalInput(range.from));
	const [to, setTo] = useState(toLocalInput(range.to));
	const id = useId();
	const go = (params: Record<string, string | undefined>) => {
		const next = new URLSearchParams();
		for (const [k, v] of Object.entries({ ...query, ...params })) if (v !== undefined) next.set(k, v);
		route(`${path}?${next}`);
	};
	return (
		<div class="time-range">
			<div class="field">
				<label for={`${id}-range`}>Time range</label>
				<select
					id={`${id}-range`}
					value={own && !named ? "page" : range.key}
					onChange={(e) => {
						const value = (e.target as HTMLSelectElement).value;
						if (value === "absolute") {
							setEditing(true);
							return;
						}
						setEditing(false);
						// Back to the page's own range (after another, or "Absolute…" opened): the URL names none.
						if (value === "page") route(linkWithoutRange(query, path));
						else go({ range: value, from: undefined, to: undefined });
					}}
				>
					{own ? <option value="page">{own}</option> : null}
					{RELATIVE_RANGES.map(([key, text]) => (
						<option key={key} value={key}>
							{text}
						</option>
					))}
					<option value="absolute">Absolute…</option>
				</select>
			</div>
			{editing || range.key === "absolute" ? (
				<form
					class="row"
					onSubmit={(e) => {
						e.preventDefault();
						const f = new Date(from);
						const t = new Date(to);
						if (Number.isNaN(f.getTime()) || Number.isNaN(t.getTime()) || f >= t) return;
						setEditing(false);
						go({ range: undefined, from: f.toISOString(), to: t.toISOString() });
					}}
				>
					<div class="field">
						<label for={`${id}-from`}>From</label>
						<input
							id={`${id}-from`}
							type="datetime-local"
							value={from}
							onInput={(e) => setFrom(e.currentTarget.value)}
						/>
					</div>
					<div class="field">
						<label for={`${id}-to`}>To</label>
						<input
							id={`${id}-to`}
							type="datetime-local"
							value={to}
							onInput={(e) => setTo(e.currentTarget.value)}
						/>
					</div>
					<button type="submit" class="small">
						Apply range
					</button>
				</form>
			) : null}
		</div>
	);
}
