import { useEffect } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, readPages, unwrap } from "../../api/client";
import type { components } from "../../api/schema";
import { formatEvery, formatSeconds } from "../../components/format";
import { describeCron } from "../../components/schedule";
import { rememberListPlace } from "../../components/time-range";
import {
	Badge,
	CommandBlock,
	CopyButton,
	Empty,
	ErrorNotice,
	Loading,
	PageHeader,
	When,
} from "../../components/ui";
import { useResource } from "../../components/use-resource";

type Monitor = components["schemas"]["Monitor"];
type Status = Monitor["status"];

/** Failing first: down, then late, then the rest; by slug within a status, so rows keep their places. */
const RANK: Record<Status, number> = { down: 0, late: 1, up: 2, new: 3, paused: 4 };
const STATUSES: Status[] = ["down", "late", "up", "new", "paused"];
const REFRESH_MS = 15_000;
/** A list page holds up to 1,000 monitors; more than this many pages is not a list a person reads. */
const MAX_PAGES = 10;

export function sortMonitors(monitors: Monitor[]): Monitor[] {
	return [...monitors].sort((a, b) => RANK[a.status] - RANK[b.status] || a.slug.localeCompare(b.slug));
}

export async function allMonitors(): Promise<Monitor[]> {
	const { data } = await readPages(
		(cursor) => unwrap(api.GET("/api/v1/monitors", { params: { query: { limit: 1000, cursor } } })),
		MAX_PAGES,
	);
	return sortMonitors(data);
}

export function MonitorList() {
	const { path, query, route } = useLocation();
	rememberListPlace("/monitors", { path, query });
	const filter = STATUSES.find((s) => s === query.status);
	const monitors = useResource(allMonitors, []);
	useEffect(() => {
		// Refreshes in place: the table keeps its rows while the new answer loads.
		const timer = setInterval(() => void monitors.reload(), REFRESH_MS);
		return () => clearInterval(timer);
	}, []);
	const all = monitors.data ?? [];
	const firstPing = `curl -X POST -H "X-API-Key: $HEXCOVERY_API_KEY" ${location.origin}/api/v1/heartbeat/my-job`;
	const shown = filter ? all.filter((m) => m.status === filter) : all;
	const counts = Object.fromEntries(STATUSES.map((s) => [s, all.filter((m) => m.status === s).length]));
	return (
		<>
			<PageHeader
				title="Monitors"
				subtitle="Heartbeats from cron jobs and workers: a ping to a new name creates its monitor. Refreshes every 15 seconds."
			>
				<a class="button" href="/monitors/channels">
					Notification channels
				</a>
			</PageHeader>
			<fieldset class="filters">
				<legend class="visually-hidden">Filter by status</legend>
				<button type="button" aria-pressed={!filter} onClick={() => route(path)}>
					All ({all.length})
				</button>
				{STATUSES.map((s) => (
					<button
						key={s}
						type="button"
						aria-pressed={filter === s}
						onClick={() => route(`${path}?status=${s}`)}
					>
						{s[0]?.toUpperCase()}
						{s.slice(1)} ({counts[s]})
					</button>
				))}
			</fieldset>
			<ErrorNotice problem={monitors.error} />
			{monitors.data === undefined ? (
				monitors.loading ? (
					<Loading what="monitors" />
				) : null
			) : all.length === 0 ? (
				<Empty>
					No monitors yet. The first ping creates one (with an API key in HEXCOVERY_API_KEY: admins create
					them under Settings → API keys):
					<CommandBlock text={firstPing} />
					<CopyButton text={firstPing} label="Copy command" />
				</Empty>
			) : shown.length === 0 ? (
				<Empty>No monitor is {filter} right now.</Empty>
			) : (
				<div class="table-wrap">
					<table aria-label="Monitors">
						<thead>
							<tr>
								<th scope="col">Monitor</th>
								<th scope="col">Status</th>
								<th scope="col">Schedule</th>
								<th scope="col">Last ping</th>
								<th scope="col">Next due</th>
							</tr>
						</thead>
						<tbody>
							{shown.map((m) => (
								<tr key={m.slug}>
									<td class="break">
										<a href={`/monitors/${m.slug}`}>{m.name ?? m.slug}</a>
										{m.name ? <span class="sub mono">{m.slug}</span> : null}
									</td>
									<td>
										<Badge kind={m.status} />
										{m.started ? (
											<>
												{" "}
												<Badge kind="start">running</Badge>
											</>
										) : null}
									</td>
									<td>
										<Schedule monitor={m} />
									</td>
									<td>
										<When at={m.last_ping_at} empty="never" />
										{m.last_ping_kind ? <span class="sub">{m.last_ping_kind}</span> : null}
									</td>
									<td>
										<When at={m.next_due_at} />
									</td>
								</tr>
							))}
						</tbody>
					</table>
				</div>
			)}
		</>
	);
}

/**
 * A monitor's schedule: in words ("Every 5 minutes", "At 03:30"), under it a cron schedule's
 * expression and zone, and the grace. An expression not put in words is said once, as the first line.
 */
function Schedule({ monitor: m }: { monitor: Monitor }) {
	const words = m.schedule ? describeCron(m.schedule) : null;
	return (
		<>
			{m.schedule ? (words ?? <code>{m.schedule}</code>) : formatEvery(m.period_s ?? 0)}
			<span class="sub">
				{words ? (
					<>
						<code>{m.schedule}</code> ·{" "}
					</>
				) : null}
				{m.schedule ? `${m.tz} · ` : ""}grace {formatSeconds(m.grace_s)}
			</span>
		</>
	);
}
