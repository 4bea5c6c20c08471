import { useEffect, useId, useMemo, useRef, useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { type ApiProblem, api, asProblem, unwrap } from "../../api/client";
import type { components } from "../../api/schema";
import { currentUser } from "../../api/session";
import { rangeLabel, rangeMs, timeAgo } from "../../components/format";
import { linkWithoutRange, pageRange, resolveTimeRange } from "../../components/time-range";
import {
	ConfirmDialog,
	ErrorNotice,
	Field,
	Loading,
	PageHeader,
	SelectField,
	useModal,
	When,
} from "../../components/ui";
import { useResource } from "../../components/use-resource";
import { type EditorError, OqlEditor } from "../query/editor";
import { completionWords } from "../query/oql";
import { OqlErrorNotice } from "../query/oql-error";
import { ResultView } from "../query/results";
import { runDsl } from "../query/run";
import {
	type Dashboard,
	DEFAULT_SIZE,
	fits,
	freeSpot,
	GRID_COLUMNS,
	type Layout,
	PANEL_KIND_OPTIONS,
	type Panel,
	type PanelKind,
	saveDashboard,
} from "./model";
import { DashboardSettingsEditor } from "./settings-editor";
import "../query/explore.css";

type DashboardData = components["schemas"]["DashboardData"];
type PanelAnswer = DashboardData["panels"][string];

const ARROW_STEPS: Record<string, [number, number]> = {
	ArrowLeft: [-1, 0],
	ArrowRight: [1, 0],
	ArrowUp: [0, -1],
	ArrowDown: [0, 1],
};

/** Rows of the panel editor's preview (its chart's height, as a panel of that many grid rows). */
const PREVIEW_ROWS = 7;

/** The range and variable values the dashboard's last answer ran with: what a preview runs with. */
interface RunContext {
	from: string;
	to: string;
	variables: Record<string, string>;
}

function runContextOf(data: DashboardData | undefined): RunContext | null {
	if (!data) return null;
	const variables: Record<string, string> = {};
	for (const [name, value] of Object.entries(data.variables)) if (value !== null) variables[name] = value;
	return { from: data.time.from, to: data.time.to, variables };
}

/** A panel's query run through `POST /api/v1/dsl` as the dashboard would run it, before it is saved. */
async function previewAnswer(
	query: string,
	context: RunContext,
): Promise<PanelAnswer & { at?: EditorError | null }> {
	const { result, problem, position } = await runDsl(query, context);
	if (result) return { data: result };
	return {
		error: {
			code: problem?.code ?? "http_error",
			message: problem?.message ?? "The preview failed.",
			...(position && { position: { line: position.line, column: position.column } }),
		},
		at: position,
	};
}

/** Height of one grid row in pixels (CSS `.dash-grid` uses the same). */
const ROW_PX = 40;
const GAP_PX = 12;
const REFRESH: Array<[string, string]> = [
	["", "Off"],
	["30s", "30 seconds"],
	["1m", "1 minute"],
	["5m", "5 minutes"],
];
const REFRESH_MS: Record<string, number> = { "30s": 30_000, "1m": 60_000, "5m": 300_000 };

function newPanelId(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(8));
	return `p_${[...bytes].map((b) => "abcdefghijklmnopqrstuvwxyz0123456789"[b % 36]).join("")}`;
}

