import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, unwrap } from "../../api/client";
import type { components } from "../../api/schema";
import { currentUser } from "../../api/session";
import { roleAtLeast } from "../../auth/roles";
import { formatMs, formatTime } from "../../components/format";
import { refreshTick, useTimeRange } from "../../components/time-range";
import { ConfirmDialog, ErrorNotice, Field, Notice, PageHeader, SelectField } from "../../components/ui";
import { useAction, useResource } from "../../components/use-resource";
import { addPanel, PANEL_KIND_OPTIONS, panelKindFor } from "../dashboards/model";
import { OqlEditor } from "./editor";
import { completionWords, hasTimeseries, withRange } from "./oql";
import { OqlErrorNotice } from "./oql-error";
import { autoKind, type ResultKind, ResultView } from "./results";
import { type RunAnswer, runDsl } from "./run";
import "./explore.css";

type SavedQuery = components["schemas"]["SavedQuery"];

const HISTORY_KEY = "hexcovery.query-history";
const HISTORY_MAX = 20;
const EXAMPLE = "SELECT count(*) FROM logs GROUP BY service TIMESERIES";

const VIEWS: Array<[string, string]> = [
	["auto", "Automatic"],
	["table", "Table"],
	["timeseries", "Line chart"],
	["bar", "Bars"],
	["number", "Single number"],
];

/** The queries run in this tab, newest first (sessionStorage: gone with the tab, never sent anywhere). */
export function readHistory(): string[] {
	try {
		const parsed = JSON.parse(sessionStorage.getItem(HISTORY_KEY) ?? "[]") as unknown;
		return Array.isArray(parsed) ? parsed.filter((q): q is string => typeof q === "string") : [];
	} catch {
		return [];
	}
}

function remember(text: string): string[] {
	const next = [text, ...readHistory().filter((q) => q !== text)].slice(0, HISTORY_MAX);
	try {
		sessionStorage.setItem(HISTORY_KEY, JSON.stringify(next));
	} catch {
		// Storage full or disabled: the history is a convenience.
	}
	return next;
}

interface RunState extends RunAnswer {
	text: string;
}

