import { expect } from "vitest";
import { OqlError, type OqlErrorCode } from "../../src/oql/errors.js";

/** 2026-11-28T12:00:00.000Z: `now` for every OQL test. */
export const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);

/** A copy of a syntax tree without positions, to compare trees from different texts. */
export function stripPositions<T>(value: T): T {
	if (Array.isArray(value)) return value.map(stripPositions) as T;
	if (value && typeof value === "object") {
		const out: Record<string, unknown> = {};
		for (const [key, inner] of Object.entries(value)) {
			if (key !== "pos") out[key] = stripPositions(inner);
		}
		return out as T;
	}
	return value;
}

/** Runs `fn`, expects an OqlError, and returns it. */
export function oqlError(fn: () => unknown, code?: OqlErrorCode): OqlError {
	let caught: unknown;
	try {
		fn();
	} catch (err) {
		caught = err;
	}
	expect(caught, "expected an OqlError").toBeInstanceOf(OqlError);
	const error = caught as OqlError;
	if (code) expect(error.code, error.message).toBe(code);
	return error;
}
