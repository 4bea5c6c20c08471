import { count, getTableColumns, type SQL, sql } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Database } from "./client.js";

/**
 * Inserts `row` into `table` unless `scope` (a condition on that table, e.g. the org's rows) already
 * matches `limit` rows: counted and inserted in one statement. A count and then an insert let creates
 * racing at the limit each count the others' rows as absent, and all pass it. With `ignoreConflict`,
 * a clash with a unique index inserts nothing either: "conflict" when the scope is not full (counted
 * again after the insert: a row deleted in between can make a full scope answer "conflict").
 *
 * Only `row`'s keys are written: drizzle's app-side defaults (`$defaultFn`, `$onUpdate`) are not
 * applied, so a column that has one must be in `row` (checked).
 */
export async function insertUnderLimit<T extends SQLiteTable>(
	db: Database,
	table: T,
	row: T["$inferInsert"],
	scope: SQL,
	limit: number,
	options: { ignoreConflict?: boolean } = {},
): Promise<"inserted" | "full" | "conflict"> {
	const columns = getTableColumns(table);
	const entries = Object.entries(row as Record<string, unknown>).filter(([, value]) => value !== undefined);
	const names = entries.map(([key]) => {
		const column = columns[key];
		if (!column) throw new Error(`insertUnderLimit: ${key} is not a column of the table`);
		return sql.identifier(column.name);
	});
	for (const [key, column] of Object.entries(columns)) {
		if ((column.defaultFn || column.onUpdateFn) && (row as Record<string, unknown>)[key] === undefined)
			throw new Error(`insertUnderLimit: ${key} has an app-side default; give it a value`);
	}
	// Each value through its column's own encoding (booleans, JSON, timestamps), as an insert would.
	const values = entries.map(([key, value]) => sql.param(value, columns[key]));
	const result = await db.run(sql`
		INSERT INTO ${table} (${sql.join(names, sql`, `)})
		SELECT ${sql.join(values, sql`, `)}
		WHERE (SELECT count(*) FROM ${table} WHERE ${scope}) < ${limit}
		${options.ignoreConflict ? sql`ON CONFLICT DO NOTHING` : sql``}`);
	if (Number(result.rowsAffected) === 1) return "inserted";
	if (!options.ignoreConflict) return "full";
	const [counted] = await db
		.select({ n: count() })
		.from(table as SQLiteTable)
		.where(scope);
	return (counted?.n ?? 0) >= limit ? "full" : "conflict";
}
