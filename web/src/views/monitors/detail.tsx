import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { api, unwrap } from "../../api/client";
import type { components } from "../../api/schema";
import { currentUser } from "../../api/session";
import { roleAtLeast } from "../../auth/roles";
import { formatMs, formatSeconds, formatTime, timeAgo } from "../../components/format";
import { describeCron } from "../../components/schedule";
import { backToList } from "../../components/time-range";
import {
	Badge,
	CommandBlock,
	ConfirmDialog,
	CopyButton,
	Empty,
	ErrorNotice,
	Field,
	Loading,
	Notice,
	PageHeader,
	When,
} from "../../components/ui";
import { useAction, useResource } from "../../components/use-resource";
import { cronLine, cronLineNote } from "./cron-line";
import { alertsAt } from "./due";

type Monitor = components["schemas"]["Monitor"];
type Ping = components["schemas"]["MonitorPing"];

const REFRESH_MS = 15_000;

export function MonitorDetail() {
	const { params } = useRoute();
	const { route, query } = useLocation();
	const slug = params.slug ?? "";
	const canWrite = roleAtLeast(currentUser.value?.role, "member");
	const path = { params: { path: { slug } } };
	const monitor = useResource(() => unwrap(api.GET("/api/v1/monitors/{slug}", path)), [slug]);
	const flips = useResource(() => unwrap(api.GET("/api/v1/monitors/{slug}/flips", path)), [slug]);
	const [deleting, setDeleting] = useState(false);
	useEffect(() => {
		const timer = setInterval(() => {
			void monitor.reload();
			void flips.reload();
		}, REFRESH_MS);
		return () => clearInterval(timer);
	}, [slug]);
	const pause = useAction(async (paused: boolean) => {
		await unwrap(
			paused
				? api.POST("/api/v1/monitors/{slug}/resume", path)
				: api.POST("/api/v1/monitors/{slug}/pause", path),
		);
		await Promise.all([monitor.reload(), flips.reload()]);
	});
	const remove = useAction(async () => {
		await unwrap(api.DELETE("/api/v1/monitors/{slug}", path));
		route("/monitors");
	});
	const m = monitor.data;
	if (!m) {
		return monitor.loading ? (
			<Loading what="the monitor" />
		) : (
			<>
				<p>
					<a href={backToList(query, "/monitors")}>← All monitors</a>
				</p>
				<ErrorNotice problem={monitor.error} />
			</>
		);
	}
	return (
		<>
			<p>
				<a href={backToList(query, "/monitors")}>← All monitors</a>
			</p>
			<PageHeader
				title={m.name ?? m.slug}
				// The slug under a display name; a monitor without one is titled by its slug (it said it twice).
				subtitle={m.name ? <span class="mono">{m.slug}</span> : undefined}
			>
				<Badge kind={m.status} />
				{canWrite ? (
					<>
						<button
							type="button"
							aria-disabled={pause.busy}
							onClick={() => void pause.run(m.status === "paused")}
						>
							{m.status === "paused" ? "Resume" : "Pause"}
						</button>
						<button type="button" class="danger" onClick={() => setDeleting(true)}>
							Delete monitor
						</button>
					</>
				) : null}
			</PageHeader>
			<ErrorNotice problem={pause.error ?? remove.error} />
			<div class="grid-2">
				<section class="card" aria-labelledby="state-title">
					<h2 id="state-title">State</h2>
					<dl class="kv">
						<dt>Status</dt>
						<dd>
							{m.status}
							{m.started ? " · a run is in progress" : ""}
						</dd>
						<dt>Last ping</dt>
						<dd>
							<When at={m.last_ping_at} empty="never" /> {m.last_ping_kind ? `(${m.last_ping_kind})` : ""}
						</dd>
						<dt>Last run took</dt>
						<dd>{m.last_duration_ms === null ? "—" : formatMs(m.last_duration_ms)}</dd>
						<dt>Next due</dt>
						<dd>
							<DueAt at={m.next_due_at} />
						</dd>
						<dt>Alerts if silent</dt>
						<dd>
							<DueAt at={alertsAt(m)} />
						</dd>
					</dl>
					<h3>Cron line</h3>
					<p class="subtitle">
						Wraps your job with a start ping and an end ping carrying its exit code; set HEXCOVERY_API_KEY in
						the crontab.
					</p>
					{cronLineNote(m) ? <p class="subtitle">{cronLineNote(m)}</p> : null}
					<CommandBlock text={cronLine(m)} />
					<CopyButton text={cronLine(m)} label="Copy cron line" />
				</section>
				<SettingsCard key={slug} monitor={m} canWrite={canWrite} onSaved={() => void monitor.reload()} />
			</div>
			<PingHistory key={slug} slug={slug} refreshKey={m.last_ping_at ?? ""} />
			<section class="card" aria-labelledby="flips-title">
				<h2 id="flips-title">Status changes</h2>
				<ErrorNotice problem={flips.error} />
				{flips.data && flips.data.data.length === 0 ? <Empty>No status change yet.</Empty> : null}
				{flips.data && flips.data.data.length > 0 ? (
					<div class="table-scroll">
						<table aria-label="Status changes">
							<thead>
								<tr>
									<th scope="col">When</th>
									<th scope="col">Change</th>
									<th scope="col">Cause</th>
								</tr>
							</thead>
							<tbody>
								{flips.data.data.map((f) => (
									<tr key={f.id}>
										<td>
											<When at={f.at} />
										</td>
										<td>
											<Badge kind={f.old_status} /> → <Badge kind={f.new_status} />
										</td>
										<td>{f.cause.replaceAll("_", " ")}</td>
									</tr>
								))}
							</tbody>
						</table>
					</div>
				) : null}
				{flips.data?.next_cursor ? (
					<p class="subtitle">
						The latest {flips.data.data.length} changes are shown; older ones are kept too.
					</p>
				) : null}
			</section>
			<ConfirmDialog
				open={deleting}
				title="Delete this monitor?"
				confirmLabel="Delete monitor"
				danger
				busy={remove.busy}
				onCancel={() => setDeleting(false)}
				onConfirm={() => void remove.run()}
			>
				<p>
					<strong>{m.slug}</strong>, its pings and its history are deleted. The next ping to this slug creates
					it again.
				</p>
			</ConfirmDialog>
		</>
	);
}

