import { ConfigError, type Settings } from "./config.js";

/**
 * The app's own log lines (errors it answered with a 500 or a 503, warnings such as a misrouted
 * OTLP export, background failures), for every runtime: a `Log` in the deps. The Node server hands
 * them to its pino logger (src/runtime/logger.ts); the Worker writes JSON lines to the console,
 * which Workers Logs collects; tests pass a silent or a recording one. Lines never carry a
 * credential, a cookie or a request body.
 */

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogLine {
	level: Exclude<LogLevel, "silent">;
	msg: string;
	[field: string]: unknown;
}

export type Log = (line: LogLine) => void;

/** Drops everything: what tests pass unless they read the lines. */
export const silentLog: Log = () => {};

/** LOG_LEVEL, or `fallback` when unset; anything else is a ConfigError naming the setting. */
export function logLevelFrom(settings: Settings, fallback: LogLevel): LogLevel {
	const raw = settings.LOG_LEVEL;
	if (raw === undefined || raw === "") return fallback;
	const level = String(raw).toLowerCase();
	if (!(LOG_LEVELS as readonly string[]).includes(level)) {
		throw new ConfigError("LOG_LEVEL", "invalid", `expected one of ${LOG_LEVELS.join(", ")}`);
	}
	return level as LogLevel;
}

/** Whether a line at `level` passes a logger set to `threshold`. */
export function logs(threshold: LogLevel, level: LogLine["level"]): boolean {
	return threshold !== "silent" && LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(threshold);
}

/**
 * JSON lines on the console at `threshold` and above (the Worker's log): errors and warnings on
 * console.error / console.warn, the rest on console.log, each with its ISO time.
 */
export function consoleLog(threshold: LogLevel): Log {
	return (line) => {
		if (!logs(threshold, line.level)) return;
		const text = JSON.stringify({ time: new Date().toISOString(), ...line });
		if (line.level === "fatal" || line.level === "error") console.error(text);
		else if (line.level === "warn") console.warn(text);
		else console.log(text);
	};
}

/**
 * An error's text for a log line: its stack, and what it wraps (drizzle keeps the driver's error
 * there). A failed query's bound values are left out: drizzle's message lists them ("params: …"),
 * and they hold emails, password hashes, key and token lookup hashes, encrypted TOTP secrets.
 */
export function errorFields(error: unknown): { error: string; cause?: string } {
	const e = error as Error | undefined;
	return {
		error: withoutParams(error, String(e?.stack ?? error)),
		...(e?.cause !== undefined && { cause: withoutParams(e.cause, String(e.cause)) }),
	};
}

/** `text` (an error's stack or string) with a failed query's bound values left out, if it is one. */
function withoutParams(error: unknown, text: string): string {
	const e = error as (Error & { query?: unknown; params?: unknown }) | undefined;
	if (!e || typeof e.query !== "string" || !Array.isArray(e.params)) return text;
	const without = `Failed query: ${e.query}\nparams: (${e.params.length} values, not logged)`;
	// A function, so a "$&" in the SQL is not read as a replacement pattern.
	return text.includes(e.message) ? text.replace(e.message, () => without) : `${e.name}: ${without}`;
}
