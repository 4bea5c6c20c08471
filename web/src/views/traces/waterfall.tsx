import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { api, unwrap } from "../../api/client";
import type { components } from "../../api/schema";
import { formatMs, formatTime } from "../../components/format";
import { backToList } from "../../components/time-range";
import {
	AttributeList,
	Badge,
	ErrorNotice,
	focusAfterRender,
	Loading,
	PageHeader,
} from "../../components/ui";
import { type Resource, useResource } from "../../components/use-resource";

type Trace = components["schemas"]["PageTrace"];
type Span = Trace["spans"][number];

/** Spans in tree order (parents before children, siblings by start), skipping collapsed subtrees. */
export function visibleSpans(spans: Span[], collapsed: Set<string>): Span[] {
	const byId = new Map(spans.map((s) => [s.span_id, s]));
	const roots = spans.filter((s) => s.parent_span_id === null || !byId.has(s.parent_span_id));
	const byStart = (a: Span, b: Span) => a.start_offset_ms - b.start_offset_ms;
	const out: Span[] = [];
	const stack = [...roots.sort(byStart)].reverse();
	while (stack.length > 0) {
		const span = stack.pop() as Span;
		out.push(span);
		if (collapsed.has(span.span_id)) continue;
		const children = span.children.map((id) => byId.get(id)).filter((s): s is Span => s !== undefined);
		stack.push(...children.sort(byStart).reverse());
	}
	return out;
}

/**
 * A trace as a waterfall: spans as bars on a shared time axis, indented by parent, subtrees that
 * collapse, error spans marked, a side panel with the selected span's attributes, events and the
 * trace's logs for it, and a search that marks matching spans. The selected span is in the URL.
 */