function SettingsCard(props: { monitor: Monitor; canWrite: boolean; onSaved: () => void }) {
	const m = props.monitor;
	const initial = () => ({
		name: m.name ?? "",
		kind: m.schedule ? "cron" : "interval",
		schedule: m.schedule ?? "",
		period: String(m.period_s ?? 86_400),
		grace: String(m.grace_s),
		tz: m.tz,
		maxRuntime: m.max_runtime_s === null ? "" : String(m.max_runtime_s),
	});
	const [form, setForm] = useState(initial);
	const [saved, setSaved] = useState(false);
	// The stored settings replace the form when they change (a save, someone else's), unless the
	// person has edited it: a Pause (which changes updated_at too) wiped unsaved edits. Read from refs:
	// the effect runs after the paint, and typing that came before it (its closure's `edited` still
	// false) was wiped by the form it was built from.
	const edited = useRef(false);
	const shownFor = useRef(m.updated_at);
	useEffect(() => {
		if (m.updated_at === shownFor.current) return;
		shownFor.current = m.updated_at;
		if (!edited.current) setForm(initial());
	}, [m.updated_at]);
	const set = (key: keyof ReturnType<typeof initial>) => (e: Event) => {
		edited.current = true;
		setForm({ ...form, [key]: (e.currentTarget as HTMLInputElement).value });
	};
	const save = useAction(async () => {
		const body = {
			name: form.name.trim() || null,
			grace_s: Number(form.grace),
			max_runtime_s: form.maxRuntime ? Number(form.maxRuntime) : null,
			...(form.kind === "cron"
				? { schedule: form.schedule, tz: form.tz }
				: { period_s: Number(form.period) }),
		};
		await unwrap(api.PATCH("/api/v1/monitors/{slug}", { params: { path: { slug: m.slug } }, body }));
		edited.current = false;
		setSaved(true);
		props.onSaved();
	});
	const readOnly = !props.canWrite;
	return (
		<form
			class="card stack"
			aria-labelledby="settings-title"
			onSubmit={(e) => {
				e.preventDefault();
				setSaved(false);
				void save.run();
			}}
		>
			<h2 id="settings-title">Settings</h2>
			{readOnly ? <p class="subtitle">Members and up can change a monitor.</p> : null}
			<Field
				label="Display name"
				maxLength={200}
				readOnly={readOnly}
				value={form.name}
				onInput={set("name")}
				placeholder={m.slug}
			/>
			<fieldset class="row choices" disabled={readOnly}>
				<legend class="field-label">Expected</legend>
				<label class="checkbox">
					<input
						type="radio"
						name="kind"
						value="interval"
						checked={form.kind === "interval"}
						onChange={set("kind")}
					/>
					Every period
				</label>
				<label class="checkbox">
					<input
						type="radio"
						name="kind"
						value="cron"
						checked={form.kind === "cron"}
						onChange={set("kind")}
					/>
					On a cron schedule
				</label>
			</fieldset>
			{form.kind === "cron" ? (
				<div class="row">
					<Field
						label="Cron schedule"
						required
						readOnly={readOnly}
						value={form.schedule}
						onInput={set("schedule")}
						placeholder="30 3 * * *"
						hint={cronHint(form.schedule, form.tz)}
					/>
					<Field
						label="Time zone"
						required
						readOnly={readOnly}
						value={form.tz}
						onInput={set("tz")}
						placeholder="Europe/Berlin"
					/>
				</div>
			) : (
				<Field
					label="Period (seconds)"
					type="number"
					min={1}
					required
					readOnly={readOnly}
					value={form.period}
					onInput={set("period")}
					hint={`= ${formatSeconds(Number(form.period))}`}
				/>
			)}
			<div class="row">
				<Field
					label="Grace (seconds)"
					type="number"
					min={0}
					required
					readOnly={readOnly}
					value={form.grace}
					onInput={set("grace")}
					hint={`= ${formatSeconds(Number(form.grace))}`}
				/>
				<Field
					label="Max runtime (seconds)"
					type="number"
					min={1}
					readOnly={readOnly}
					value={form.maxRuntime}
					onInput={set("maxRuntime")}
					hint="Empty: the grace period"
				/>
			</div>
			<ErrorNotice problem={save.error} />
			{saved ? <Notice kind="success">Saved.</Notice> : null}
			{props.canWrite ? (
				<div>
					<button type="submit" class="primary" aria-disabled={save.busy}>
						Save settings
					</button>
				</div>
			) : null}
		</form>
	);
}

