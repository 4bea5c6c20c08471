import type { Log, LogLine } from "../../src/log.js";

/**
 * The app's log for tests: lines are kept in memory, never printed (a passing run prints only the
 * reporter), and a test that provokes an error can still read what was logged.
 */
export function recordingLog(): { log: Log; lines: LogLine[] } {
	const lines: LogLine[] = [];
	return { log: (line) => void lines.push(line), lines };
}
