import type { Client, InStatement, InValue } from "@libsql/client";
import type { Database } from "../db/client.js";

/** drizzle keeps the libSQL client it wraps as `$client`; bulk ingest talks to the client directly. */
export function libsqlClientOf(db: Database): Client {
	return (db as Database & { $client: Client }).$client;
}

/**
 * Above this much OTLP body, a remote (HTTP) database gets the request's statements as several
 * pipeline round trips inside one interactive transaction rather than as one huge batch, which a
 * libSQL server may refuse as too large. Still one transaction: all or nothing.
 */
export const REMOTE_BATCH_SOURCE_BYTES = 2 * 1024 * 1024;

/**
 * Writes one request's statements in one transaction. Embedded libSQL runs a batch synchronously
 * (BEGIN … COMMIT in one call), so concurrent requests never interleave inside a transaction and
 * never wait on each other's locks; remotely, one batch is one round trip.
 */
export async function writeStatements(
	client: Client,
	statements: InStatement[],
	sourceBytes: number,
): Promise<void> {
	if (statements.length === 0) return;
	const groups = Math.min(statements.length, Math.ceil(sourceBytes / REMOTE_BATCH_SOURCE_BYTES));
	if (client.protocol === "file" || groups <= 1) {
		await client.batch(statements, "write");
		return;
	}
	const transaction = await client.transaction("write");
	try {
		const size = Math.ceil(statements.length / groups);
		for (let i = 0; i < statements.length; i += size) await transaction.batch(statements.slice(i, i + size));
		await transaction.commit();
	} finally {
		transaction.close();
	}
}

/** Runs one statement inside a GroupCommitWriter's transaction; `cacheable` when its text repeats. */
export type RunStatement = (sql: string, args: InValue[], cacheable: boolean) => void;

/** What one write sees inside a group's transaction (synchronous: no await may come between). */
export interface WriteTransaction {
	/** Runs a statement for its effect; returns the number of rows it changed. */
	run(sql: string, args: InValue[], cacheable: boolean): number;
	/** The rows a statement returns, as objects keyed by column name; prepared once per text. */
	all(sql: string, args: InValue[]): Record<string, unknown>[];
	/**
	 * The first row a statement returns as its values in column order (undefined: none); prepared
	 * once per text. Cheaper than an object: the driver's cost is per property it sets.
	 */
	values(sql: string, args: InValue[]): unknown[] | undefined;
	/**
	 * Hands `item` to `finish`, which runs once at the end of the group — before its COMMIT, in the
	 * same transaction — with the items of the group's writes that succeeded, in order: for
	 * statements that merge across writes (the rollup upserts: one per key per group rather than
	 * one per key per write). If `finish` throws, the whole group fails.
	 */
	atGroupEnd<T>(finish: (tx: WriteTransaction, items: T[]) => void, item: T): void;
}

/**
 * The Node runtime's embedded writer (src/ingest/embedded-writer.ts): group commit. Writes submitted
 * in the same turn of the event loop run one after another in one transaction, each under its own
 * savepoint, and share one COMMIT (one fsync); each promise settles only after that COMMIT is durable.
 */
export interface GroupCommitWriter {
	/**
	 * Runs `work` synchronously inside the next group's transaction. Resolves with its result once
	 * the group has committed; rejects with what `work` threw (its savepoint rolled back, the other
	 * writes of the group unaffected) or with the error that failed the commit.
	 *
	 * `repeatable`: the work has no effect outside the transaction and may be run more than once
	 * (only its last run counts), so consecutive repeatable writes can share one savepoint.
	 */
	submit<T>(work: (tx: WriteTransaction) => T, options?: { repeatable?: boolean }): Promise<T>;
	/**
	 * Groups committed, writes acknowledged and fsyncs of the WAL started by the writer itself (0 when
	 * the COMMIT syncs) so far (for tests and the bench).
	 */
	readonly stats: { groups: number; writes: number; syncs: number };
	/** Runs what is queued and settles every write, synchronously (fsyncing the WAL if need be). */
	close(): void;
}
