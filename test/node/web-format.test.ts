/**
 * How the UI writes times and durations (web/src/components/format.ts): relative times round into
 * the next unit instead of saying "60 minutes", and one duration format for spans and heartbeat runs.
 */
import { describe, expect, it } from "vitest";
import {
	formatEvery,
	formatMs,
	formatSeconds,
	formatSeverity,
	formatTime,
	formatUtcNanos,
	rangeLabel,
	rangeMs,
	timeAgo,
} from "../../web/src/components/format.js";
import { describeCron } from "../../web/src/components/schedule.js";
import { timeAxisValues } from "../../web/src/components/time-axis.js";
import { cronLine, cronLineNote, cronScheduleOf } from "../../web/src/views/monitors/cron-line.js";
import { alertsAt } from "../../web/src/views/monitors/due.js";
import { cellFormats } from "../../web/src/views/query/shape.js";

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const at = (offsetMs: number) => new Date(NOW + offsetMs).toISOString();

describe("timeAgo", () => {
	it("says the largest unit that fits, rounded", () => {
		expect(timeAgo(at(-3 * 60_000), NOW)).toBe("3 minutes ago");
		expect(timeAgo(at(2 * 3_600_000), NOW)).toBe("in 2 hours");
		expect(timeAgo(at(-40 * 60_000), NOW)).toBe("40 minutes ago");
		expect(timeAgo(at(-5_000), NOW)).toBe("5 seconds ago");
		expect(timeAgo(at(0), NOW)).toBe("just now");
		expect(timeAgo(at(-500), NOW)).toBe("just now");
		expect(timeAgo(at(400), NOW)).toBe("just now");
		expect(timeAgo(at(-999), NOW)).toBe("just now");
		expect(timeAgo(at(-1000), NOW)).toBe("1 second ago");
		expect(timeAgo(at(-3 * 86_400_000), NOW)).toBe("3 days ago");
	});

	it("says a value that rounds up to the next unit in that unit", () => {
		// 59.6 minutes: "in 60 minutes" before.
		expect(timeAgo(at(59.6 * 60_000), NOW)).toBe("in 1 hour");
		expect(timeAgo(at(-59.7 * 1000), NOW)).toBe("1 minute ago");
		expect(timeAgo(at(-23.8 * 3_600_000), NOW)).toBe("yesterday");
		expect(timeAgo(at(59.4 * 60_000), NOW)).toBe("in 59 minutes");
	});
});

describe("durations", () => {
	it("formats milliseconds the same for a span and a heartbeat run", () => {
		expect(formatMs(0)).toBe("0 ms");
		expect(formatMs(0.25)).toBe("0.25 ms");
		expect(formatMs(20)).toBe("20 ms");
		// No decimals that are zeros (a heartbeat run of 8 ms read "8.00 ms").
		expect(formatMs(8)).toBe("8 ms");
		expect(formatMs(8.5)).toBe("8.5 ms");
		expect(formatMs(1500)).toBe("1.5 s");
		expect(formatMs(2000)).toBe("2 s");
		expect(formatMs(1234)).toBe("1.23 s");
	});

	it("formats whole periods in their unit", () => {
		expect(formatSeconds(1800)).toBe("30 minutes");
		expect(formatSeconds(7200)).toBe("2 hours");
		expect(formatSeconds(86_400)).toBe("1 day");
		expect(formatSeconds(45)).toBe("45 seconds");
		expect(formatSeconds(null)).toBe("—");
	});
});

describe("formatTime", () => {
	const now = Date.UTC(2026, 11, 3, 18, 0, 0);

	it("writes a moment in 24-hour time with a short date, as the log rows and the charts do", () => {
		const afternoon = Date.UTC(2026, 11, 3, 17, 22, 20, 284);
		expect(formatTime(afternoon, { timeZone: "UTC", now })).toBe("Dec 3 17:22:20");
		expect(formatTime(new Date(afternoon).toISOString(), { millis: true, timeZone: "UTC", now })).toBe(
			"Dec 3 17:22:20.284",
		);
		expect(formatTime(afternoon, { seconds: false, timeZone: "UTC", now })).toBe("Dec 3 17:22");
		// The viewer's zone: the same moment in Berlin.
		expect(formatTime(afternoon, { timeZone: "Europe/Berlin", now })).toBe("Dec 3 18:22:20");
	});

	it("writes the hour after midnight as 00, not 24 (what hour12: false gives in Node)", () => {
		const afterMidnight = Date.UTC(2026, 11, 4, 0, 5, 0, 7);
		expect(formatTime(afterMidnight, { timeZone: "UTC", now })).toBe("Dec 4 00:05:00");
		expect(formatTime(afterMidnight, { millis: true, timeZone: "UTC", now })).toBe("Dec 4 00:05:00.007");
	});

	it("adds the year to a moment of another year, and gives back text that is no time", () => {
		expect(formatTime(Date.UTC(2025, 0, 9, 8, 0, 0), { timeZone: "UTC", now })).toBe("Jan 9 2025 08:00:00");
		expect(formatTime("not a time", { now })).toBe("not a time");
	});
});

