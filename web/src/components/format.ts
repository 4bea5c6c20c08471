/**
 * How the UI writes times and durations: pure functions (no DOM), unit-tested in
 * test/node/web-format.test.ts.
 */

/** Units by their letter (as a range such as `15m` writes them): name and length in seconds. */
const UNITS = {
	s: ["second", 1],
	m: ["minute", 60],
	h: ["hour", 3_600],
	d: ["day", 86_400],
	w: ["week", 7 * 86_400],
} as const satisfies Record<string, readonly [Intl.RelativeTimeFormatUnit, number]>;
/** Largest first, without weeks: the units a time or a length is said in ("3 days", "in 2 hours"). */
const SPOKEN = [UNITS.d, UNITS.h, UNITS.m, UNITS.s];
const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/**
 * "3 minutes ago" / "in 2 hours": the largest unit that fits, rounded, and a rounded value that
 * reaches the next unit is said in it ("in 1 hour", never "in 60 minutes"). Within a second
 * either way is "just now" ("now by Erin" read as an order).
 */
export function timeAgo(at: string, now = Date.now()): string {
	const delta = new Date(at).getTime() - now;
	// Both ways: a server clock a little ahead made it "now" again.
	if (Math.abs(delta) < 1000) return "just now";
	for (let i = 0; i < SPOKEN.length; i++) {
		const [unit, seconds] = SPOKEN[i] as (typeof SPOKEN)[number];
		const ms = seconds * 1_000;
		if (Math.abs(delta) < ms && unit !== "second") continue;
		const larger = SPOKEN[i - 1];
		if (larger && Math.abs(Math.round(delta / ms)) * ms >= larger[1] * 1_000) {
			return relative.format(Math.round(delta / (larger[1] * 1_000)), larger[0]);
		}
		return relative.format(Math.round(delta / ms), unit);
	}
	return at;
}

/** Seconds in the largest unit that divides them, in words: "30 minutes", "1 hour", "2 days", "45 seconds". */
export function formatSeconds(seconds: number | null | undefined): string {
	if (seconds === null || seconds === undefined) return "—";
	const [unit, size] = SPOKEN.find(([, size]) => seconds !== 0 && seconds % size === 0) ?? UNITS.s;
	return counted(seconds / size, unit);
}

/** "1 hour", "2 hours". */
function counted(n: number, unit: string): string {
	return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** How often an interval monitor is due: "Every 5 minutes", "Every hour", "Every 2 days". */
export function formatEvery(seconds: number): string {
	const text = formatSeconds(seconds);
	return text.startsWith("1 ") ? `Every ${text.slice(2)}` : `Every ${text}`;
}

/**
 * A duration in milliseconds: "0 ms", "0.25 ms", "8 ms", "20 ms", "1.5 s", "2 s": two decimals at
 * most, none that are zeros (a heartbeat run of 8 ms read "8.00 ms").
 */
export function formatMs(ms: number): string {
	const decimals = (value: number) => String(Number(value.toFixed(2)));
	if (ms >= 1000) return `${decimals(ms / 1000)} s`;
	if (ms >= 10 || ms === 0) return `${ms.toFixed(0)} ms`;
	return `${decimals(ms)} ms`;
}

const TIME_FORMATS = new Map<string, Intl.DateTimeFormat>();
/** This year in a zone, by the minute: a list of moments formats "now" once, not once a row. */
let yearNow = { key: "", year: "" };

function partsOf(format: Intl.DateTimeFormat, date: Date): Record<string, string> {
	const parts: Record<string, string> = {};
	for (const { type, value } of format.formatToParts(date)) parts[type] = value;
	return parts;
}

/**
 * A moment in 24-hour time with a short date, as the log rows, the charts and the query's window
 * write it: "Dec 3 17:22:20", with `millis` "Dec 3 17:22:20.284", and the year when it is not this
 * year's ("Dec 3 2025 17:22:20"). The viewer's time zone unless `timeZone` is given; midnight is
 * "00:05", never "24:05" (what `hour12: false` gives in Node). Text that is no time comes back as is.
 */
export function formatTime(
	at: string | number,
	options: { millis?: boolean; seconds?: boolean; timeZone?: string; now?: number } = {},
): string {
	const date = new Date(at);
	if (Number.isNaN(date.getTime())) return String(at);
	const zone = options.timeZone ?? "";
	let format = TIME_FORMATS.get(zone);
	if (!format) {
		format = new Intl.DateTimeFormat("en-US", {
			year: "numeric",
			month: "short",
			day: "numeric",
			hour: "2-digit",
			minute: "2-digit",
			second: "2-digit",
			hourCycle: "h23",
			timeZone: options.timeZone,
		});
		TIME_FORMATS.set(zone, format);
	}
	const part = partsOf(format, date);
	const now = options.now ?? Date.now();
	const key = `${zone}|${Math.floor(now / 60_000)}`;
	if (yearNow.key !== key) yearNow = { key, year: partsOf(format, new Date(now)).year ?? "" };
	const day = `${part.month} ${part.day}${part.year === yearNow.year ? "" : ` ${part.year}`}`;
	const time = `${day} ${part.hour}:${part.minute}${options.seconds === false ? "" : `:${part.second}`}`;
	return options.millis ? `${time}.${String(date.getMilliseconds()).padStart(3, "0")}` : time;
}

/** A rolling range (`15m`, `1h`, `7d`: a count and a unit, as dashboards store them), or null. */
function rollingRange(key: string): { n: number; unit: readonly [string, number] } | null {
	const match = /^(\d+)([smhdw])$/.exec(key);
	return match ? { n: Number(match[1]), unit: UNITS[match[2] as keyof typeof UNITS] } : null;
}

/**
 * A rolling range's name, written the same everywhere (the picker, a dashboard's default range):
 * `1h` → "Last 1 hour", `15m` → "Last 15 minutes"; text that is no such range as it is.
 */
export function rangeLabel(key: string): string {
	const range = rollingRange(key);
	if (!range) return `Last ${key}`;
	return `Last ${counted(range.n, range.unit[0])}`;
}

/** A rolling range's length in ms (`15m` → 900,000), or null when `key` is no such range. */
export function rangeMs(key: string): number | null {
	const range = rollingRange(key);
	return range ? range.n * range.unit[1] * 1_000 : null;
}

/**
 * An OTLP time (nanoseconds since the epoch, as a decimal string) exactly, in UTC:
 * "1795867198123456789" → "2026-11-28 11:59:58.123456789 UTC". Text that is no such time as it is.
 */
export function formatUtcNanos(nanos: string): string {
	if (!/^\d{1,20}$/.test(nanos)) return nanos;
	const value = BigInt(nanos);
	const date = new Date(Number(value / 1_000_000n));
	if (Number.isNaN(date.getTime())) return nanos;
	const iso = date.toISOString();
	const fraction = (value % 1_000_000_000n).toString().padStart(9, "0");
	return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${fraction} UTC`;
}

/** A log record's severity as sent: its text and number ("ERROR (17)"), either alone, or "—". */
export function formatSeverity(text: string | null, number: number | null): string {
	if (text && number !== null) return `${text} (${number})`;
	return text || (number !== null ? String(number) : "—");
}
