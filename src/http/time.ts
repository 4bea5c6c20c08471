import { z } from "@hono/zod-openapi";

/** The largest instant JavaScript dates represent (±8.64e15 ms); anything past it is a client error. */
const MAX_EPOCH_MS = 8_640_000_000_000_000;

/**
 * The instants RFC 3339 can write (0000-01-01T00:00:00.000Z … 9999-12-31T23:59:59.999Z). A stored
 * time outside them would go out as `+010000-…`, which is not RFC 3339, so input outside is refused.
 */
const MIN_RFC3339_MS = -62_167_219_200_000;
const MAX_RFC3339_MS = 253_402_300_799_999;

/** An instant given as RFC 3339 text (with a zone) or integer epoch milliseconds → epoch ms. */
export const instantSchema = z
	.union([z.iso.datetime({ offset: true }), z.number().int().min(0).max(MAX_RFC3339_MS)])
	.transform((value) => (typeof value === "number" ? value : Date.parse(value)))
	.refine(
		(ms) => ms >= MIN_RFC3339_MS && ms <= MAX_RFC3339_MS,
		"Times must fall between 0000-01-01 and 9999-12-31 (UTC)",
	)
	.openapi({
		description: "RFC 3339 date-time with a zone, or integer epoch milliseconds",
		example: "2026-11-28T06:30:00.000Z",
	});

/** The same in a query string, where every value is text: digits are epoch ms, else RFC 3339. */
export const queryInstantSchema = z
	.string()
	.refine((value) => parseQueryInstant(value) !== null, "Expected RFC 3339 with a zone or epoch milliseconds")
	.transform((value) => parseQueryInstant(value) as number)
	.openapi({
		description: "RFC 3339 date-time with a zone, or epoch milliseconds",
		example: "1764311400000",
	});

function parseQueryInstant(value: string): number | null {
	if (/^\d{1,16}$/.test(value)) {
		const ms = Number(value);
		return ms <= MAX_EPOCH_MS ? ms : null;
	}
	if (!z.iso.datetime({ offset: true }).safeParse(value).success) return null;
	return Date.parse(value);
}

/** Times leave the API as RFC 3339 UTC with milliseconds. */
export function toRfc3339(ms: number): string {
	return new Date(ms).toISOString();
}