export function DashboardPage() {
	const { params } = useRoute();
	const id = params.id as string;
	const { path, query, route } = useLocation();
	const dashboard = useResource(
		() => unwrap(api.GET("/api/v1/dashboards/{id}", { params: { path: { id } } })),
		[id],
	);
	const editing = query.edit === "1";
	const [draft, setDraft] = useState<Dashboard | null>(null);
	const [problem, setProblem] = useState<ApiProblem | null>(null);
	const [busy, setBusy] = useState(false);
	const [conflict, setConflict] = useState<Conflict | null>(null);
	const [confirmDelete, setConfirmDelete] = useState(false);
	const [panelEditor, setPanelEditor] = useState<Panel | "new" | null>(null);
	const [context, setContext] = useState<RunContext | null>(null);

	const setParams = (next: Record<string, string | undefined>, replace = true) => {
		const search = new URLSearchParams();
		for (const [k, v] of Object.entries({ ...query, ...next }))
			if (v !== undefined && v !== "") search.set(k, v);
		const text = search.toString();
		route(text ? `${path}?${text}` : path, replace);
	};

	// Entering edit mode starts a draft from the stored document; leaving drops it.
	useEffect(() => {
		if (editing && dashboard.data && !draft) setDraft(structuredClone(dashboard.data));
		if (!editing && draft) setDraft(null);
	}, [editing, dashboard.data]);

	const stored = dashboard.data;
	const shown = editing && draft ? draft : stored;
	// The grid's handles show once the draft they change exists (the effect above runs a frame after
	// edit mode starts; a key pressed on a handle in that frame was lost).
	const editable = editing && draft !== null;
	// Unsaved changes: leaving edit mode asks first, and so does closing or reloading the page.
	const dirty =
		editing && draft !== null && stored !== undefined && JSON.stringify(draft) !== JSON.stringify(stored);
	const [confirmDiscard, setConfirmDiscard] = useState(false);
	useEffect(() => {
		if (!dirty) return;
		const warn = (e: BeforeUnloadEvent) => e.preventDefault();
		window.addEventListener("beforeunload", warn);
		return () => window.removeEventListener("beforeunload", warn);
	}, [dirty]);

	const save = async (version: number) => {
		if (!draft) return;
		setBusy(true);
		setProblem(null);
		try {
			const outcome = await saveDashboard(draft, version);
			if ("conflict" in outcome) {
				// Who saved it, and when: the dialog names them (or says it was you, in another tab).
				const latest = await unwrap(api.GET("/api/v1/dashboards/{id}", { params: { path: { id } } })).catch(
					() => null,
				);
				setConflict({
					current: latest?.version ?? outcome.conflict,
					by: latest?.updated_by ?? null,
					at: latest?.updated_at ?? null,
				});
				return;
			}
			setConflict(null);
			setDraft(null);
			await dashboard.reload();
			setParams({ edit: undefined });
		} catch (e) {
			setProblem(asProblem(e));
		} finally {
			setBusy(false);
		}
	};

	if (!shown) {
		return (
			<>
				<PageHeader title="Dashboard" />
				<ErrorNotice problem={dashboard.error} />
				{dashboard.loading ? <Loading what="the dashboard" /> : null}
			</>
		);
	}

	const updatePanels = (panels: Panel[]) => setDraft((d) => (d ? { ...d, panels } : d));

	return (
		<>
			<PageHeader
				title={shown.title}
				subtitle={
					<>
						{shown.description ? `${shown.description} · ` : ""}version {stored?.version ?? shown.version}
						{stored ? (
							<>
								, saved {stored.updated_by.name ? `by ${stored.updated_by.name} ` : ""}
								<When at={stored.updated_at} />
							</>
						) : null}
						{shown.tags.length > 0 ? ` · ${shown.tags.join(", ")}` : ""}
					</>
				}
			>
				{editing ? (
					<>
						<button type="button" onClick={() => setPanelEditor("new")}>
							Add panel
						</button>
						<button
							type="button"
							onClick={() => (dirty ? setConfirmDiscard(true) : setParams({ edit: undefined }))}
						>
							Cancel
						</button>
						<button
							type="button"
							class="primary"
							aria-disabled={busy}
							onClick={() => !busy && draft && void save(draft.version)}
						>
							{busy ? "Saving…" : "Save dashboard"}
						</button>
					</>
				) : (
					<>
						<button type="button" onClick={() => setParams({ edit: "1" })}>
							Edit
						</button>
						<button
							type="button"
							onClick={async () => {
								try {
									const copy = await unwrap(
										api.POST("/api/v1/dashboards/{id}/duplicate", { params: { path: { id } }, body: {} }),
									);
									route(`/dashboards/${copy.id}`);
								} catch (e) {
									setProblem(asProblem(e));
								}
							}}
						>
							Duplicate
						</button>
						<button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
							Delete
						</button>
					</>
				)}
			</PageHeader>
			<ErrorNotice problem={problem ?? dashboard.error} />
			{editing && draft ? (
				<div class="row dash-meta">
					<Field
						label="Title"
						value={draft.title}
						maxLength={200}
						onInput={(e) => setDraft({ ...draft, title: e.currentTarget.value })}
					/>
					<Field
						label="Tags"
						value={draft.tags.join(", ")}
						hint="Comma separated, e.g. team:payments"
						onInput={(e) =>
							setDraft({
								...draft,
								tags: e.currentTarget.value
									.split(",")
									.map((t) => t.trim())
									.filter(Boolean),
							})
						}
					/>
				</div>
			) : null}
			{editing && draft ? <DashboardSettingsEditor draft={draft} onChange={setDraft} /> : null}
			<DashboardBody
				dashboard={shown}
				stored={stored}
				editing={editable}
				refresh={query.refresh ?? ""}
				onRefreshChange={(value) => setParams({ refresh: value || undefined })}
				onChangePanels={updatePanels}
				onEditPanel={(panel) => setPanelEditor(panel)}
				onContext={setContext}
			/>
			{panelEditor && draft ? (
				<PanelEditor
					panel={panelEditor === "new" ? null : panelEditor}
					context={context}
					onCancel={() => setPanelEditor(null)}
					onSave={(panel) => {
						const others = draft.panels.filter((p) => p.id !== panel.id);
						const exists = draft.panels.some((p) => p.id === panel.id);
						updatePanels(
							exists
								? draft.panels.map((p) => (p.id === panel.id ? panel : p))
								: [...others, { ...panel, layout: freeSpot(others, DEFAULT_SIZE) }],
						);
						setPanelEditor(null);
					}}
				/>
			) : null}
			<ConflictDialog
				open={conflict !== null}
				conflict={conflict}
				busy={busy}
				onReload={async () => {
					setConflict(null);
					setDraft(null);
					await dashboard.reload();
					setParams({ edit: undefined });
				}}
				onOverwrite={async () => {
					try {
						const latest = await unwrap(api.GET("/api/v1/dashboards/{id}", { params: { path: { id } } }));
						await save(latest.version);
					} catch (e) {
						setConflict(null);
						setProblem(asProblem(e));
					}
				}}
				onKeepEditing={() => setConflict(null)}
			/>
			<ConfirmDialog
				open={confirmDelete}
				title="Delete this dashboard?"
				confirmLabel="Delete dashboard"
				danger
				busy={busy}
				onCancel={() => setConfirmDelete(false)}
				onConfirm={async () => {
					setBusy(true);
					try {
						await unwrap(api.DELETE("/api/v1/dashboards/{id}", { params: { path: { id } } }));
						route("/dashboards");
					} catch (e) {
						setConfirmDelete(false);
						setProblem(asProblem(e));
					} finally {
						setBusy(false);
					}
				}}
			>
				<p>
					{shown.panels.length === 0
						? `“${shown.title}” is removed for everyone.`
						: `“${shown.title}” and its ${shown.panels.length === 1 ? "panel" : `${shown.panels.length} panels`} are removed for everyone. Saved queries its panels use stay.`}
				</p>
			</ConfirmDialog>
			<ConfirmDialog
				open={confirmDiscard}
				title="Discard your changes?"
				confirmLabel="Discard changes"
				danger
				onCancel={() => setConfirmDiscard(false)}
				onConfirm={() => {
					setConfirmDiscard(false);
					setParams({ edit: undefined });
				}}
			>
				<p>Your changes to “{shown.title}” are not saved. Leaving edit mode throws them away.</p>
			</ConfirmDialog>
		</>
	);
}

