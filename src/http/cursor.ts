import { ApiError } from "../errors.js";

/** Opaque keyset cursors: base64url JSON of the last row's (time, id). */
export function encodeCursor(position: { time: number; id: string }): string {
	const json = JSON.stringify({ t: position.time, i: position.id });
	return btoa(json).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string): { time: number; id: string } {
	try {
		const padded = cursor.replaceAll("-", "+").replaceAll("_", "/");
		const value = JSON.parse(atob(padded)) as { t?: unknown; i?: unknown };
		if (Number.isSafeInteger(value.t) && typeof value.i === "string" && value.i.length <= 64) {
			return { time: value.t as number, id: value.i };
		}
	} catch {
		// Falls through to the error below: any undecodable cursor is the client's mistake.
	}
	throw new ApiError(400, "invalid_request", "The cursor is invalid; pass next_cursor from a previous page.");
}