export function QueryPage() {
	const { path, query, route } = useLocation();
	const range = useTimeRange();
	const schema = useResource(() => unwrap(api.GET("/api/v1/pages/schema")), []);
	const words = useMemo(() => completionWords(schema.data), [schema.data]);
	const saved = useResource(
		() => unwrap(api.GET("/api/v1/saved-queries", { params: { query: { limit: 100 } } })),
		[],
	);
	const [text, setText] = useState(() => query.q ?? readHistory()[0] ?? EXAMPLE);
	const [run, setRun] = useState<RunState | null>(null);
	const [running, setRunning] = useState(false);
	const [history, setHistory] = useState(readHistory);
	const [dialog, setDialog] = useState<"save" | "dashboard" | null>(null);
	const [editing, setEditing] = useState<SavedQuery | null>(null);
	// Members and up write saved queries (a private one is only ever listed to its owner).
	const canWrite = roleAtLeast(currentUser.value?.role, "member");
	const [notice, setNotice] = useState<ComponentChildren>(null);
	const generation = useRef(0);
	const [runs, setRuns] = useState(0);
	const view = (VIEWS.find(([v]) => v === query.view)?.[0] ?? "auto") as ResultKind | "auto";

	const setParams = (params: Record<string, string | undefined>, replace = false) => {
		const next = new URLSearchParams();
		for (const [k, v] of Object.entries({ ...query, ...params }))
			if (v !== undefined && v !== "") next.set(k, v);
		route(`${path}?${next}`, replace);
	};

	// The URL is the source of truth: the query in it runs, and runs again when the range changes.
	// The editor takes the URL's query when that query changes (a link, history, Back), not when only
	// the range does: what the person is typing stays.
	const editorOf = useRef<string | undefined>(undefined);
	useEffect(() => {
		const q = query.q;
		if (q === undefined || q.trim() === "") return;
		if (q !== editorOf.current) {
			editorOf.current = q;
			if (q !== text) setText(q);
		}
		const mine = ++generation.current;
		setRunning(true);
		void runDsl(q, { sent: withRange(q, range.from, range.to) }).then((answer) => {
			if (mine !== generation.current) return;
			setRun({ text: q, ...answer });
			setRunning(false);
			setHistory(remember(q));
		});
	}, [query.q, range.key, query.from, query.to, runs, refreshTick.value]);

	const runNow = () => {
		const current = text.trim();
		if (!current || running) return;
		// Same text: the URL does not change, so the counter runs it again.
		if (current === query.q) setRuns((n) => n + 1);
		else setParams({ q: current });
	};

	const result = run?.result ?? null;
	const kind: ResultKind =
		view === "auto" ? (result ? autoKind(result, hasTimeseries(run?.text ?? "")) : "table") : view;

	return (
		<>
			<PageHeader
				title="Query"
				subtitle="OQL over your logs, spans, metrics, annotations and heartbeats. Ctrl/⌘+Enter runs."
			/>
			<div class="query-layout">
				<section class="query-main" aria-label="Query">
					<OqlEditor
						label="OQL query"
						value={text}
						onChange={setText}
						onRun={runNow}
						words={words}
						error={run && run.text === text ? run.position : null}
						minLines={5}
					/>
					<div class="row query-actions">
						<button type="button" class="primary" onClick={runNow} aria-disabled={running}>
							{running ? "Running…" : "Run"}
						</button>
						<button type="button" onClick={() => setDialog("save")} disabled={!text.trim()}>
							Save query…
						</button>
						<button type="button" onClick={() => setDialog("dashboard")} disabled={!text.trim()}>
							Add to dashboard…
						</button>
						<span class="spacer" />
						<SelectField
							label="Show as"
							options={VIEWS}
							value={view}
							onChange={(e) => setParams({ view: (e.target as HTMLSelectElement).value }, true)}
						/>
					</div>
					{notice ? <Notice kind="success">{notice}</Notice> : null}
					{run?.problem ? (
						<OqlErrorNotice
							message={run.problem.message}
							position={run.position}
							requestId={run.problem.requestId}
						/>
					) : null}
					{result ? (
						<>
							<p class="subtitle query-meta">
								{result.meta.row_count} {result.meta.row_count === 1 ? "row" : "rows"}
								{result.meta.truncated
									? " (truncated: more rows matched; raise LIMIT or narrow the query)"
									: ""}{" "}
								· {formatMs(result.meta.elapsed_ms)} · {formatTime(result.meta.from)} –{" "}
								{formatTime(result.meta.to)}
							</p>
							<div class="card query-result">
								<ResultView result={result} kind={kind} label="Query result" height={300} />
							</div>
						</>
					) : null}
				</section>
				<aside class="query-side">
					<h2>History</h2>
					{history.length === 0 ? (
						<p class="subtitle">Queries you run in this tab appear here.</p>
					) : (
						<ul class="query-list" aria-label="Query history">
							{history.map((q) => (
								<li key={q}>
									<button type="button" class="link mono" title={q} onClick={() => setParams({ q })}>
										{q}
									</button>
								</li>
							))}
						</ul>
					)}
					<h2>Saved queries</h2>
					<ErrorNotice problem={saved.error} />
					{saved.data && saved.data.data.length === 0 ? <p class="subtitle">None yet.</p> : null}
					<ul class="query-list" aria-label="Saved queries">
						{(saved.data?.data ?? []).map((s) => (
							<li key={s.id}>
								<button type="button" class="link" title={s.query} onClick={() => setParams({ q: s.query })}>
									{s.name}
								</button>{" "}
								<span class="subtitle">{s.visibility === "private" ? "private" : "shared"}</span>
								{canWrite ? (
									<>
										{" "}
										<button type="button" class="small" onClick={() => setEditing(s)}>
											Edit<span class="visually-hidden"> saved query {s.name}</span>
										</button>
									</>
								) : null}
							</li>
						))}
					</ul>
					{saved.data?.next_cursor ? (
						<p class="subtitle">
							The first {saved.data.data.length} saved queries are listed; there are more.
						</p>
					) : null}
				</aside>
			</div>
			{dialog === "save" ? (
				<SaveQueryDialog
					text={text}
					onDone={(savedQuery) => {
						setDialog(null);
						if (savedQuery) {
							setNotice(
								`Saved as “${savedQuery.name}” (${savedQuery.visibility === "private" ? "private" : "shared"}).`,
							);
							void saved.reload();
						}
					}}
				/>
			) : null}
			{editing ? (
				<EditSavedQueryDialog
					savedQuery={editing}
					text={text}
					onDone={(outcome) => {
						setEditing(null);
						if (outcome) {
							setNotice(
								outcome === "deleted"
									? `Deleted “${editing.name}”.`
									: `Saved “${outcome.name}”${outcome.query === editing.query ? "" : " with the editor's query"}.`,
							);
							void saved.reload();
						}
					}}
				/>
			) : null}
			{dialog === "dashboard" ? (
				<AddToDashboardDialog
					text={text}
					kind={result ? panelKindFor(kind) : hasTimeseries(text) ? "timeseries" : "table"}
					onDone={(dashboard) => {
						setDialog(null);
						if (dashboard) {
							setNotice(
								<>
									Added to <a href={`/dashboards/${dashboard.id}`}>{dashboard.title}</a>.
								</>,
							);
						}
					}}
				/>
			) : null}
		</>
	);
}

