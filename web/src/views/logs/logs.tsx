import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, unwrap } from "../../api/client";
import type { components } from "../../api/schema";
import {
	LEVEL_COLORS,
	oqlString,
	oqlWindow,
	rangeKey,
	rangeParams,
	runOql,
	timeseriesChart,
} from "../../api/telemetry";
import { formatSeverity, formatTime, formatUtcNanos } from "../../components/format";
import { TimeChart } from "../../components/time-chart";
import { ListFull, useTimeRange } from "../../components/time-range";
import { AttributeList, Badge, Empty, ErrorNotice, Loading, Notice, PageHeader } from "../../components/ui";
import { useAction, useResource } from "../../components/use-resource";

type Log = components["schemas"]["PageLog"];
const PAGE = 200;
const TAIL_MS = 3000;
/** Records one live-tail poll asks for; more than that in one interval is a gap, said so. */
const TAIL_POLL = 500;
/** Records the page keeps while live tail adds them; beyond it the oldest are let go. */
export const TAIL_KEEP = 1000;
/** Records "Load older" brings the list to at most (ten pages); then a link continues from the oldest. */
export const LIST_KEEP = 2000;

/**
 * Logs: a search box (the API's `q`), facets with counts, a volume histogram by level (drag to
 * zoom), results newest first with infinite scroll, expandable rows with context and the trace
 * link, and live tail. Every filter is in the URL.
 */
