/**
 * When a silent monitor alerts: channels hear of flips to and from `down` (docs/heartbeats.md,
 * "Alerts"), so it is when the monitor would go down with no ping before: the end of the grace
 * period after it is due, or a started run's deadline (`max_runtime_s`, else the grace period) when
 * that comes first. Null when time alone alerts no more (down, paused, or new without a run).
 * `alert_after` is not it: for an up monitor that is when it goes late, `grace_s` earlier.
 */
export function alertsAt(monitor: {
	status: "new" | "up" | "late" | "down" | "paused";
	next_due_at: string | null;
	grace_s: number;
	max_runtime_s: number | null;
	open_runs: { started_at: string }[];
}): string | null {
	if (monitor.status === "down" || monitor.status === "paused") return null;
	const moments: number[] = [];
	if (monitor.status !== "new" && monitor.next_due_at)
		moments.push(Date.parse(monitor.next_due_at) + monitor.grace_s * 1000);
	const runLimitMs = (monitor.max_runtime_s ?? monitor.grace_s) * 1000;
	for (const run of monitor.open_runs) moments.push(Date.parse(run.started_at) + runLimitMs);
	const finite = moments.filter(Number.isFinite);
	return finite.length > 0 ? new Date(Math.min(...finite)).toISOString() : null;
}