function SaveQueryDialog(props: { text: string; onDone: (saved: SavedQuery | null) => void }) {
	const [name, setName] = useState("");
	const [description, setDescription] = useState("");
	const [visibility, setVisibility] = useState<"org" | "private">("org");
	const save = useAction(async () => {
		const created = await unwrap(
			api.POST("/api/v1/saved-queries", {
				body: { name: name.trim(), description: description.trim() || null, query: props.text, visibility },
			}),
		);
		props.onDone(created);
	});
	return (
		<ConfirmDialog
			open
			title="Save query"
			confirmLabel="Save"
			busy={save.busy || !name.trim()}
			onConfirm={() => void save.run()}
			onCancel={() => props.onDone(null)}
		>
			<div class="stack">
				<SavedQueryFields
					name={[name, setName]}
					description={[description, setDescription]}
					visibility={[visibility, setVisibility]}
				/>
				<ErrorNotice problem={save.error} />
			</div>
		</ConfirmDialog>
	);
}

type Visibility = SavedQuery["visibility"];

/** A saved query's name, description and (when the person may set it) visibility, a state pair each. */
function SavedQueryFields(props: {
	name: [string, (value: string) => void];
	description: [string, (value: string) => void];
	visibility: [Visibility, (value: Visibility) => void] | null;
}) {
	const [name, setName] = props.name;
	const [description, setDescription] = props.description;
	const visibility = props.visibility;
	return (
		<>
			<Field
				label="Name"
				value={name}
				required
				maxLength={200}
				onInput={(e) => setName(e.currentTarget.value)}
			/>
			<Field
				label="Description"
				value={description}
				maxLength={2000}
				onInput={(e) => setDescription(e.currentTarget.value)}
			/>
			{visibility ? (
				<SelectField
					label="Visibility"
					options={[
						["org", "Shared with the organization"],
						["private", "Private (only you)"],
					]}
					value={visibility[0]}
					onChange={(e) => visibility[1]((e.target as HTMLSelectElement).value as Visibility)}
					hint="Shared queries can be edited by any member; only shared ones can back a dashboard panel."
				/>
			) : null}
		</>
	);
}

/**
 * A saved query's name, description, visibility (its owner's to change) and, when asked, its query
 * replaced by the editor's; or deleted, which the API refuses while a dashboard panel uses it (the
 * dashboards are named).
 */
