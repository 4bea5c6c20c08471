import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Client, createClient } from "@libsql/client";
import { migrate } from "drizzle-orm/libsql/migrator";
import { backfillRollups } from "../ingest/rollup-rebuild.js";
import { createDatabase, type Database } from "./client.js";

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));

/** Opens an embedded libSQL database, creating the folder of a `file:` url first. */
export async function openEmbeddedClient(url: string, authToken?: string): Promise<Client> {
	if (url.startsWith("file:")) {
		const path = url.slice("file:".length).split("?")[0] ?? "";
		if (path && path !== ":memory:") mkdirSync(dirname(resolve(path)), { recursive: true });
	}
	const client = createClient(authToken ? { url, authToken } : { url });
	if (url.startsWith("file:")) {
		// WAL lets readers go on while a write commits; the busy timeout absorbs short write contention.
		await client.execute("PRAGMA journal_mode = WAL");
		await client.execute("PRAGMA busy_timeout = 5000");
	}
	return client;
}

/**
 * drizzle's migrator reads files, so migrations run from Node only (start-up, CLI, test setup,
 * deploy). Then the rollups of data older than them are built, once (src/ingest/rollup-rebuild.ts).
 */
export async function applyMigrations(db: Database): Promise<void> {
	await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
	await backfillRollups((db as Database & { $client: Client }).$client);
}

export async function openMigratedDatabase(
	url: string,
	authToken?: string,
): Promise<{ client: Client; db: Database }> {
	const client = await openEmbeddedClient(url, authToken);
	const db = createDatabase(client);
	await applyMigrations(db);
	return { client, db };
}