/** A dashboard's own range as the window it means now (ISO instants), or null when it names none. */
function ownWindow(time: Dashboard["time"]): { from: string; to: string } | null {
	if (!("last" in time)) return { from: time.from, to: time.to };
	const ms = rangeMs(time.last);
	if (ms === null) return null;
	const now = Date.now();
	return { from: new Date(now - ms).toISOString(), to: new Date(now).toISOString() };
}

/** Variables, auto-refresh and the grid of panels with their data. */
function DashboardBody(props: {
	dashboard: Dashboard;
	stored: Dashboard | undefined;
	editing: boolean;
	refresh: string;
	onRefreshChange: (value: string) => void;
	onChangePanels: (panels: Panel[]) => void;
	onEditPanel: (panel: Panel) => void;
	onContext: (context: RunContext | null) => void;
}) {
	const { dashboard, stored } = props;
	const { query, path, route } = useLocation();
	const hasRange = Boolean(query.range || (query.from && query.to));
	const variables = stored?.variables ?? [];
	const variableParams = Object.fromEntries(
		variables.flatMap((v) =>
			query[`var.${v.name}`] !== undefined ? [[`var.${v.name}`, query[`var.${v.name}`]]] : [],
		),
	) as Record<string, string>;
	const [tick, setTick] = useState(0);
	// The dashboard's own range: the draft's while editing, so a new default shows before it is saved.
	const own = dashboard.time;
	const ownChanged = stored !== undefined && JSON.stringify(own) !== JSON.stringify(stored.time);
	const data = useResource(async () => {
		if (!stored) return undefined;
		const range: Record<string, string> = {};
		if (hasRange) {
			// The global picker's range (else the dashboard's own default range).
			const r = resolveTimeRange(query);
			range.from = r.from.toISOString();
			range.to = r.to.toISOString();
		} else if (ownChanged) {
			// An unsaved default range: the server knows only the saved one, so the window is sent.
			const window = ownWindow(own);
			if (window) Object.assign(range, window);
		}
		return unwrap(
			api.GET("/api/v1/dashboards/{id}/data", {
				params: { path: { id: stored.id }, query: { ...range, ...variableParams } },
			}),
		);
	}, [
		stored?.id,
		stored?.version,
		query.range,
		query.from,
		query.to,
		JSON.stringify(variableParams),
		tick,
		ownChanged ? JSON.stringify(own) : "",
	]);

	// The header's picker shows the dashboard's own range while the URL names none.
	const ownRangeText = stored ? ("last" in own ? rangeLabel(own.last).toLowerCase() : "fixed") : null;
	const ownRange = ownRangeText ? `Dashboard's range (${ownRangeText})` : null;
	useEffect(() => {
		pageRange.value = ownRange;
		return () => {
			pageRange.value = null;
		};
	}, [ownRange]);

	const context = useMemo(() => runContextOf(data.data), [data.data]);
	useEffect(() => props.onContext(context), [context]);

	useEffect(() => {
		const ms = REFRESH_MS[props.refresh];
		if (!ms) return;
		const timer = setInterval(() => setTick((t) => t + 1), ms);
		return () => clearInterval(timer);
	}, [props.refresh]);

	const schemaNeeded = variables.some((v) => v.source);
	const schema = useResource(
		() => (schemaNeeded ? unwrap(api.GET("/api/v1/pages/schema")) : Promise.resolve(undefined)),
		[schemaNeeded],
	);

	const setVariable = (name: string, value: string) => {
		const search = new URLSearchParams(query);
		search.set(`var.${name}`, value);
		route(`${path}?${search}`, true);
	};

	return (
		<>
			<div class="row dash-controls">
				{variables.map((v) => {
					const current = query[`var.${v.name}`] ?? data.data?.variables[v.name] ?? v.default ?? "";
					const seen =
						v.values ??
						(v.source
							? (schema.data?.sources
									.find((s) => s.source === v.source?.source)
									?.fields.find((f) => f.name === v.source?.field || f.oql === v.source?.field)?.values ?? [])
							: null);
					if (seen) {
						const options = [...new Set([...(current ? [current] : []), ...seen])];
						return (
							<SelectField
								key={v.name}
								label={v.label || v.name}
								options={options.map((o) => [o, o])}
								value={current}
								onChange={(e) => setVariable(v.name, (e.target as HTMLSelectElement).value)}
							/>
						);
					}
					return (
						<Field
							key={v.name}
							label={v.label || v.name}
							value={current}
							onChange={(e) => setVariable(v.name, e.currentTarget.value)}
							onKeyDown={(e) => {
								if (e.key === "Enter") setVariable(v.name, e.currentTarget.value);
							}}
						/>
					);
				})}
				<span class="spacer" />
				<SelectField
					label="Auto-refresh"
					options={REFRESH}
					value={props.refresh}
					onChange={(e) => props.onRefreshChange((e.target as HTMLSelectElement).value)}
				/>
				<button
					type="button"
					onClick={() => data.loading || setTick((t) => t + 1)}
					aria-disabled={data.loading}
				>
					{data.loading ? "Loading…" : "Refresh"}
				</button>
			</div>
			{hasRange && stored ? (
				// Without a range in the URL the header's picker names the dashboard's own; with one, this
				// says what it replaces and offers the way back.
				<p class="subtitle row range-overridden">
					<span>The time range picker overrides this dashboard's own range ({ownRangeText}).</span>
					<button type="button" class="small" onClick={() => route(linkWithoutRange(query, path))}>
						Use the dashboard's range
					</button>
				</p>
			) : null}
			<ErrorNotice problem={data.error} />
			{dashboard.panels.length === 0 ? (
				<div class="empty">
					No panels yet.{" "}
					{props.editing
						? "Add one with “Add panel”."
						: "Edit the dashboard to add one, or add a query from the Query page."}
				</div>
			) : (
				<PanelGrid
					panels={dashboard.panels}
					stored={stored}
					answers={data.data?.panels}
					failed={Boolean(data.error) && !data.loading}
					context={context}
					editing={props.editing}
					onChange={props.onChangePanels}
					onEdit={props.onEditPanel}
				/>
			)}
		</>
	);
}

