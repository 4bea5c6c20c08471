import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ClickHouseMigration } from "./migrate.js";

/** The repo's ClickHouse migrations directory. */
export const CLICKHOUSE_MIGRATIONS_DIR = resolve(
	dirname(fileURLToPath(import.meta.url)),
	"..",
	"..",
	"clickhouse",
	"migrations",
);

/** Reads `NNNN_name.sql` files from a directory (the repo's by default), in name order. */
export function readClickHouseMigrations(dir = CLICKHOUSE_MIGRATIONS_DIR): ClickHouseMigration[] {
	return readdirSync(dir)
		.filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
		.sort()
		.map((file) => ({ name: file.replace(/\.sql$/, ""), sql: readFileSync(join(dir, file), "utf8") }));
}
