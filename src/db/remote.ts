import { StorageUnreachable } from "./errors.js";

/** DATABASE_TIMEOUT_MS default: a remote libSQL call (one HTTP request) gets at most this long. */
export const DEFAULT_DATABASE_TIMEOUT_MS = 10_000;

/**
 * The `fetch` the Worker's libSQL client uses: the platform's, with a deadline. A database that is
 * frozen or unreachable fails the call at the deadline (StorageUnreachable → 503
 * `storage_unavailable`) instead of holding the request forever. The client is told nothing was
 * answered, so a write past its deadline is never acknowledged (it may still commit on the server).
 */
export function fetchWithDeadline(timeoutMs: number): typeof fetch {
	return async (input, init) => {
		const signal = AbortSignal.timeout(timeoutMs);
		try {
			return await fetch(input, { ...init, signal });
		} catch (error) {
			if (signal.aborted) {
				throw new StorageUnreachable(`the database did not answer within ${timeoutMs} ms`, { cause: error });
			}
			throw new StorageUnreachable("the database cannot be reached", { cause: error });
		}
	};
}