/** The panel's stored query text (or saved query), to know whether the fetched data still belongs to it. */
function querySignature(panel: Panel): string {
	return panel.saved_query_id ? `saved:${panel.saved_query_id}` : `oql:${panel.query ?? ""}`;
}

/** Reading order on the grid: by row, then by column. */
const byPlace = (a: { layout: { x: number; y: number } }, b: { layout: { x: number; y: number } }) =>
	a.layout.y - b.layout.y || a.layout.x - b.layout.x;

function PanelGrid(props: {
	panels: Panel[];
	stored: Dashboard | undefined;
	answers: DashboardData["panels"] | undefined;
	/** The dashboard's data could not be read (the error is shown above the grid). */
	failed: boolean;
	context: RunContext | null;
	editing: boolean;
	onChange: (panels: Panel[]) => void;
	onEdit: (panel: Panel) => void;
}) {
	const grid = useRef<HTMLDivElement>(null);
	const drag = useRef<{ id: string; mode: "move" | "resize"; x: number; y: number; start: Layout } | null>(
		null,
	);
	const panelsRef = useRef(props.panels);
	panelsRef.current = props.panels;
	const storedSignatures = useMemo(
		() => new Map((props.stored?.panels ?? []).map((p) => [p.id, querySignature(p)])),
		[props.stored],
	);

	const onPointerDown = (panel: Panel, mode: "move" | "resize") => (e: PointerEvent) => {
		if (!props.editing || e.button !== 0) return;
		if ((e.target as HTMLElement).closest("button") && mode === "move") return;
		e.preventDefault();
		(e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
		drag.current = { id: panel.id, mode, x: e.clientX, y: e.clientY, start: panel.layout };
	};
	const onPointerMove = (e: PointerEvent) => {
		const active = drag.current;
		const element = grid.current;
		if (!active || !element) return;
		const columnPx = (element.clientWidth + GAP_PX) / GRID_COLUMNS;
		const dx = Math.round((e.clientX - active.x) / columnPx);
		const dy = Math.round((e.clientY - active.y) / (ROW_PX + GAP_PX));
		const { start } = active;
		const next: Layout =
			active.mode === "move"
				? { ...start, x: start.x + dx, y: start.y + dy }
				: { ...start, w: start.w + dx, h: start.h + dy };
		place(active.id, next);
	};
	const onPointerUp = () => {
		drag.current = null;
	};
	/** Moves or resizes a panel to `next` when that is on the grid and overlaps no other panel. */
	const place = (id: string, next: Layout) => {
		const panels = panelsRef.current;
		const current = panels.find((p) => p.id === id);
		if (
			!current ||
			(current.layout.x === next.x &&
				current.layout.y === next.y &&
				current.layout.w === next.w &&
				current.layout.h === next.h)
		)
			return;
		if (!fits(next, panels, id)) return;
		props.onChange(panels.map((p) => (p.id === id ? { ...p, layout: next } : p)));
	};
	/** The arrow keys on a panel's move or resize handle: one column or row per press. */
	const onKeyDown = (panel: Panel, mode: "move" | "resize") => (e: KeyboardEvent) => {
		const step = ARROW_STEPS[e.key];
		if (!step) return;
		e.preventDefault();
		const [dx, dy] = step;
		const l = panel.layout;
		place(
			panel.id,
			mode === "move" ? { ...l, x: l.x + dx, y: l.y + dy } : { ...l, w: l.w + dx, h: l.h + dy },
		);
	};

	return (
		<div
			class={`dash-grid${props.editing ? " editing" : ""}`}
			ref={grid}
			style={{ "--grid-columns": String(GRID_COLUMNS) }}
		>
			{/* In reading order (row, then column): a stacked phone layout, Tab and a screen reader
			    follow the grid, not the order panels were added or moved in. */}
			{[...props.panels].sort(byPlace).map((panel) => {
				const answer = props.answers?.[panel.id];
				const fresh = storedSignatures.get(panel.id) === querySignature(panel);
				return (
					<section
						key={panel.id}
						class="card dash-panel"
						aria-label={panel.title}
						// As custom properties, so a narrow screen can stack the panels (explore.css).
						style={{
							"--panel-column": `${panel.layout.x + 1} / span ${panel.layout.w}`,
							"--panel-row": `${panel.layout.y + 1} / span ${panel.layout.h}`,
							"--panel-height": String(panel.layout.h),
						}}
					>
						<header
							class="dash-panel-header"
							onPointerDown={onPointerDown(panel, "move")}
							onPointerMove={onPointerMove}
							onPointerUp={onPointerUp}
							title={props.editing ? "Drag to move" : undefined}
						>
							<h2>{panel.title}</h2>
							{props.editing ? (
								<span class="row">
									<button
										type="button"
										class="small dash-move"
										aria-label={`Move ${panel.title}`}
										title="Arrow keys move the panel (or drag its header)"
										onKeyDown={onKeyDown(panel, "move")}
									>
										⠿
									</button>
									<button type="button" class="small" onClick={() => props.onEdit(panel)}>
										Edit<span class="visually-hidden"> panel {panel.title}</span>
									</button>
									<button
										type="button"
										class="small danger"
										onClick={() => props.onChange(props.panels.filter((p) => p.id !== panel.id))}
									>
										Remove<span class="visually-hidden"> panel {panel.title}</span>
									</button>
								</span>
							) : null}
						</header>
						<div class="dash-panel-body">
							{!fresh ? (
								panel.query !== undefined && props.context ? (
									<PanelPreview panel={panel} query={panel.query} context={props.context} />
								) : (
									<p class="subtitle">Not saved yet: save the dashboard to run this panel.</p>
								)
							) : answer === undefined ? (
								<p class="subtitle" role="status">
									{props.failed ? "Not loaded: the error is above the panels." : "Loading…"}
								</p>
							) : (
								<PanelContent panel={panel} answer={answer} />
							)}
						</div>
						{props.editing ? (
							<button
								type="button"
								class="dash-resize"
								aria-label={`Resize ${panel.title}`}
								title="Arrow keys resize the panel (or drag this corner)"
								onKeyDown={onKeyDown(panel, "resize")}
								onPointerDown={onPointerDown(panel, "resize")}
								onPointerMove={onPointerMove}
								onPointerUp={onPointerUp}
							/>
						) : null}
					</section>
				);
			})}
		</div>
	);
}

/** An edited panel, run as it stands (not saved yet) over the dashboard's range and variables. */
function PanelPreview(props: { panel: Panel; query: string; context: RunContext }) {
	const { context } = props;
	const answer = useResource(
		() => previewAnswer(props.query, context),
		[props.query, context.from, context.to, JSON.stringify(context.variables)],
	);
	return (
		<>
			<p class="subtitle preview-note">Preview: not saved yet.</p>
			{answer.data ? (
				<PanelContent panel={props.panel} answer={answer.data} />
			) : answer.error && !answer.loading ? (
				<ErrorNotice problem={answer.error} />
			) : (
				<p class="subtitle" role="status">
					Loading…
				</p>
			)}
		</>
	);
}

function PanelContent({ panel, answer }: { panel: Panel; answer: PanelAnswer }) {
	if ("error" in answer) {
		const { error } = answer;
		// As the query explorer shows it (the code, `oql_invalid_query`, is for programs).
		return <OqlErrorNotice message={error.message} position={error.position} class="panel-error" />;
	}
	const unit = typeof panel.options?.unit === "string" ? panel.options.unit : undefined;
	// Room for the title and a legend of a row or two.
	const height = Math.max(80, panel.layout.h * (ROW_PX + GAP_PX) - 140);
	return (
		<ResultView
			result={answer.data}
			kind={panel.kind === "logs" ? "table" : panel.kind}
			label={panel.title}
			height={height}
			unit={unit}
		/>
	);
}

function PanelEditor(props: {
	panel: Panel | null;
	context: RunContext | null;
	onCancel: () => void;
	onSave: (panel: Panel) => void;
}) {
	const schema = useResource(() => unwrap(api.GET("/api/v1/pages/schema")), []);
	const words = useMemo(() => completionWords(schema.data), [schema.data]);
	const [title, setTitle] = useState(props.panel?.title ?? "");
	const [kind, setKind] = useState<PanelKind>(props.panel?.kind ?? "timeseries");
	const [text, setText] = useState(props.panel?.query ?? "");
	const [preview, setPreview] = useState<{
		text: string;
		answer: Awaited<ReturnType<typeof previewAnswer>>;
	} | null>(null);
	const [previewing, setPreviewing] = useState(false);
	const savedQuery = props.panel?.saved_query_id;
	const { context } = props;
	const runPreview = async () => {
		if (!context || !text.trim()) return;
		const ran = text;
		setPreviewing(true);
		try {
			setPreview({ text: ran, answer: await previewAnswer(ran, context) });
		} finally {
			setPreviewing(false);
		}
	};
	// A panel opened with a query shows what it draws at once.
	useEffect(() => {
		if (!savedQuery && text.trim()) void runPreview();
	}, [context !== null]);
	const changed =
		title !== (props.panel?.title ?? "") ||
		kind !== (props.panel?.kind ?? "timeseries") ||
		text !== (props.panel?.query ?? "");
	const cancel = () => {
		if (!changed || window.confirm("Discard your changes to this panel?")) props.onCancel();
	};
	const shape: Panel = {
		id: props.panel?.id ?? "preview",
		title: title.trim() || "Preview",
		kind,
		query: text,
		layout: { x: 0, y: 0, w: DEFAULT_SIZE.w, h: PREVIEW_ROWS },
	};
	return (
		<ConfirmDialog
			open
			title={props.panel ? "Edit panel" : "Add panel"}
			confirmLabel={props.panel ? "Apply" : "Add"}
			busy={!title.trim() || (!savedQuery && !text.trim())}
			onCancel={cancel}
			onConfirm={() =>
				props.onSave({
					...(props.panel ?? { id: newPanelId(), layout: { x: 0, y: 0, ...DEFAULT_SIZE } }),
					title: title.trim(),
					kind,
					...(savedQuery ? { saved_query_id: savedQuery } : { query: text }),
				})
			}
		>
			<div class="stack panel-editor">
				<Field
					label="Panel title"
					value={title}
					maxLength={200}
					onInput={(e) => setTitle(e.currentTarget.value)}
				/>
				<SelectField
					label="Panel kind"
					options={PANEL_KIND_OPTIONS}
					value={kind}
					onChange={(e) => setKind((e.target as HTMLSelectElement).value as PanelKind)}
				/>
				{savedQuery ? (
					<p class="subtitle">
						This panel shows a saved query: change it with its Edit button under Saved queries on the Query
						page (every panel that uses it follows).
					</p>
				) : (
					<>
						<OqlEditor
							label="Panel query"
							value={text}
							onChange={setText}
							onRun={() => void runPreview()}
							words={words}
							error={preview && preview.text === text ? (preview.answer.at ?? null) : null}
							minLines={4}
						/>
						<div class="row">
							<button
								type="button"
								class="small"
								onClick={() => void runPreview()}
								disabled={!context || !text.trim() || previewing}
							>
								{previewing ? "Running…" : "Preview"}
							</button>
							<span class="subtitle">
								{context
									? "Ctrl/⌘+Enter. Runs over the dashboard's time range and variables; nothing is saved."
									: "The preview runs once the dashboard's data has loaded."}
							</span>
						</div>
						{preview ? (
							<section class="panel-preview" aria-label="Panel preview">
								<PanelContent panel={shape} answer={preview.answer} />
							</section>
						) : null}
					</>
				)}
			</div>
		</ConfirmDialog>
	);
}

/** A save refused as `version_conflict`: the version saved meanwhile, who saved it and when. */
interface Conflict {
	current: number | null;
	by: components["schemas"]["Dashboard"]["updated_by"] | null;
	at: string | null;
}

function ConflictDialog(props: {
	open: boolean;
	conflict: Conflict | null;
	busy: boolean;
	onReload: () => void;
	onOverwrite: () => void;
	onKeepEditing: () => void;
}) {
	const ref = useModal(props.open);
	const titleId = useId();
	const { current = null, by = null, at = null } = props.conflict ?? {};
	const mine = by !== null && by.id === currentUser.value?.id;
	const who = mine ? "You" : (by?.name ?? "Someone else");
	const when = at ? timeAgo(at) : null;
	const saved = current === null ? "" : ` It is now at version ${current}${when ? `, saved ${when}` : ""}.`;
	return (
		<dialog ref={ref} aria-labelledby={titleId} onCancel={props.onKeepEditing}>
			<h2 id={titleId}>
				{who} saved this dashboard{mine ? " in another tab or window" : ""}
			</h2>
			<p>
				It changed since you started editing.{saved} Discard your changes and take that version, or overwrite
				it with yours.
			</p>
			<div class="buttons">
				<button type="button" onClick={props.onKeepEditing}>
					Keep editing
				</button>
				<button type="button" onClick={props.onReload} disabled={props.busy}>
					Discard my changes
				</button>
				<button type="button" class="danger" onClick={props.onOverwrite} disabled={props.busy}>
					Overwrite with mine
				</button>
			</div>
		</dialog>
	);
}
