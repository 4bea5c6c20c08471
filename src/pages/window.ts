import { z } from "@hono/zod-openapi";
import { ApiError } from "../errors.js";
import { queryInstantSchema, toRfc3339 } from "../http/time.js";
import { DEFAULT_MAX_RANGE_MS, DEFAULT_RANGE_MS } from "../oql/semantic.js";
import { inTelemetryRange, TELEMETRY_RANGE_TEXT } from "../time-range.js";

/**
 * The time window of a page, `[from, to)` in epoch ms: `from`/`to` as given, else `to` = now and
 * `from` = `to` − `range` (default 1h, as OQL's default). At most as wide as OQL allows (31 days).
 */
export interface PageWindow {
	fromMs: number;
	toMs: number;
}

const DURATION = /^([1-9]\d{0,5})(s|m|h|d|w)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

export const rangeSchema = z
	.string()
	.regex(DURATION, "A duration such as 15m, 1h, 24h or 7d")
	.openapi({ description: "How far back from `to` (default 1h): 15m, 1h, 24h, 7d, …", example: "1h" });

/** The query parameters of every windowed page. */
export const windowShape = {
	range: rangeSchema.optional(),
	from: queryInstantSchema.optional(),
	to: queryInstantSchema.optional(),
};

export function durationToMs(text: string): number {
	const match = DURATION.exec(text);
	if (!match) throw invalid("range", "A duration such as 15m, 1h, 24h or 7d");
	return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** `maxRangeMs`: OQL's widest window (OQL_MAX_RANGE_DAYS, default 31 days), the pages' too. */
export function resolveWindow(
	query: { range?: string | undefined; from?: number | undefined; to?: number | undefined },
	nowMs: number,
	maxRangeMs = DEFAULT_MAX_RANGE_MS,
): PageWindow {
	if (query.range !== undefined && query.from !== undefined) {
		throw invalid("range", "Give either range or from, not both");
	}
	const toMs = query.to ?? nowMs;
	const fromMs =
		query.from ?? toMs - (query.range === undefined ? DEFAULT_RANGE_MS : durationToMs(query.range));
	const problem = windowProblem({ fromMs, toMs }, maxRangeMs);
	if (problem) throw invalid(problem.path, problem.message);
	return { fromMs, toMs };
}

/** The rules every window obeys, given or carried by a cursor: null when it does. */
function windowProblem(window: PageWindow, maxRangeMs: number): { path: string; message: string } | null {
	const { fromMs, toMs } = window;
	if (!inTelemetryRange(fromMs)) return { path: "from", message: TELEMETRY_RANGE_TEXT };
	if (!inTelemetryRange(toMs)) return { path: "to", message: TELEMETRY_RANGE_TEXT };
	if (fromMs >= toMs) return { path: "from", message: "from must come before to" };
	if (toMs - fromMs > maxRangeMs) {
		return {
			path: "range",
			message: `The window may span at most ${Math.round((maxRangeMs / 86_400_000) * 10) / 10} days`,
		};
	}
	return null;
}

export function windowJson(window: PageWindow): { from: string; to: string } {
	return { from: toRfc3339(window.fromMs), to: toRfc3339(window.toMs) };
}

function invalid(path: string, message: string): ApiError {
	return new ApiError(400, "invalid_request", "The request is invalid.", { details: [{ path, message }] });
}

// ---------------------------------------------------------------------------------------------
// Cursors

/**
 * Where the next page starts, opaque to clients (base64url JSON). It pins the first page's window,
 * so a rolling `range` does not move under a reader (moving it would drop or add rows at the old
 * end), and carries a fingerprint of the filters, so a cursor cannot be replayed with other ones.
 * A cursor carries no authority: anyone can write one, so its window goes through every rule a
 * first page's window does (range of times, order, widest span) and its position must lie inside it.
 * `after` is the last row's keyset position: `[timestamp ns as text, id]` for logs and traces,
 * the host name for hosts.
 */
export interface PageCursor<After> {
	window: PageWindow;
	after: After;
}

type Kind = "logs" | "traces" | "hosts";

export function encodePageCursor(kind: Kind, filters: unknown, cursor: PageCursor<unknown>): string {
	const json = JSON.stringify({
		k: kind,
		f: cursor.window.fromMs,
		t: cursor.window.toMs,
		h: fingerprint(filters),
		a: cursor.after,
	});
	return base64url(json);
}

export function decodePageCursor<After>(
	kind: Kind,
	filters: unknown,
	text: string,
	isAfter: (value: unknown) => value is After,
	maxRangeMs: number,
	insideWindow: (after: After, window: PageWindow) => boolean = () => true,
): PageCursor<After> {
	let value: { k?: unknown; f?: unknown; t?: unknown; h?: unknown; a?: unknown } | null = null;
	try {
		value = JSON.parse(fromBase64url(text));
	} catch {
		value = null;
	}
	if (
		!value ||
		value.k !== kind ||
		!Number.isSafeInteger(value.f) ||
		!Number.isSafeInteger(value.t) ||
		(value.f as number) >= (value.t as number) ||
		!isAfter(value.a)
	) {
		throw new ApiError(
			400,
			"invalid_request",
			"The cursor is invalid; pass next_cursor from a previous page.",
		);
	}
	if (value.h !== fingerprint(filters)) {
		throw new ApiError(
			400,
			"invalid_request",
			"The cursor belongs to a query with other filters; repeat the first page's parameters with it.",
		);
	}
	const window = { fromMs: value.f as number, toMs: value.t as number };
	const problem = windowProblem(window, maxRangeMs);
	if (problem || !insideWindow(value.a, window)) {
		throw new ApiError(
			400,
			"invalid_request",
			"The cursor is invalid; pass next_cursor from a previous page.",
			{
				details: [{ path: "cursor", message: problem?.message ?? "the position lies outside the window" }],
			},
		);
	}
	return { window, after: value.a };
}

/** A `[timestamp ns, id]` position inside `[from, to]` (the next page reads strictly before it). */
export function timeIdInsideWindow(after: [string, number], window: PageWindow): boolean {
	const ns = BigInt(after[0]);
	return ns >= BigInt(window.fromMs) * 1_000_000n && ns <= BigInt(window.toMs) * 1_000_000n;
}

/** `[timestamp ns, id]`: a keyset position in a newest-first list. */
export function isTimeIdPosition(value: unknown): value is [string, number] {
	return (
		Array.isArray(value) &&
		value.length === 2 &&
		typeof value[0] === "string" &&
		/^\d{1,20}$/.test(value[0]) &&
		BigInt(value[0]) < 2n ** 63n &&
		Number.isSafeInteger(value[1])
	);
}

export function isHostPosition(value: unknown): value is string {
	return typeof value === "string" && value.length > 0 && value.length <= 1024;
}

/** FNV-1a (32 bits) of the filters' JSON: a mismatch check, not a secret. */
function fingerprint(filters: unknown): string {
	const text = JSON.stringify(filters ?? null);
	let hash = 0x811c9dc5;
	for (let i = 0; i < text.length; i++) {
		hash ^= text.charCodeAt(i);
		hash = Math.imul(hash, 0x01000193) >>> 0;
	}
	return hash.toString(36);
}

function base64url(text: string): string {
	const bytes = new TextEncoder().encode(text);
	let binary = "";
	for (const byte of bytes) binary += String.fromCharCode(byte);
	return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64url(text: string): string {
	if (text.length > 4096) throw new Error("too long");
	const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
	return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}
