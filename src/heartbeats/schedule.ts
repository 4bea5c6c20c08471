import { Cron } from "croner";

/**
 * Durations, time zones and cron schedules of heartbeat monitors (docs/heartbeats.md).
 *
 * Cron: croner (no dependencies, runs on Node and in workerd, DST handling documented and tested
 * upstream). Expressions are the classic 5 fields (minute hour day-of-month month day-of-week, names
 * like MON and JAN allowed), read in an IANA zone. Day-of-month and day-of-week combine with OR when
 * both are restricted, as in Vixie cron. Across DST changes: a job at fixed times (no `*` or step in
 * the minute and hour fields) whose time falls in a spring-forward gap is due at the first instant
 * after the gap; a time that occurs twice at fall-back is due once (the first). Jobs with `*` or steps
 * follow real time: they skip the missing hour and run in both copies of the repeated one.
 */

/**
 * Durations are 1 s (grace: 0 s) to 365 d. The sweep runs once a minute, so late and down are noticed
 * up to a minute after the instant they are due; shorter periods are allowed but not sharper.
 */
export const MIN_DURATION_S = 1;
export const MAX_DURATION_S = 365 * 86_400;
export const DEFAULT_PERIOD_S = 86_400;
export const DEFAULT_GRACE_S = 3_600;
export const DEFAULT_TZ = "UTC";

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };

/** `90`, `30s`, `5m`, `2h`, `1d` → seconds; null when not of that form. */
export function parseDuration(text: string): number | null {
	const match = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
	if (!match) return null;
	return Number(match[1]) * (UNIT_SECONDS[match[2] || "s"] as number);
}

/** Seconds in the largest unit that divides them: 86400 → `1d`, 5400 → `90m`, 45 → `45s`. */
export function formatDuration(seconds: number): string {
	for (const unit of ["d", "h", "m"] as const) {
		const size = UNIT_SECONDS[unit] as number;
		if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
	}
	return `${seconds}s`;
}

/** Whether `tz` is an IANA time zone name the runtime knows (Intl carries the tz database on both). */
export function isValidTimeZone(tz: string): boolean {
	if (tz.length === 0 || tz.length > 64) return false;
	try {
		new Intl.DateTimeFormat("en-US", { timeZone: tz });
		return true;
	} catch {
		return false;
	}
}

/** Parsed schedules by `tz\u0000expression`, bounded: parsing costs more than a lookup on every ping. */
const parsed = new Map<string, Cron>();
const PARSED_MAX = 1_000;

function cronFor(schedule: string, tz: string): Cron {
	const key = `${tz}\u0000${schedule}`;
	let cron = parsed.get(key);
	if (!cron) {
		cron = new Cron(schedule, { timezone: tz, mode: "5-part", fixedTimeRule: "no-wildcard", paused: true });
		if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value as string);
		parsed.set(key, cron);
	}
	return cron;
}

/** Why a schedule is refused, or null when it is a valid 5-field expression that fires at least once. */
export function scheduleProblem(schedule: string, tz: string): string | null {
	const fields = schedule.trim().split(/\s+/);
	if (schedule.length > 200 || fields.length !== 5 || fields.some((f) => f.startsWith("@"))) {
		return "schedule must be a 5-field cron expression (minute hour day-of-month month day-of-week)";
	}
	let cron: Cron;
	try {
		cron = cronFor(fields.join(" "), tz);
	} catch (error) {
		return `schedule is not a valid cron expression: ${error instanceof Error ? error.message : String(error)}`;
	}
	if (cron.nextRun(new Date(0)) === null) return "schedule never fires";
	return null;
}

/** A schedule as stored: fields separated by single spaces. */
export function normalizeSchedule(schedule: string): string {
	return schedule.trim().split(/\s+/).join(" ");
}

/** The schedule of a monitor: every `periodS` seconds, or at the times of a cron expression in `tz`. */
export interface Schedule {
	periodS: number | null;
	schedule: string | null;
	tz: string;
}

/**
 * When the next ping is due after one at `from`: `from` + period, or the first cron time strictly
 * after `from` (null only if a cron expression never fires again).
 */
export function nextDueAfter(s: Schedule, from: number): number | null {
	if (s.schedule === null) return from + (s.periodS ?? DEFAULT_PERIOD_S) * 1000;
	const next = cronFor(s.schedule, s.tz).nextRun(new Date(from));
	return next === null ? null : next.getTime();
}
