import pino, { type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import type { Settings } from "../config.js";
import { type Log, logLevelFrom } from "../log.js";

/**
 * The Node server's logger (pino): JSON lines, or pino-pretty's readable lines when stdout is a
 * terminal. `LOG_LEVEL` (default `info`; under vitest `silent` unless set, so a passing test run
 * prints only the reporter). Nothing secret is ever handed to it: the access log is built from
 * the method, the path without its query string and the response (src/http/access-log.ts).
 */
export function createLogger(settings: Settings, destination?: DestinationStream): Logger {
	const level = logLevelFrom(settings, process.env.VITEST ? "silent" : "info");
	const options = { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime };
	if (destination) return pino(options, destination);
	if (process.stdout.isTTY) {
		return pino(
			options,
			pretty({ colorize: true, singleLine: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" }),
		);
	}
	return pino(options);
}

/** The app's `Log` (src/log.ts) onto the logger: `{ level, msg, …fields }` → `logger[level](fields, msg)`. */
export function logLine(logger: Logger): Log {
	return (line) => {
		const { level, msg, ...fields } = line;
		logger[level](fields, msg);
	};
}

/** A database URL fit for a log: no password, no token in the query string. */
export function redactDatabaseUrl(url: string): string {
	if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url.replace(/\?.*$/, (query) => (query ? "?…" : ""));
	try {
		const parsed = new URL(url);
		if (parsed.password) parsed.password = "redacted";
		for (const key of [...parsed.searchParams.keys()]) parsed.searchParams.set(key, "redacted");
		return parsed.toString();
	} catch {
		return "(unparseable URL)";
	}
}
