/**
 * Whether a database error is a UNIQUE constraint violation. drizzle wraps the driver's error (the
 * reason is in `cause`); embedded libSQL and remote libSQL (Hrana) both name the constraint the SQLite way.
 */
export function isUniqueViolation(error: unknown): boolean {
	for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
		const code = (e as { code?: unknown }).code;
		if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") return true;
		if (/UNIQUE constraint failed/i.test(e.message)) return true;
	}
	return false;
}

/** The database could not be reached in time: a remote call past its deadline or a dead reader. */
export class StorageUnreachable extends Error {
	constructor(message: string, options?: { cause?: unknown }) {
		super(message, options);
		this.name = "StorageUnreachable";
	}
}

/**
 * SQLite result codes that mean "the database cannot serve this now" rather than "this request is
 * wrong": full, busy past the busy timeout, locked, I/O, cannot open, read-only file, out of memory.
 */
const UNAVAILABLE_SQLITE = /^SQLITE_(FULL|BUSY|LOCKED|IOERR|CANTOPEN|READONLY|NOMEM|PROTOCOL)/;
/** @libsql/client's codes for a remote server that failed, closed the stream or could not be reached. */
const UNAVAILABLE_REMOTE = new Set(["SERVER_ERROR", "HRANA_CLOSED_ERROR", "HRANA_WEBSOCKET_ERROR"]);

/**
 * Whether an error is a storage failure: 503 `storage_unavailable` with Retry-After on every route
 * (contract §2), never 500. drizzle and the libSQL clients wrap the reason, so the cause chain is read.
 */
export function isStorageFailure(error: unknown): boolean {
	for (let e: unknown = error, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) {
		if (e instanceof StorageUnreachable) return true;
		const code = (e as { code?: unknown }).code;
		if (typeof code === "string" && (UNAVAILABLE_SQLITE.test(code) || UNAVAILABLE_REMOTE.has(code)))
			return true;
		if (UNAVAILABLE_SQLITE.test(e.message)) return true;
		// fetch() failures of the remote client (connection refused, reset), and aborted calls.
		if (e.name === "AbortError" || e.name === "TimeoutError") return true;
		if (e.name === "TypeError" && /fetch|network|connect/i.test(e.message)) return true;
	}
	return false;
}