describe("a log record's exact time and severity", () => {
	it("writes an OTLP time in UTC to the nanosecond, and gives back text that is no such time", () => {
		expect(formatUtcNanos("1795867198123456789")).toBe("2026-11-28 11:59:58.123456789 UTC");
		expect(formatUtcNanos("1795867198000000007")).toBe("2026-11-28 11:59:58.000000007 UTC");
		expect(formatUtcNanos("0")).toBe("1970-01-01 00:00:00.000000000 UTC");
		expect(formatUtcNanos("soon")).toBe("soon");
	});

	it("writes the severity as sent, text and number, either alone, or a dash (not '— (—)')", () => {
		expect(formatSeverity("ERROR", 17)).toBe("ERROR (17)");
		expect(formatSeverity("warn", null)).toBe("warn");
		expect(formatSeverity(null, 9)).toBe("9");
		expect(formatSeverity(null, null)).toBe("—");
	});
});

describe("a query result's cells", () => {
	it("writes a time column as every moment is written, with milliseconds when its values have them", () => {
		const result = {
			columns: [
				{ name: "timestamp", type: "time" },
				{ name: "bucket", type: "time" },
				{ name: "body", type: "string" },
				{ name: "count(*)", type: "number" },
			],
			rows: [
				["2026-12-03T17:22:20.284Z", "2026-12-03T17:22:00.000Z", "a", 3],
				["2026-12-03T17:22:21.000Z", "2026-12-03T17:23:00.000Z", null, 2.5],
			],
		} as unknown as Parameters<typeof cellFormats>[0];
		const formats = cellFormats(result);
		const written = result.rows.map((row) => row.map((cell, i) => formats[i]?.(cell)));
		const local = (iso: string, millis: boolean) => {
			const d = new Date(iso);
			const two = (n: number) => String(n).padStart(2, "0");
			const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
			return millis ? `${time}.${String(d.getMilliseconds()).padStart(3, "0")}` : time;
		};
		expect(written[0]?.[0]).toContain(local("2026-12-03T17:22:20.284Z", true));
		expect(written[1]?.[0]).toContain(local("2026-12-03T17:22:21.000Z", true));
		expect(written[0]?.[1]).toMatch(new RegExp(`${local("2026-12-03T17:22:00.000Z", false)}$`));
		expect(written[0]?.[0]).not.toContain("T");
		expect(written.map((row) => row.slice(2))).toEqual([
			["a", "3"],
			["—", "2.5"],
		]);
	});
});

describe("rolling ranges", () => {
	it("are named one way everywhere, singular for one", () => {
		expect(rangeLabel("1h")).toBe("Last 1 hour");
		expect(rangeLabel("15m")).toBe("Last 15 minutes");
		expect(rangeLabel("24h")).toBe("Last 24 hours");
		expect(rangeLabel("1d")).toBe("Last 1 day");
		expect(rangeLabel("2w")).toBe("Last 2 weeks");
		expect(rangeLabel("90s")).toBe("Last 90 seconds");
		// Not a range: shown as it is.
		expect(rangeLabel("soon")).toBe("Last soon");
	});

	it("have their length in ms", () => {
		expect(rangeMs("15m")).toBe(900_000);
		expect(rangeMs("7d")).toBe(7 * 86_400_000);
		expect(rangeMs("1w")).toBe(7 * 86_400_000);
		expect(rangeMs("1y")).toBeNull();
		expect(rangeMs("h")).toBeNull();
	});
});

