/**
 * ClickHouse schema migrations, kept in the repo like drizzle's (clickhouse/migrations/NNNN_name.sql):
 * each file is applied once, in name order, and recorded with its SHA-256 in `hexcovery_migrations`.
 * A recorded migration whose text has changed since is refused (write a new migration instead).
 * Runs through any ClickHouse client with `command` and `query` (`@clickhouse/client` on Node,
 * `@clickhouse/client-web` on Workers); run it from one process at a time (ClickHouse has no
 * transactions to serialize two runners).
 */

export interface ClickHouseMigration {
	/** The file name without `.sql`, e.g. `0001_telemetry`. */
	name: string;
	sql: string;
}

/** What the runner needs of a ClickHouse client (both official clients have it). */
export interface MigrationClient {
	command(params: { query: string; query_params?: Record<string, unknown> }): Promise<unknown>;
	query(params: {
		query: string;
		format: "JSONEachRow";
		query_params?: Record<string, unknown>;
	}): Promise<{ json<T>(): Promise<T[]> }>;
}

export const MIGRATIONS_TABLE = "hexcovery_migrations";

/** A migration's statements: separated by a line that ends with `;`; `--` comment lines dropped. */
export function splitStatements(sql: string): string[] {
	const statements: string[] = [];
	let current: string[] = [];
	for (const line of sql.split("\n")) {
		if (/^\s*--/.test(line)) continue;
		current.push(line);
		if (/;\s*$/.test(line)) {
			statements.push(current.join("\n").trim().replace(/;$/, ""));
			current = [];
		}
	}
	const rest = current.join("\n").trim();
	if (rest) statements.push(rest);
	return statements.filter((statement) => statement !== "");
}

async function sha256(text: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
	return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Applies the migrations not yet recorded, in name order. Returns the names applied now. */
export async function migrateClickHouse(
	client: MigrationClient,
	migrations: readonly ClickHouseMigration[],
): Promise<string[]> {
	await client.command({
		query: `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (name String, sha256 String, applied_at DateTime64(3) DEFAULT now64(3)) ENGINE = MergeTree ORDER BY name`,
	});
	const result = await client.query({
		query: `SELECT name, sha256 FROM ${MIGRATIONS_TABLE}`,
		format: "JSONEachRow",
	});
	const applied = new Map(
		(await result.json<{ name: string; sha256: string }>()).map((row) => [row.name, row.sha256]),
	);
	const done: string[] = [];
	for (const migration of [...migrations].sort((a, b) => a.name.localeCompare(b.name))) {
		const hash = await sha256(migration.sql);
		const recorded = applied.get(migration.name);
		if (recorded !== undefined) {
			if (recorded !== hash) {
				throw new Error(
					`ClickHouse migration ${migration.name} was applied with other text (sha256 ${recorded.slice(0, 12)}…); add a new migration instead of editing it`,
				);
			}
			continue;
		}
		for (const statement of splitStatements(migration.sql)) await client.command({ query: statement });
		await client.command({
			query: `INSERT INTO ${MIGRATIONS_TABLE} (name, sha256) VALUES ({name:String}, {sha256:String})`,
			query_params: { name: migration.name, sha256: hash },
		});
		done.push(migration.name);
	}
	return done;
}