export function TraceDetail() {
	const { params } = useRoute();
	const { path, query, route } = useLocation();
	const traceId = params.id ?? "";
	// The tree first (`view=summary`: no attributes, resource, events or links), drawn at once; then
	// the full trace, for the side panel and the search through attributes (docs/ui.md, "Traces").
	const trace = useResource(
		() =>
			unwrap(
				api.GET("/api/v1/pages/traces/{trace_id}", {
					params: { path: { trace_id: traceId }, query: { view: "summary" } },
				}),
			),
		[traceId],
	);
	const drawn = trace.data?.trace_id === traceId;
	// The full trace is read only once someone needs it: a span opened (or linked with ?span=) or a
	// search typed; a person who only looks at the waterfall never pays for it.
	const [wanted, setWanted] = useState(Boolean(query.span));
	const details = useResource(
		() =>
			drawn && wanted
				? unwrap(api.GET("/api/v1/pages/traces/{trace_id}", { params: { path: { trace_id: traceId } } }))
				: Promise.resolve(undefined),
		[traceId, drawn && wanted],
	);
	const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
	const [search, setSearch] = useState("");
	const full = details.data?.trace_id === traceId ? details.data : undefined;
	const t = full ?? trace.data;
	const rows = useMemo(() => (t ? visibleSpans(t.spans, collapsed) : []), [t, collapsed]);
	const matches = useMemo(() => {
		const needle = search.trim().toLowerCase();
		if (!needle || !t) return null;
		return new Set(
			t.spans
				.filter((s) =>
					`${s.name} ${s.service ?? ""} ${s.attributes ? JSON.stringify(s.attributes) : ""}`
						.toLowerCase()
						.includes(needle),
				)
				.map((s) => s.span_id),
		);
	}, [t, search]);
	const selected = t?.spans.find((s) => s.span_id === query.span) ?? null;
	const list = useRef<HTMLOListElement>(null);
	const shown = useWindow(list, rows.length);
	/** A span opened by the reader (not from the URL on load): its panel takes the focus. */
	const [openedHere, setOpenedHere] = useState(false);
	const select = (spanId: string | null) => {
		if (spanId) setWanted(true);
		setOpenedHere(spanId !== null);
		const next = new URLSearchParams(query);
		if (spanId) next.set("span", spanId);
		else next.delete("span");
		route(`${path}?${next}`, true);
	};
	if (!t) {
		return trace.loading ? (
			<Loading what="the trace" />
		) : (
			<>
				<p>
					<a href={backToList(query, "/traces")}>← Traces</a>
				</p>
				<ErrorNotice problem={trace.error} />
			</>
		);
	}
	const total = Math.max(t.duration_ms, 0.001);
	const root = t.spans.find((s) => s.span_id === t.root_span_id);
	return (
		<>
			<p>
				<a href={backToList(query, "/traces")}>← Traces</a>
			</p>
			<PageHeader
				title={root?.name ?? "Trace"}
				subtitle={
					<>
						<span class="mono">{t.trace_id}</span> · <time dateTime={t.time}>{formatTime(t.time)}</time> ·{" "}
						{formatMs(t.duration_ms)} · {t.span_count} spans ·{" "}
						{t.error_count === 0 ? "no errors" : t.error_count === 1 ? "1 error" : `${t.error_count} errors`}{" "}
						· {t.services.join(", ")}
					</>
				}
			/>
			{t.truncated.spans ? <p class="notice warn">This trace has more spans than are shown.</p> : null}
			<div class="row search">
				<div class="field grow">
					<label for="span-search">Search spans</label>
					<input
						id="span-search"
						type="search"
						value={search}
						onInput={(e) => {
							setSearch(e.currentTarget.value);
							setWanted(true);
						}}
						placeholder="name, service or attribute"
					/>
				</div>
				{matches ? (
					<span class="subtitle beside-input" role="status">
						{matches.size} matching
						{full
							? ""
							: details.error
								? " (names and services; the attributes could not be loaded)"
								: " (names and services; attributes are still loading)"}
					</span>
				) : null}
			</div>
			<div class={`trace-layout${selected ? " with-panel" : ""}`}>
				<div class="waterfall">
					<div class="waterfall-axis" aria-hidden="true">
						{[0, 0.25, 0.5, 0.75, 1].map((f) => (
							<span key={f} style={{ left: `${f * 100}%` }}>
								{formatMs(total * f)}
							</span>
						))}
					</div>
					<ol
						class="span-list"
						aria-label="Spans"
						data-total={rows.length}
						ref={list}
						style={{
							paddingTop: `${shown.start * ROW_HEIGHT}px`,
							paddingBottom: `${(rows.length - shown.end) * ROW_HEIGHT}px`,
						}}
					>
						{rows.slice(shown.start, shown.end).map((span) => {
							const hasChildren = span.children.length > 0;
							const isCollapsed = collapsed.has(span.span_id);
							const error = span.status === "error";
							return (
								<li
									key={span.span_id}
									data-depth={span.depth}
									class={`span-row${error ? " error" : ""}${matches?.has(span.span_id) ? " match" : ""}${selected?.span_id === span.span_id ? " selected" : ""}`}
								>
									<div class="span-name" style={{ paddingLeft: `${span.depth * 14}px` }}>
										{hasChildren ? (
											<button
												type="button"
												class="toggle"
												aria-label={`${isCollapsed ? "Expand" : "Collapse"} ${span.name}`}
												aria-expanded={!isCollapsed}
												onClick={() => {
													const next = new Set(collapsed);
													if (isCollapsed) next.delete(span.span_id);
													else next.add(span.span_id);
													setCollapsed(next);
												}}
											>
												{isCollapsed ? "▸" : "▾"}
											</button>
										) : (
											<span class="toggle-space" />
										)}
										<button
											type="button"
											class="link span-select"
											data-span={span.span_id}
											aria-pressed={selected?.span_id === span.span_id}
											onClick={() => select(span.span_id)}
										>
											<span class="span-service">{span.service ?? ""}</span> {span.name}
										</button>
										{error ? <Badge kind="error">error</Badge> : null}
									</div>
									<div class="span-track">
										<div
											class="span-bar"
											style={{
												left: `${(span.start_offset_ms / total) * 100}%`,
												width: `${Math.max((span.duration_ms / total) * 100, 0.3)}%`,
											}}
										/>
										<DurationLabel start={span.start_offset_ms} duration={span.duration_ms} total={total} />
									</div>
								</li>
							);
						})}
					</ol>
				</div>
				{selected ? (
					<SpanPanel
						span={selected}
						trace={t}
						details={details}
						takeFocus={openedHere}
						onClose={() => {
							// Back to the span's row: after the last of 1,000 rows, the panel was far from it.
							const id = selected.span_id;
							select(null);
							focusAfterRender(`[data-span="${id}"]`, list.current);
						}}
					/>
				) : null}
			</div>
		</>
	);
}

/** Rows are this tall (CSS `.span-row`), so a long trace renders only the rows in view. */
const ROW_HEIGHT = 28;
/** Traces up to this many visible rows render whole; longer ones render the rows in view (± overscan). */
const RENDER_ALL = 300;
const OVERSCAN = 40;

/**
 * The slice of rows to render: all of a short trace; for a long one (a 5,000-span trace), the rows
 * in the viewport and some around them, the rest stood in for by the list's padding so the
 * scrollbar and the time axis stay true.
 */
function useWindow(list: { current: HTMLElement | null }, total: number): { start: number; end: number } {
	const [shown, setShown] = useState<{ start: number; end: number; total: number } | null>(null);
	useEffect(() => {
		if (total <= RENDER_ALL) return;
		const update = () => {
			const top = (list.current?.getBoundingClientRect().top ?? 0) + window.scrollY;
			const first = Math.floor((window.scrollY - top) / ROW_HEIGHT) - OVERSCAN;
			const last = Math.ceil((window.scrollY + window.innerHeight - top) / ROW_HEIGHT) + OVERSCAN;
			const start = Math.max(0, Math.min(first, total));
			const end = Math.max(start, Math.min(total, last));
			setShown((current) =>
				current && current.start === start && current.end === end && current.total === total
					? current
					: { start, end, total },
			);
		};
		update();
		window.addEventListener("scroll", update, { passive: true });
		window.addEventListener("resize", update);
		return () => {
			window.removeEventListener("scroll", update);
			window.removeEventListener("resize", update);
		};
	}, [total]);
	if (total <= RENDER_ALL) return { start: 0, end: total };
	if (shown && shown.total === total) return shown;
	// Not measured yet (the first render with these rows): the rows a viewport can hold from the top,
	// so the first rows are on screen in this render rather than after a measuring one.
	return { start: 0, end: Math.min(total, Math.ceil(window.innerHeight / ROW_HEIGHT) + OVERSCAN) };
}

