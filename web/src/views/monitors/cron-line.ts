import { formatSeconds } from "../../components/format";

/** Stands for the schedule in a cron line when no cron schedule runs exactly every period. */
export const SCHEDULE_PLACEHOLDER = "<schedule>";

/**
 * The cron schedule that runs every `periodS` seconds from a whole minute: a step of minutes for
 * 5 minutes, of hours for 6 hours, `0 0 * * *` for a day, `0 0 * * 0` for a week. Null when cron
 * has none (90 minutes, 5 hours, 45 seconds).
 */
export function cronScheduleOf(periodS: number): string | null {
	if (!Number.isInteger(periodS) || periodS < 60 || periodS % 60 !== 0) return null;
	const minutes = periodS / 60;
	if (minutes === 1) return "* * * * *";
	if (minutes < 60) return 60 % minutes === 0 ? `*/${minutes} * * * *` : null;
	if (minutes % 60 !== 0) return null;
	const hours = minutes / 60;
	if (hours === 1) return "0 * * * *";
	if (hours < 24) return 24 % hours === 0 ? `0 */${hours} * * *` : null;
	if (hours === 24) return "0 0 * * *";
	if (hours === 24 * 7) return "0 0 * * 0";
	return null;
}

/**
 * The crontab line that wraps a job with a start ping and an end ping carrying its exit code
 * (README): the monitor's own schedule, an interval monitor's period as a schedule, or
 * SCHEDULE_PLACEHOLDER where cron has none for it.
 */
export function cronLine(
	monitor: { slug: string; schedule: string | null; period_s: number | null },
	origin = location.origin,
): string {
	const url = `${origin}/api/v1/heartbeat/${monitor.slug}`;
	const curl = `curl -fsS -m 10 -o /dev/null -X POST -H "X-API-Key: $HEXCOVERY_API_KEY"`;
	const schedule = monitor.schedule ?? cronScheduleOf(monitor.period_s ?? 0) ?? SCHEDULE_PLACEHOLDER;
	return `${schedule} ${curl} "${url}/start"; /path/to/your-job.sh; ${curl} "${url}/$?"`;
}

/** What the person must know to use the line: the time zone a cron schedule is read in, or the placeholder. */
export function cronLineNote(monitor: {
	schedule: string | null;
	tz: string | null;
	period_s: number | null;
}): string | null {
	if (monitor.schedule) {
		return `This monitor reads the schedule in ${monitor.tz ?? "UTC"}; cron runs it in the machine's own time zone, so run cron in ${monitor.tz ?? "UTC"} (or set CRON_TZ where your cron supports it).`;
	}
	if (cronScheduleOf(monitor.period_s ?? 0) === null) {
		return `Cron has no schedule for every ${formatSeconds(monitor.period_s ?? 0)}: put one in place of ${SCHEDULE_PLACEHOLDER} that runs the job at least that often.`;
	}
	return null;
}
