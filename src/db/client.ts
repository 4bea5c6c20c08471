import type { Client } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import * as schema from "./schema.js";

export type Database = LibSQLDatabase<typeof schema>;

/** One drizzle database over any libSQL client: embedded (`@libsql/client`) or remote (`/web`). */
export function createDatabase(client: Client): Database {
	return drizzle(client, { schema });
}
