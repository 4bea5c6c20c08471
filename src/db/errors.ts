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
