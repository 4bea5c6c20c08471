import type { MonitorStatus, PingKind } from "../db/schema-heartbeats.js";
import { nextDueAfter, type Schedule } from "./schedule.js";

/**
 * The monitor state machine (docs/heartbeats.md), pure: no clock, no database. Pings move it through
 * `applyPing`; time moves it through `evaluate` (what the sweep runs). Both return the new state and,
 * when the status changed, one flip (old → new, with its cause).
 */

export interface MonitorSettings extends Schedule {
	graceS: number;
	/** Null: a started run may last as long as the grace period. */
	maxRuntimeS: number | null;
}

/** A started run awaiting its end; `rid` null for runs started without one. */
export interface OpenRun {
	rid: string | null;
	at: number;
}

export interface MonitorState {
	status: MonitorStatus;
	/** Oldest first; at most one per rid (and one without). */
	openRuns: OpenRun[];
	lastPingAt: number | null;
	lastPingKind: PingKind | null;
	lastDurationMs: number | null;
	nextDueAt: number | null;
	alertAfter: number | null;
}

export type FlipCause =
	| "success_ping"
	| "start_ping"
	| "fail_ping"
	| "exit_code"
	| "due"
	| "grace_ended"
	| "run_timeout"
	| "paused"
	| "resumed"
	| "settings_changed";

export interface Flip {
	from: MonitorStatus;
	to: MonitorStatus;
	cause: FlipCause;
}

export interface PingEvent {
	kind: PingKind;
	rid: string | null;
	/** For `/:exit_code` pings: 0 → success, 1–255 → fail. */
	exitCode: number | null;
}

export interface Transition {
	state: MonitorState;
	flip: Flip | null;
}

/** Open runs kept per monitor; a start beyond it drops the oldest. */
export const MAX_OPEN_RUNS = 50;

export const INITIAL_STATE: MonitorState = Object.freeze({
	status: "new",
	openRuns: [],
	lastPingAt: null,
	lastPingKind: null,
	lastDurationMs: null,
	nextDueAt: null,
	alertAfter: null,
}) as MonitorState;

function runLimitMs(s: MonitorSettings): number {
	return (s.maxRuntimeS ?? s.graceS) * 1000;
}

/** When the oldest open run outlives its limit; null without open runs. */
export function runDeadline(s: MonitorSettings, runs: OpenRun[]): number | null {
	if (runs.length === 0) return null;
	return Math.min(...runs.map((r) => r.at)) + runLimitMs(s);
}

function earliest(...times: (number | null)[]): number | null {
	const present = times.filter((t): t is number => t !== null);
	return present.length === 0 ? null : Math.min(...present);
}

/** The next instant at which time alone could change the status: the stored, indexed `alert_after`. */
export function alertAfterOf(s: MonitorSettings, state: Omit<MonitorState, "alertAfter">): number | null {
	const deadline = runDeadline(s, state.openRuns);
	switch (state.status) {
		case "paused":
		case "down":
			return null;
		case "new":
			return deadline;
		case "up":
			return earliest(state.nextDueAt, deadline);
		case "late":
			return earliest(state.nextDueAt === null ? null : state.nextDueAt + s.graceS * 1000, deadline);
	}
}

function finish(
	s: MonitorSettings,
	from: MonitorStatus,
	next: Omit<MonitorState, "alertAfter">,
	cause: FlipCause,
) {
	const state: MonitorState = { ...next, alertAfter: alertAfterOf(s, next) };
	return { state, flip: state.status === from ? null : { from, to: state.status, cause } };
}

/**
 * What time alone does to a monitor by `now` (the sweep, and after a settings change): a run past its
 * limit → down (the overdue runs are dropped); past due + grace → down; past due → late; a late
 * monitor whose due time moved into the future (new settings) → up. New, down and paused monitors
 * only change with a ping or a dashboard action.
 */
export function evaluate(
	s: MonitorSettings,
	state: MonitorState,
	now: number,
	otherwise: FlipCause = "settings_changed",
): Transition {
	const from = state.status;
	if (from === "paused" || from === "down") return finish(s, from, state, otherwise);
	const limit = runLimitMs(s);
	const overdue = state.openRuns.filter((r) => r.at + limit <= now);
	if (overdue.length > 0) {
		const openRuns = state.openRuns.filter((r) => r.at + limit > now);
		return finish(s, from, { ...state, status: "down", openRuns }, "run_timeout");
	}
	if (from === "new" || state.nextDueAt === null) return finish(s, from, state, otherwise);
	if (now >= state.nextDueAt + s.graceS * 1000)
		return finish(s, from, { ...state, status: "down" }, "grace_ended");
	if (now >= state.nextDueAt) return finish(s, from, { ...state, status: "late" }, "due");
	return finish(s, from, { ...state, status: "up" }, otherwise);
}