export function LogsPage() {
	const { path, query, route } = useLocation();
	const range = useTimeRange();
	const filters = { q: query.q, level: query.level, service: query.service, host: query.host };
	const filterKey = JSON.stringify(filters);
	const key = `${rangeKey(range)}|${filterKey}`;
	const setParams = (params: Record<string, string | undefined>) => {
		const next = new URLSearchParams();
		for (const [k, v] of Object.entries({ ...query, ...params })) if (v) next.set(k, v);
		route(`${path}?${next}`);
	};
	const apiQuery = {
		...rangeParams(range),
		...(filters.q ? { q: filters.q } : {}),
		...(filters.level ? { level: filters.level } : {}),
		...(filters.service ? { service: filters.service } : {}),
		...(filters.host ? { host: filters.host } : {}),
	};
	const first = useResource(
		() => unwrap(api.GET("/api/v1/pages/logs", { params: { query: { ...apiQuery, limit: PAGE } } })),
		[key],
	);
	const [rows, setRows] = useState<Log[]>([]);
	const [cursor, setCursor] = useState<string | null>(null);
	/** What live tail left out: records of a poll beyond its 500 (`gap`), the oldest beyond 1,000. */
	const [tailCut, setTailCut] = useState({ gap: false, trimmed: false });
	// Bumped when the list starts over or its oldest are let go: an older page asked for before that
	// belongs to a list no longer shown, and is dropped (it would leave a hole and bring its cursor back).
	const listGeneration = useRef(0);
	const rowsRef = useRef(rows);
	rowsRef.current = rows;
	useEffect(() => {
		if (!first.data) return;
		listGeneration.current++;
		setRows(first.data.data);
		setCursor(first.data.next_cursor);
		setTailCut({ gap: false, trimmed: false });
	}, [first.data]);
	const addNewer = (fresh: Log[], gap: boolean) => {
		const next = [...fresh, ...rowsRef.current];
		const trimmed = next.length > TAIL_KEEP;
		setRows(trimmed ? next.slice(0, TAIL_KEEP) : next);
		// Older pages continue from the oldest record kept: once the oldest are let go, there is none.
		if (trimmed) {
			listGeneration.current++;
			setCursor(null);
		}
		if (gap || trimmed) setTailCut((cut) => ({ gap: cut.gap || gap, trimmed: cut.trimmed || trimmed }));
	};
	const more = useAction(async () => {
		if (!cursor) return;
		const generation = listGeneration.current;
		const page = await unwrap(
			api.GET("/api/v1/pages/logs", { params: { query: { ...apiQuery, limit: PAGE, cursor } } }),
		);
		if (generation !== listGeneration.current) return;
		setRows((current) => [...current, ...page.data]);
		setCursor(page.next_cursor);
	});
	// The histogram by level: the page's own histogram query (same filters), one series per level.
	const histogram = useResource(async () => {
		const oql = first.data?.histogram?.oql;
		if (!oql) return null;
		return timeseriesChart(await runOql(`${oql} GROUP BY level`));
	}, [first.data]);
	// One series array per answer: a new one would draw the chart again on every added record.
	const volume = useMemo(
		() => histogram.data?.series.map((s) => ({ ...s, color: LEVEL_COLORS[s.label] })),
		[histogram.data],
	);
	// Each facet is counted under the other filters, not its own: with service=payments chosen, the
	// other services stay there to switch to (as in every log explorer).
	const facets = useResource(async () => {
		const facet = (field: "level" | "service" | "host") =>
			runOql(
				`SELECT count(*) FROM logs ${facetWhere({ ...filters, [field]: undefined })} GROUP BY ${field} ORDER BY count(*) DESC LIMIT 12 ${oqlWindow(range)}`,
			);
		const [level, service, host] = await Promise.all([facet("level"), facet("service"), facet("host")]);
		return { level, service, host };
	}, [key]);

	return (
		<>
			<PageHeader title="Logs" subtitle="Newest first. Filters and the search live in the URL.">
				<LiveTail apiQuery={apiQuery} rows={rows} onNew={addNewer} />
			</PageHeader>
			<SearchBox value={filters.q ?? ""} onSearch={(q) => setParams({ q: q || undefined })} />
			<div class="explorer">
				<aside class="facets" aria-label="Facets">
					{(["level", "service", "host"] as const).map((field) => (
						<Facet
							key={field}
							field={field}
							result={facets.data?.[field]}
							selected={filters[field]?.split(",") ?? []}
							onToggle={(value) => setParams({ [field]: toggled(field, filters[field], value) })}
						/>
					))}
					{filters.q || filters.level || filters.service || filters.host ? (
						<button
							type="button"
							class="small"
							onClick={() =>
								setParams({ q: undefined, level: undefined, service: undefined, host: undefined })
							}
						>
							Clear filters
						</button>
					) : null}
				</aside>
				<div class="explorer-main">
					<ErrorNotice problem={first.error ?? more.error ?? histogram.error ?? facets.error} />
					<section class="card" aria-label="Log volume">
						{histogram.data && volume ? (
							<TimeChart
								label="Log volume by level"
								kind="bars"
								height={150}
								times={histogram.data.times}
								series={volume}
								onZoom={(from, to) =>
									setParams({
										range: undefined,
										from: new Date(from).toISOString(),
										to: new Date(to).toISOString(),
									})
								}
							/>
						) : histogram.loading || first.loading ? (
							<Loading what="the histogram" />
						) : (
							<p class="subtitle">The histogram could not be loaded.</p>
						)}
					</section>
					{tailCut.gap ? (
						<Notice kind="warn">
							Live tail skipped records: more than {TAIL_POLL} arrived between two of its polls, and it shows
							the newest {TAIL_POLL} of each. Pause it and narrow the search to see them all.
						</Notice>
					) : null}
					{first.data === undefined && first.loading ? <Loading what="logs" /> : null}
					{first.data && rows.length === 0 ? <Empty>No logs match in this range.</Empty> : null}
					<LogList rows={rows} />
					{cursor && rows.length >= LIST_KEEP ? (
						<ListFull
							kept={rows.length}
							what="records"
							oldestUnixNano={(rows.at(-1) as Log).time_unix_nano}
							from={first.data ? new Date(first.data.range.from) : range.from}
						/>
					) : cursor ? (
						<LoadMore busy={more.busy} onMore={() => void more.run()} />
					) : tailCut.trimmed ? (
						<p class="subtitle">
							Live tail keeps the newest {TAIL_KEEP.toLocaleString()} records; older ones were let go. Pause
							it and reload the page to page back through them.
						</p>
					) : rows.length > 0 ? (
						<p class="subtitle">End of results.</p>
					) : null}
				</div>
			</div>
		</>
	);
}

/**
 * A facet's filter after a click on `value`: levels are a set (the API takes several, and the
 * overview links to "error,fatal"), a service or host is one or none.
 */
export function toggled(field: string, current: string | undefined, value: string): string | undefined {
	const chosen = current ? current.split(",") : [];
	if (field !== "level") return chosen.includes(value) && chosen.length === 1 ? undefined : value;
	const next = chosen.includes(value) ? chosen.filter((v) => v !== value) : [...chosen, value];
	return next.length > 0 ? next.join(",") : undefined;
}

