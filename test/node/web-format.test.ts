/**
 * How the UI writes times and durations (web/src/components/format.ts): relative times round into
 * the next unit instead of saying "60 minutes", and one duration format for spans and heartbeat runs.
 */
import { describe, expect, it } from "vitest";
import {
	formatEvery,
	formatMs,
	formatSeconds,
	formatTime,
	rangeLabel,
	rangeMs,
	timeAgo,
} from "../../web/src/components/format.js";
import { describeCron } from "../../web/src/components/schedule.js";
import { timeAxisValues } from "../../web/src/components/time-axis.js";

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const at = (offsetMs: number) => new Date(NOW + offsetMs).toISOString();

describe("timeAgo", () => {
	it("says the largest unit that fits, rounded", () => {
		expect(timeAgo(at(-3 * 60_000), NOW)).toBe("3 minutes ago");
		expect(timeAgo(at(2 * 3_600_000), NOW)).toBe("in 2 hours");
		expect(timeAgo(at(-40 * 60_000), NOW)).toBe("40 minutes ago");
		expect(timeAgo(at(-5_000), NOW)).toBe("5 seconds ago");
		expect(timeAgo(at(0), NOW)).toBe("now");
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