function PingHistory({ slug, refreshKey }: { slug: string; refreshKey: string }) {
	const [pings, setPings] = useState<Ping[]>([]);
	const pingsRef = useRef(pings);
	pingsRef.current = pings;
	const [cursor, setCursor] = useState<string | null>(null);
	const first = useResource(
		() =>
			unwrap(api.GET("/api/v1/monitors/{slug}/pings", { params: { path: { slug }, query: { limit: 50 } } })),
		[slug, refreshKey],
	);
	// A new ping reads the first page again: it goes on top of what is shown (older pages opened with
	// "Load older pings" stay); with no ping in common (a gap) the list starts over from it.
	useEffect(() => {
		const fresh = first.data;
		if (!fresh) return;
		const seqs = new Set(fresh.data.map((p) => p.seq));
		if (pingsRef.current.some((p) => seqs.has(p.seq))) {
			setPings((current) => [...fresh.data, ...current.filter((p) => !seqs.has(p.seq))]);
		} else {
			setPings(fresh.data);
			setCursor(fresh.next_cursor);
		}
	}, [first.data]);
	const more = useAction(async () => {
		if (!cursor) return;
		const page = await unwrap(
			api.GET("/api/v1/monitors/{slug}/pings", { params: { path: { slug }, query: { limit: 50, cursor } } }),
		);
		// On what is shown by then: a new ping merged in meanwhile stays.
		setPings((current) => [...current, ...page.data.filter((p) => !current.some((c) => c.seq === p.seq))]);
		setCursor(page.next_cursor);
	});
	return (
		<section class="card" aria-labelledby="pings-title">
			<h2 id="pings-title">Pings</h2>
			<ErrorNotice problem={first.error ?? more.error} />
			{first.data && pings.length === 0 ? <Empty>No pings yet.</Empty> : null}
			{pings.length > 0 ? (
				<div class="table-scroll">
					<table aria-label="Pings">
						<thead>
							<tr>
								<th scope="col">When</th>
								<th scope="col">Kind</th>
								<th scope="col">Exit code</th>
								<th scope="col">Duration</th>
								<th scope="col">Run id</th>
								<th scope="col">Body</th>
							</tr>
						</thead>
						<tbody>
							{pings.map((p) => (
								<tr key={p.seq}>
									<td>
										<When at={p.at} />
										<span class="sub">{p.remote_addr ?? ""}</span>
									</td>
									<td>
										<Badge kind={p.kind} />
									</td>
									<td>{p.exit_code ?? "—"}</td>
									<td>{p.duration_ms === null ? "—" : formatMs(p.duration_ms)}</td>
									<td class="mono break">{p.rid ?? "—"}</td>
									<td>
										{p.body ? (
											<details>
												<summary>
													{new TextEncoder().encode(p.body).length} bytes
													{p.body_truncated ? " (truncated)" : ""}
												</summary>
												<pre class="ping-body">{p.body}</pre>
											</details>
										) : (
											"—"
										)}
									</td>
								</tr>
							))}
						</tbody>
					</table>
				</div>
			) : null}
			{cursor ? (
				<button type="button" aria-disabled={more.busy} onClick={() => void more.run()}>
					Load older pings
				</button>
			) : null}
		</section>
	);
}

/** The cron field's hint: the schedule in words, in its zone, or what the five fields are. */
function cronHint(schedule: string, tz: string): string {
	const words = describeCron(schedule);
	return words
		? `${words} (${tz.trim() || "UTC"})`
		: "5 fields: minute, hour, day of the month, month, day of the week";
}

/**
 * A moment ahead, to the minute, and how far it is: "Dec 5 03:30 (in 6 hours)". Relative alone,
 * "Next due" and "Alerts if silent" both read "in 6 hours" with a 30-minute grace between them.
 */
function DueAt({ at }: { at: string | null }) {
	if (!at) return <span class="subtitle">—</span>;
	return (
		<time dateTime={at}>
			{formatTime(at, { seconds: false })} ({timeAgo(at)})
		</time>
	);
}