function facetWhere(filters: Record<string, string | undefined>): string {
	const conditions: string[] = [];
	if (filters.q)
		conditions.push(`body LIKE ${oqlString(`%${filters.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)}`);
	if (filters.service) conditions.push(`service = ${oqlString(filters.service)}`);
	if (filters.host) conditions.push(`host = ${oqlString(filters.host)}`);
	if (filters.level) conditions.push(`level IN (${filters.level.split(",").map(oqlString).join(", ")})`);
	return conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
}

function SearchBox({ value, onSearch }: { value: string; onSearch: (q: string) => void }) {
	const [text, setText] = useState(value);
	useEffect(() => setText(value), [value]);
	return (
		<form
			class="row search"
			aria-label="Search logs"
			onSubmit={(e) => {
				e.preventDefault();
				onSearch(text.trim());
			}}
		>
			<div class="field grow">
				<label for="log-search">Search log bodies</label>
				<input
					id="log-search"
					type="search"
					maxLength={500}
					value={text}
					onInput={(e) => setText(e.currentTarget.value)}
					placeholder="econnreset"
				/>
			</div>
			<button type="submit" class="primary">
				Search
			</button>
		</form>
	);
}

function Facet(props: {
	field: "level" | "service" | "host";
	result: { rows: unknown[][] } | undefined;
	selected: string[];
	onToggle: (value: string) => void;
}) {
	const title = { level: "Level", service: "Service", host: "Host" }[props.field];
	return (
		<fieldset class="facet">
			<legend>{title}</legend>
			{props.result === undefined ? <span class="subtitle">…</span> : null}
			{props.result?.rows.length === 0 ? <span class="subtitle">none</span> : null}
			{props.result?.rows.map(([value, count]) => {
				const text = value === null ? "" : String(value);
				return (
					<button
						key={text}
						type="button"
						class="facet-value"
						title={value === null ? undefined : text}
						aria-pressed={props.selected.includes(text)}
						disabled={value === null}
						onClick={() => props.onToggle(text)}
					>
						<span>{value === null ? "(none)" : text}</span>
						<span class="count">{Number(count).toLocaleString()}</span>
					</button>
				);
			})}
		</fieldset>
	);
}

function LogList({ rows }: { rows: Log[] }) {
	const [open, setOpen] = useState<string | null>(null);
	if (rows.length === 0) return null;
	return (
		<ol class="log-list" aria-label="Log records">
			{rows.map((log) => (
				<li key={log.id} class={`log-row level-${log.level ?? "none"}`}>
					<button
						type="button"
						class="log-summary"
						aria-expanded={open === log.id}
						onClick={() => setOpen(open === log.id ? null : log.id)}
					>
						<time dateTime={log.time}>{formatTime(log.time, { millis: true })}</time>
						<Badge kind={log.level ?? "neutral"}>{log.level ?? "—"}</Badge>
						<span class="log-service">{log.service ?? ""}</span>
						<span class="log-body">{log.body ?? ""}</span>
					</button>
					{open === log.id ? <LogDetail log={log} /> : null}
				</li>
			))}
		</ol>
	);
}

function LogDetail({ log }: { log: Log }) {
	const [context, setContext] = useState<Log[] | null>(null);
	const showContext = useAction(async () => {
		const at = Date.parse(log.time);
		const answer = await unwrap(
			api.GET("/api/v1/pages/logs", {
				params: {
					query: {
						from: new Date(at - 60_000).toISOString(),
						to: new Date(at + 60_000).toISOString(),
						limit: 40,
						...(log.service ? { service: log.service } : {}),
						...(log.host ? { host: log.host } : {}),
					},
				},
			}),
		);
		setContext(answer.data);
	});
	return (
		<div class="log-detail">
			<div class="row">
				{log.trace_id ? (
					<a
						class="button small"
						href={`/traces/${log.trace_id}${log.span_id ? `?span=${log.span_id}` : ""}`}
					>
						View trace
					</a>
				) : null}
				<button
					type="button"
					class="small"
					aria-disabled={showContext.busy}
					onClick={() => void showContext.run()}
				>
					Show context
				</button>
			</div>
			<ErrorNotice problem={showContext.error} />
			<dl class="kv">
				<dt>Time</dt>
				<dd>
					<time dateTime={log.time}>{formatTime(log.time, { millis: true })}</time>{" "}
					<span class="sub mono">{formatUtcNanos(log.time_unix_nano)}</span>
				</dd>
				<dt>Service</dt>
				<dd>{log.service ?? "—"}</dd>
				<dt>Host</dt>
				<dd>{log.host ?? "—"}</dd>
				<dt>Severity</dt>
				<dd>{formatSeverity(log.severity_text, log.severity_number)}</dd>
				{log.trace_id ? (
					<>
						<dt>Trace</dt>
						<dd class="mono">{log.trace_id}</dd>
					</>
				) : null}
			</dl>
			<h3>Body</h3>
			<pre>{log.body ?? ""}</pre>
			<h3>Attributes</h3>
			<AttributeList label="Attributes" attributes={log.attributes} />
			<h3>Resource</h3>
			<AttributeList label="Resource" attributes={log.resource} />
			{context ? (
				<>
					<h3>Context (same service and host, ±1 minute)</h3>
					<ol class="log-lines" aria-label="Context">
						{context.map((c) => (
							<li
								key={c.id}
								aria-current={c.id === log.id ? "true" : undefined}
								class={c.id === log.id ? "current" : ""}
							>
								<span class="mono">{formatTime(c.time, { millis: true })}</span>{" "}
								<Badge kind={c.level ?? "neutral"}>{c.level ?? "—"}</Badge>{" "}
								<span class="log-body">{c.body}</span>
							</li>
						))}
					</ol>
				</>
			) : null}
		</div>
	);
}

/**
 * Polls for records newer than the newest shown; pausable; keeps the reader's scroll position. A
 * poll asks from the newest record's time on, that moment included (records of one millisecond may
 * arrive apart), and leaves out every record already shown at that moment.
 */
function LiveTail(props: {
	apiQuery: Record<string, string>;
	rows: Log[];
	onNew: (rows: Log[], gap: boolean) => void;
}) {
	const [on, setOn] = useState(false);
	const state = useRef(props);
	state.current = props;
	useEffect(() => {
		if (!on) return;
		const timer = setInterval(async () => {
			const { rows } = state.current;
			const asked = JSON.stringify(state.current.apiQuery);
			const newest = rows[0];
			const { range: _r, from: _f, to: _t, ...filters } = state.current.apiQuery;
			const from = newest ? newest.time : new Date(Date.now() - 60_000).toISOString();
			const shown = new Set<string>();
			for (const row of rows) {
				if (row.time !== from) break;
				shown.add(row.id);
			}
			try {
				const answer = await unwrap(
					api.GET("/api/v1/pages/logs", {
						params: { query: { ...filters, from, to: new Date().toISOString(), limit: TAIL_POLL } },
					}),
				);
				// Asked under filters the page no longer shows: not this list's records.
				if (JSON.stringify(state.current.apiQuery) !== asked) return;
				const fresh = answer.data.filter((l) => !shown.has(l.id) && l.time >= from);
				if (fresh.length === 0) return;
				const before = document.documentElement.scrollHeight;
				const atTop = window.scrollY < 10;
				state.current.onNew(fresh, answer.next_cursor !== null);
				// Reading further down: stay on the same lines while new ones arrive above.
				requestAnimationFrame(() => {
					if (!atTop) window.scrollBy(0, document.documentElement.scrollHeight - before);
				});
			} catch {
				// The next poll tries again; errors of the page show above.
			}
		}, TAIL_MS);
		return () => clearInterval(timer);
	}, [on]);
	return (
		<button type="button" aria-pressed={on} onClick={() => setOn(!on)}>
			{on ? "Pause live tail" : "Live tail"}
		</button>
	);
}

function LoadMore({ busy, onMore }: { busy: boolean; onMore: () => void }) {
	const sentinel = useRef<HTMLButtonElement>(null);
	const latest = useRef(onMore);
	latest.current = onMore;
	useEffect(() => {
		const element = sentinel.current;
		if (!element) return;
		const observer = new IntersectionObserver((entries) => {
			if (entries.some((e) => e.isIntersecting)) latest.current();
		});
		observer.observe(element);
		return () => observer.disconnect();
	}, []);
	return (
		<button ref={sentinel} type="button" aria-disabled={busy} onClick={() => busy || onMore()}>
			{busy ? "Loading…" : "Load older logs"}
		</button>
	);
}