describe("monitor schedules", () => {
	it("say durations in words, singular for one", () => {
		expect(formatSeconds(3600)).toBe("1 hour");
		expect(formatSeconds(5400)).toBe("90 minutes");
		expect(formatSeconds(0)).toBe("0 seconds");
		expect(formatEvery(300)).toBe("Every 5 minutes");
		expect(formatEvery(3600)).toBe("Every hour");
		expect(formatEvery(2 * 86_400)).toBe("Every 2 days");
	});

	it("give an interval monitor's cron line a schedule that runs every period, or a placeholder", () => {
		expect(cronScheduleOf(60)).toBe("* * * * *");
		expect(cronScheduleOf(300)).toBe("*/5 * * * *");
		expect(cronScheduleOf(3600)).toBe("0 * * * *");
		expect(cronScheduleOf(6 * 3600)).toBe("0 */6 * * *");
		expect(cronScheduleOf(86_400)).toBe("0 0 * * *");
		expect(cronScheduleOf(7 * 86_400)).toBe("0 0 * * 0");
		for (const period of [45, 90, 7 * 60, 5400, 5 * 3600, 2 * 86_400])
			expect(cronScheduleOf(period)).toBeNull();
		const origin = "https://hx.example";
		const hourly = { slug: "etl", schedule: null, tz: "UTC", period_s: 3600 };
		expect(cronLine(hourly, origin)).toMatch(
			/^0 \* \* \* \* curl .*"https:\/\/hx\.example\/api\/v1\/heartbeat\/etl\/start"/,
		);
		expect(cronLineNote(hourly)).toBeNull();
		const odd = { ...hourly, period_s: 5400 };
		expect(cronLine(odd, origin)).toMatch(/^<schedule> curl /);
		expect(cronLineNote(odd)).toContain("every 90 minutes");
		const berlin = { slug: "backup", schedule: "30 3 * * *", tz: "Europe/Berlin", period_s: null };
		expect(cronLine(berlin, origin)).toMatch(/^30 3 \* \* \* curl /);
		expect(cronLineNote(berlin)).toContain("Europe/Berlin");
	});

	it("say when a silent monitor alerts: down at the end of the grace period, or a run's deadline first", () => {
		const up = {
			status: "up" as const,
			next_due_at: "2026-12-05T02:30:00.000Z",
			grace_s: 1800,
			max_runtime_s: null,
			open_runs: [],
		};
		// Not next_due_at (when it goes late, which alerts no one): half an hour later.
		expect(alertsAt(up)).toBe("2026-12-05T03:00:00.000Z");
		expect(alertsAt({ ...up, status: "late" })).toBe("2026-12-05T03:00:00.000Z");
		const running = { ...up, max_runtime_s: 600, open_runs: [{ started_at: "2026-12-05T01:00:00.000Z" }] };
		expect(alertsAt(running)).toBe("2026-12-05T01:10:00.000Z");
		expect(alertsAt({ ...up, status: "new", next_due_at: null })).toBeNull();
		expect(alertsAt({ ...up, status: "down" })).toBeNull();
		expect(alertsAt({ ...up, status: "paused" })).toBeNull();
	});

	it("say cron schedules in words, 24-hour, and nothing for what is not one", () => {
		expect(describeCron("30 3 * * *")).toBe("At 03:30");
		expect(describeCron("*/5 * * * *")).toBe("Every 5 minutes");
		expect(describeCron("0 9 * * 1-5")).toBe("At 09:00, Monday through Friday");
		expect(describeCron("0 17 * * MON")).toBe("At 17:00, only on Monday");
		for (const text of ["", "nonsense", "* * * *", "0 0 * * * *", "61 * * * *"])
			expect(describeCron(text)).toBeNull();
	});
});

describe("the charts' time axis", () => {
	const now = new Date(2026, 11, 4, 12).getTime();
	const row = (table: (string | number | null)[][], step: number) => table.find((r) => r[0] === step);

	it("leaves the current year out when every moment is in it, as formatTime does", () => {
		const table = timeAxisValues(new Date(2026, 11, 4, 11).getTime(), now, now);
		// Hour ticks: the first tick says the day, not the year; a new day says the day.
		expect(row(table, 3600)?.slice(1, 5)).toEqual(["{HH}:{mm}", "\n{MMM} {D}", null, "\n{MMM} {D}"]);
		// Day ticks: nothing under the first.
		expect(row(table, 86_400)?.[2]).toBeNull();
		expect(
			table.flat().some((cell) => typeof cell === "string" && cell.includes("{YYYY}") && cell !== "{YYYY}"),
		).toBe(false);
	});

	it("keeps the year when a moment is in another year", () => {
		const table = timeAxisValues(new Date(2025, 11, 31, 22).getTime(), now, now);
		expect(row(table, 3600)?.[2]).toBe("\n{MMM} {D} {YYYY}");
		expect(timeAxisValues(undefined, undefined, now)).toBe(table);
	});
});