function EditSavedQueryDialog(props: {
	savedQuery: SavedQuery;
	text: string;
	onDone: (outcome: SavedQuery | "deleted" | null) => void;
}) {
	const { savedQuery } = props;
	const mine = savedQuery.owner.id === currentUser.value?.id;
	const [name, setName] = useState(savedQuery.name);
	const [description, setDescription] = useState(savedQuery.description ?? "");
	const [visibility, setVisibility] = useState(savedQuery.visibility);
	const differs = props.text.trim() !== "" && props.text !== savedQuery.query;
	const [replace, setReplace] = useState(false);
	const [deleting, setDeleting] = useState(false);
	const path = { params: { path: { id: savedQuery.id } } };
	const save = useAction(async () => {
		const body = {
			name: name.trim(),
			description: description.trim() || null,
			query: replace ? props.text : savedQuery.query,
			...(mine ? { visibility } : {}),
		};
		props.onDone(await unwrap(api.PUT("/api/v1/saved-queries/{id}", { ...path, body })));
	});
	const remove = useAction(async () => {
		await unwrap(api.DELETE("/api/v1/saved-queries/{id}", path));
		props.onDone("deleted");
	});
	const problem = remove.error ?? save.error;
	// A query in use: the API lists the dashboards whose panels use it.
	const usedBy = (problem?.details ?? []).flatMap((d) => {
		const title = (d as { title?: unknown }).title;
		return typeof title === "string" ? [title] : [];
	});
	return (
		<ConfirmDialog
			open
			title="Edit saved query"
			confirmLabel="Save changes"
			busy={save.busy || remove.busy || !name.trim()}
			onConfirm={() => void save.run()}
			onCancel={() => props.onDone(null)}
		>
			<div class="stack">
				<SavedQueryFields
					name={[name, setName]}
					description={[description, setDescription]}
					visibility={mine ? [visibility, setVisibility] : null}
				/>
				{mine ? null : (
					<p class="subtitle">
						Shared by {savedQuery.owner.name ?? "another user"}: only they change who sees it.
					</p>
				)}
				<figure class="field saved-query">
					<figcaption class="field-label">Query</figcaption>
					<pre class="saved-query-text">{savedQuery.query}</pre>
				</figure>
				{differs ? (
					<label class="checkbox">
						<input type="checkbox" checked={replace} onChange={(e) => setReplace(e.currentTarget.checked)} />
						Replace its query with the one in the editor
					</label>
				) : null}
				{usedBy.length > 0 ? (
					<div class="notice error" role="alert">
						<strong>{problem?.message}</strong> Used by: {usedBy.join(", ")}.
					</div>
				) : (
					<ErrorNotice problem={problem} />
				)}
				{deleting ? (
					<div class="row">
						<span>Delete it for everyone?</span>
						<button
							type="button"
							class="small danger"
							disabled={remove.busy}
							onClick={() => void remove.run()}
						>
							Delete saved query
						</button>
						<button type="button" class="small" onClick={() => setDeleting(false)}>
							Keep it
						</button>
					</div>
				) : (
					<div>
						<button type="button" class="small danger" onClick={() => setDeleting(true)}>
							Delete…
						</button>
					</div>
				)}
			</div>
		</ConfirmDialog>
	);
}

const NEW_DASHBOARD = "__new__";

function AddToDashboardDialog(props: {
	text: string;
	kind: components["schemas"]["DashboardPanel"]["kind"];
	onDone: (dashboard: { id: string; title: string } | null) => void;
}) {
	const dashboards = useResource(
		() => unwrap(api.GET("/api/v1/dashboards", { params: { query: { limit: 100 } } })),
		[],
	);
	const [target, setTarget] = useState(NEW_DASHBOARD);
	const [newTitle, setNewTitle] = useState("");
	const [title, setTitle] = useState("");
	const [kind, setKind] = useState(props.kind);
	const add = useAction(async () => {
		const panel = { title: title.trim() || "Panel", kind, query: props.text };
		let id = target;
		if (target === NEW_DASHBOARD) {
			const created = await unwrap(
				api.POST("/api/v1/dashboards", { body: { title: newTitle.trim() || "New dashboard" } }),
			);
			id = created.id;
		}
		props.onDone(await addPanel(id, panel));
	});
	return (
		<ConfirmDialog
			open
			title="Add to a dashboard"
			confirmLabel="Add panel"
			busy={add.busy}
			onConfirm={() => void add.run()}
			onCancel={() => props.onDone(null)}
		>
			<div class="stack">
				<SelectField
					label="Dashboard"
					options={[
						[NEW_DASHBOARD, "A new dashboard…"],
						...(dashboards.data?.data ?? []).map((d): [string, string] => [d.id, d.title]),
					]}
					value={target}
					onChange={(e) => setTarget((e.target as HTMLSelectElement).value)}
					hint={
						dashboards.data?.next_cursor
							? `The first ${dashboards.data.data.length} dashboards are listed: add to another from its own page.`
							: undefined
					}
				/>
				{target === NEW_DASHBOARD ? (
					<Field
						label="New dashboard title"
						value={newTitle}
						onInput={(e) => setNewTitle(e.currentTarget.value)}
					/>
				) : null}
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
					onChange={(e) => setKind((e.target as HTMLSelectElement).value as typeof kind)}
				/>
				<ErrorNotice problem={add.error ?? dashboards.error} />
			</div>
		</ConfirmDialog>
	);
}
