/**
 * Telemetry times are stored as 64-bit nanoseconds since 1970 (OTLP's fixed64, SQLite's INTEGER):
 * the instants they can hold, in epoch milliseconds. Every time a client gives that meets telemetry
 * (OQL time points and literals, TIMESERIES intervals, page windows and cursors) is checked against
 * them, so none can overflow into a storage error.
 */
export const MIN_TELEMETRY_MS = 0;
/** 2262-04-11T23:47:16.854Z: (2^63 − 1) ns, rounded down to a millisecond. */
export const MAX_TELEMETRY_MS = 9_223_372_036_854;

export const TELEMETRY_RANGE_TEXT =
	"Times must fall between 1970-01-01T00:00:00.000Z and 2262-04-11T23:47:16.854Z (64-bit nanoseconds since 1970)";

export function inTelemetryRange(ms: number): boolean {
	return Number.isSafeInteger(ms) && ms >= MIN_TELEMETRY_MS && ms <= MAX_TELEMETRY_MS;
}
