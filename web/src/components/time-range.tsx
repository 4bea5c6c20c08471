import { signal } from "@preact/signals";
import { useId, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { formatTime, rangeLabel, rangeMs } from "./format";

const rolling = (key: string) => [key, rangeLabel(key), rangeMs(key) as number] as const;

/**
 * Bumped by the header's Refresh: part of every explorer page's data key (`rangeKey`), so one press
 * reads the page again, a rolling range up to now (choosing the same range again changed nothing).
 */
export const refreshTick = signal(0);

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

/**
 * `path` with the URL's other parameters (the filters) over the absolute window `from`…`to`: where a
 * list that holds as many records as it keeps continues, from its oldest one.
 */
export function linkWithWindow(query: Record<string, string>, path: string, from: Date, to: Date): string {
	const next = new URLSearchParams(query);
	for (const key of RANGE_PARAMS) next.delete(key);
	next.set("from", from.toISOString());
	next.set("to", to.toISOString());
	return `${path}?${next}`;
}

/**
 * The end of a list that holds `kept` records, the most it keeps (loading on and on slowed the page
 * until it stalled): a link to the same search over the window up to its oldest record's millisecond,
 * included (that millisecond's records show again rather than some not at all). `from` is the start
 * of the window the list was read over, as the server resolved it: a rolling range resolved again
 * now starts later, and the records in between were never shown.
 */
export function ListFull(props: { kept: number; what: string; oldestUnixNano: string; from: Date }) {
	const { path, query } = useLocation();
	const to = new Date(Number(BigInt(props.oldestUnixNano) / 1_000_000n) + 1);
	return (
		<p class="subtitle">
			This page shows {props.kept.toLocaleString("en-US")} {props.what} at most.{" "}
			<a href={linkWithWindow(query, path, props.from, to)}>Continue from the oldest shown</a>: the same
			search up to {formatTime(to.getTime(), { millis: true })}.
		</p>
	);
}

/** Each list page's last URL (path → its parameters), for its detail pages' way back. */
const listPlaces = new Map<string, string>();

/**
 * Records a list page's parameters (its filters and sort), for `backToList`; only while the URL is
 * the list's (the router draws the list once more with the next page's URL as it leaves).
 */
export function rememberListPlace(
	listPath: string,
	location: { path: string; query: Record<string, string> },
): void {
	if (location.path === listPath) listPlaces.set(listPath, new URLSearchParams(location.query).toString());
}

/**
 * The way back from a detail page to its list (`/traces`, `/hosts`): the list as it was left (its
 * filters and sort) in the time range the URL has now (it may have changed on the detail page).
 */
export function backToList(query: Record<string, string>, path: string): string {
	const left: Record<string, string | undefined> = Object.fromEntries(
		new URLSearchParams(listPlaces.get(path) ?? ""),
	);
	for (const key of RANGE_PARAMS) delete left[key];
	return linkWithRange(query, path, left);
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
	// The boxes show the URL's range (a drag-to-zoom changes it) until the person types in them.
	const [typed, setTyped] = useState<{ from: string; to: string } | null>(null);
	const from = typed?.from ?? toLocalInput(range.from);
	const to = typed?.to ?? toLocalInput(range.to);
	const [invalid, setInvalid] = useState<string | null>(null);
	const id = useId();
	const go = (params: Record<string, string | undefined>) => {
		const next = new URLSearchParams();
		for (const [k, v] of Object.entries({ ...query, ...params })) if (v !== undefined) next.set(k, v);
		route(`${path}?${next}`);
	};
	// A dashboard has its own Refresh and auto-refresh beside its panels.
	const refreshable = !path.startsWith("/dashboards/");
	return (
		<div class="time-range">
			{refreshable ? (
				<button type="button" onClick={() => refreshTick.value++} title="Read this page's data again">
					Refresh
				</button>
			) : null}
			<div class="field">
				<label for={`${id}-range`}>Time range</label>
				<select
					id={`${id}-range`}
					value={editing ? "absolute" : own && !named ? "page" : range.key}
					onChange={(e) => {
						const value = (e.target as HTMLSelectElement).value;
						setTyped(null);
						setInvalid(null);
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
						if (Number.isNaN(f.getTime()) || Number.isNaN(t.getTime())) {
							setInvalid("Give both a From and a To time.");
							return;
						}
						if (f >= t) {
							setInvalid("From must be before To.");
							return;
						}
						setInvalid(null);
						setTyped(null);
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
							onInput={(e) => setTyped({ from: e.currentTarget.value, to })}
						/>
					</div>
					<div class="field">
						<label for={`${id}-to`}>To</label>
						<input
							id={`${id}-to`}
							type="datetime-local"
							value={to}
							onInput={(e) => setTyped({ from, to: e.currentTarget.value })}
						/>
					</div>
					<button type="submit" class="small">
						Apply range
					</button>
					{invalid ? (
						<p class="field-error" role="alert">
							{invalid}
						</p>
					) : null}
				</form>
			) : null}
		</div>
	);
}
