import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Client, createClient } from "@libsql/client";
import { migrate } from "drizzle-orm/libsql/migrator";
import { ConfigError } from "../config.js";
import { backfillRollups } from "../ingest/rollup-rebuild.js";
import { createDatabase, type Database } from "./client.js";

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));

/** Opens an embedded libSQL database, creating the folder of a `file:` url first. */
export async function openEmbeddedClient(url: string, authToken?: string): Promise<Client> {
	if (!/^[a-z][a-z0-9+.-]*:/i.test(url)) {
		// A bare path is the usual slip; it names no secret, so the hint may repeat it.
		const path = /^[^?@#]*$/.test(url) ? url : null;
		throw new ConfigError(
			"DATABASE_URL",
			"invalid",
			`it needs a scheme (file:, libsql:, http:, https:)${path ? `; did you mean file:${path}?` : ""}`,
		);
	}
	if (url.startsWith("file:")) {
		const path = url.slice("file:".length).split("?")[0] ?? "";
		if (path && path !== ":memory:") mkdirSync(dirname(resolve(path)), { recursive: true });
	}
	if (!url.startsWith("file:")) return createClient(authToken ? { url, authToken } : { url });
	// The busy timeout absorbs short write contention, on every connection the client opens.
	const client = healAfterBusy(createClient({ url, timeout: BUSY_TIMEOUT_MS }));
	// WAL lets readers go on while a write commits.
	await client.execute("PRAGMA journal_mode = WAL");
	await client.execute(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
	return client;
}

const BUSY_TIMEOUT_MS = 5_000;
const CLIENT_CALLS = new Set(["execute", "batch", "executeMultiple", "migrate"]);

/**
 * A statement that fails with SQLITE_BUSY (the busy timeout passed) stays un-reset on its
 * connection, and every later COMMIT there fails with "SQL statements in progress" — measured with
 * @libsql/client 0.18: one busy moment would turn every later write of the process into a 503. So
 * after a busy error the client's connections are replaced (`reconnect`), and the next call works.
 */
function healAfterBusy(client: Client): Client {
	const heal = (error: unknown) => {
		if (isBusy(error)) void client.reconnect();
		throw error;
	};
	return new Proxy(client, {
		get(target, prop) {
			const value = Reflect.get(target, prop, target);
			if (typeof value !== "function") return value;
			const bound = (value as (...a: unknown[]) => unknown).bind(target);
			if (typeof prop !== "string" || !CLIENT_CALLS.has(prop)) return bound;
			return (...args: unknown[]) => (bound(...args) as Promise<unknown>).catch(heal);
		},
	});
}

function isBusy(error: unknown): boolean {
	for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
		const code = (e as { code?: unknown }).code;
		if (typeof code === "string" && code.startsWith("SQLITE_BUSY")) return true;
	}
	return false;
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
