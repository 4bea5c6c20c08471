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

/** Runs one statement inside a SyncStatementWriter's transaction; `cacheable` when its text repeats. */
export type RunStatement = (sql: string, args: InValue[], cacheable: boolean) => void;

/**
 * A writer that runs a whole request synchronously in one transaction (the Node runtime's embedded
 * database: src/ingest/embedded-writer.ts), so rows can be written while they are decoded.
 */
export interface SyncStatementWriter {
	/** BEGIN IMMEDIATE, `work`, COMMIT — or ROLLBACK and rethrow when `work` throws. */
	transaction(work: (run: RunStatement) => void): void;
	close(): void;
}