/**
 * A bar's duration: after the bar when it ends early enough, before it when it starts late enough,
 * else inside it (a span over most of the trace): never over the bar's own end, which would make
 * it look shorter than it is.
 */
function DurationLabel({ start, duration, total }: { start: number; duration: number; total: number }) {
	const end = Math.min(start + duration, total) / total;
	const [side, style] =
		end <= 0.75
			? (["after", { left: `calc(${end * 100}% + 4px)` }] as const)
			: start / total >= 0.25
				? (["before", { right: `calc(${(1 - start / total) * 100}% + 4px)` }] as const)
				: (["inside", { right: `calc(${(1 - end) * 100}% + 4px)` }] as const);
	return (
		<span class={`span-duration ${side}`} style={style}>
			{formatMs(duration)}
		</span>
	);
}

function SpanPanel(props: {
	span: Span;
	trace: Trace;
	/** The full trace's loading: its error takes the place of the attributes. */
	details: Resource<Trace | undefined>;
	/** Opened by the reader: the focus moves to the panel (it comes after every row in Tab order). */
	takeFocus: boolean;
	onClose: () => void;
}) {
	const { span, trace, details, onClose } = props;
	const logs = trace.logs.filter((l) => l.span_id === span.span_id);
	const heading = useRef<HTMLHeadingElement>(null);
	useEffect(() => {
		if (props.takeFocus) heading.current?.focus();
	}, [span.span_id, props.takeFocus]);
	return (
		<aside
			class="span-panel card"
			aria-label={`Span ${span.name}`}
			onKeyDown={(e) => {
				if (e.key === "Escape") {
					e.preventDefault();
					onClose();
				}
			}}
		>
			<div class="row panel-header">
				<h2 ref={heading} tabIndex={-1}>
					{span.name}
				</h2>
				<span class="spacer" />
				<button type="button" class="small" onClick={onClose}>
					Close
				</button>
			</div>
			<dl class="kv">
				<dt>Service</dt>
				<dd>{span.service ?? "—"}</dd>
				<dt>Kind</dt>
				<dd>{span.kind}</dd>
				<dt>Status</dt>
				<dd>
					{span.status}
					{span.status_message ? `: ${span.status_message}` : ""}
				</dd>
				<dt>Start</dt>
				<dd>+{formatMs(span.start_offset_ms)}</dd>
				<dt>Duration</dt>
				<dd>{formatMs(span.duration_ms)}</dd>
				<dt>Span ID</dt>
				<dd class="mono">{span.span_id}</dd>
			</dl>
			<h3>Attributes</h3>
			{span.attributes ? (
				<AttributeList label="Attributes" attributes={span.attributes} />
			) : details.error && !details.loading ? (
				<>
					<ErrorNotice problem={details.error} />
					<button type="button" class="small" onClick={() => void details.reload()}>
						Try again
					</button>
				</>
			) : (
				<p class="subtitle" role="status">
					Loading…
				</p>
			)}
			{/* Empty sections say "None.", as Attributes does (a bare "Events (0)" read as unfinished). */}
			<h3>Events{span.events && span.events.length > 0 ? ` (${span.events.length})` : ""}</h3>
			{span.events?.length === 0 ? <p class="subtitle">None.</p> : null}
			{span.events?.map((e) => (
				<div key={`${e.name}-${e.time_unix_nano}`}>
					<strong>{e.name}</strong> <span class="subtitle">+{formatMs(e.offset_ms)}</span>
					{e.attributes && Object.keys(e.attributes).length > 0 ? (
						<AttributeList label={`Attributes of ${e.name}`} attributes={e.attributes} />
					) : null}
				</div>
			))}
			<h3>Logs{logs.length > 0 ? ` (${logs.length})` : ""}</h3>
			{logs.length === 0 ? (
				<p class="subtitle">None.</p>
			) : (
				<ul class="log-lines" aria-label="Span logs">
					{logs.map((l) => (
						<li key={l.id}>
							<Badge kind={l.level ?? "neutral"}>{l.level ?? "—"}</Badge>{" "}
							<span class="log-body">{l.body}</span>
						</li>
					))}
				</ul>
			)}
			<h3>Resource</h3>
			{span.resource ? <AttributeList label="Resource" attributes={span.resource} /> : null}
		</aside>
	);
}
