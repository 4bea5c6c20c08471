import pino, { type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import { ConfigError, type Settings } from "../config.js";

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/**
 * The Node server's logger (pino): JSON lines, or pino-pretty's readable lines when stdout is a
 * terminal. `LOG_LEVEL` (default `info`; under vitest `silent` unless set, so a passing test run
 * prints only the reporter). Nothing secret is ever handed to it: the access log is built from
 * the method, the path without its query string and the response (src/http/access-log.ts).
 */
export function createLogger(settings: Settings, destination?: DestinationStream): Logger {
	const raw = settings.LOG_LEVEL;
	const level =
		raw === undefined || raw === "" ? (process.env.VITEST ? "silent" : "info") : String(raw).toLowerCase();
	if (!(LEVELS as readonly string[]).includes(level)) {
		throw new ConfigError("LOG_LEVEL", "invalid", `expected one of ${LEVELS.join(", ")}`);
	}
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

/** The `log({ level, msg, … })` callback the rest of the runtime takes, onto the logger. */
export function logLine(logger: Logger): (line: object) => void {
	return (line) => {
		const { level, msg, ...fields } = line as { level?: string; msg?: string };
		const method = level && level in logger && level !== "silent" ? (level as "info") : "info";
		logger[method](fields, msg ?? "");
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