/** The open run an end pairs with: the one with its rid, or without a rid the newest rid-less run. */
function pairedRunIndex(runs: OpenRun[], rid: string | null): number {
	for (let i = runs.length - 1; i >= 0; i--) if ((runs[i] as OpenRun).rid === rid) return i;
	return -1;
}

/**
 * What one ping does, received at `now`:
 * - `log`: nothing (the ping is only stored).
 * - paused: nothing but `last_ping_at` (a paused monitor stays paused until resumed).
 * - `start`: opens a run (replacing an open run with the same rid); a late monitor is up again, as its
 *   due time moves to after the start; new and down stay as they are.
 * - success (`/`, `/0`): up; pairs with its start (duration); fail (`/fail`, `/1`–`/255`): down at once.
 * - starts, successes and failures all move the due time: `now` + period, or the next cron time.
 * - a run that is already past its limit and not ended by this ping takes the monitor down (run_timeout)
 *   unless it is down already, in which case such runs are dropped.
 */
export function applyPing(
	s: MonitorSettings,
	state: MonitorState,
	ping: PingEvent,
	now: number,
): Transition & { durationMs: number | null } {
	const from = state.status;
	if (ping.kind === "log") return { state, flip: null, durationMs: null };
	const kind = ping.kind;
	let runs = state.openRuns;
	let durationMs: number | null = null;
	if (kind === "start") {
		if (from !== "paused") {
			runs = [...runs.filter((r) => r.rid !== ping.rid), { rid: ping.rid, at: now }];
			if (runs.length > MAX_OPEN_RUNS) runs = runs.slice(runs.length - MAX_OPEN_RUNS);
		}
	} else {
		const index = pairedRunIndex(runs, ping.rid);
		if (index >= 0) {
			durationMs = now - (runs[index] as OpenRun).at;
			runs = runs.filter((_, i) => i !== index);
		}
	}
	const base = {
		...state,
		openRuns: runs,
		lastPingAt: now,
		lastPingKind: kind,
		lastDurationMs: kind === "start" ? state.lastDurationMs : durationMs,
		nextDueAt: nextDueAfter(s, now),
	};
	if (from === "paused") {
		return {
			...finish(s, from, { ...state, lastPingAt: now, lastPingKind: kind }, "success_ping"),
			durationMs,
		};
	}

	let status: MonitorStatus = from;
	let cause: FlipCause;
	if (kind === "start") {
		cause = "start_ping";
		if (from === "late") status = "up";
	} else {
		cause = ping.exitCode !== null ? "exit_code" : kind === "success" ? "success_ping" : "fail_ping";
		status = kind === "success" ? "up" : "down";
	}

	const limit = runLimitMs(s);
	const overdue = base.openRuns.filter((r) => r.at + limit <= now);
	if (overdue.length > 0) {
		base.openRuns = base.openRuns.filter((r) => r.at + limit > now);
		if (status !== "down" && from !== "down") {
			status = "down";
			cause = "run_timeout";
		}
	}
	return { ...finish(s, from, { ...base, status }, cause), durationMs };
}

/** Pausing: no alerts until resumed; open runs are forgotten. */
export function pause(s: MonitorSettings, state: MonitorState): Transition {
	return finish(s, state.status, { ...state, status: "paused", openRuns: [] }, "paused");
}

/** Resuming: back to `new`, waiting for the next ping (as healthchecks.io does). */
export function resume(s: MonitorSettings, state: MonitorState): Transition {
	if (state.status !== "paused") return { state, flip: null };
	return finish(s, "paused", { ...state, status: "new", openRuns: [] }, "resumed");
}

/** After a settings change: the due time recomputed from the last ping, then what time has done. */
export function resettle(s: MonitorSettings, state: MonitorState, now: number): Transition {
	const nextDueAt = state.lastPingAt === null ? state.nextDueAt : nextDueAfter(s, state.lastPingAt);
	return evaluate(s, { ...state, nextDueAt }, now, "settings_changed");
}
