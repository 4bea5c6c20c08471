import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
// A cycle with schema.ts (which re-exports this file) is harmless: `orgs` is read lazily.
import { orgs } from "./schema.js";

/**
 * Saved queries and dashboards (the dashboards issue; docs/dashboards.md).
 * All times are integer milliseconds since the Unix epoch (UTC).
 */

export const SAVED_QUERY_VISIBILITIES = ["org", "private"] as const;
export type SavedQueryVisibility = (typeof SAVED_QUERY_VISIBILITIES)[number];

export const savedQueries = sqliteTable(
	"saved_queries",
	{
		id: text("id").primaryKey(),
		orgId: text("org_id")
			.notNull()
			.references(() => orgs.id, { onDelete: "cascade" }),
		name: text("name").notNull(),
		description: text("description"),
		/** The OQL text as written (checked on every save). */
		query: text("query").notNull(),
		/** `org`: every user of the org reads it; `private`: only its owner sees it at all. */
		visibility: text("visibility", { enum: SAVED_QUERY_VISIBILITIES }).notNull(),
		/** The user who created it. No foreign key: like annotation authors, it outlives the account. */
		ownerId: text("owner_id").notNull(),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [
		index("saved_queries_org_created_idx").on(t.orgId, t.createdAt, t.id),
		index("saved_queries_org_owner_idx").on(t.orgId, t.ownerId),
	],
);

export const dashboards = sqliteTable(
	"dashboards",
	{
		id: text("id").primaryKey(),
		orgId: text("org_id")
			.notNull()
			.references(() => orgs.id, { onDelete: "cascade" }),
		title: text("title").notNull(),
		description: text("description"),
		/** JSON array of strings. */
		tags: text("tags").notNull().default("[]"),
		/** JSON: the default time range, `{"last":"1h"}` or `{"from":ms,"to":ms}`. */
		timeRange: text("time_range").notNull(),
		/** JSON array of variables. */
		variables: text("variables").notNull().default("[]"),
		/** JSON array of panels. */
		panels: text("panels").notNull().default("[]"),
		/** Optimistic concurrency: 1 at creation, +1 on every write; a stale write is refused. */
		version: integer("version").notNull(),
		createdBy: text("created_by").notNull(),
		updatedBy: text("updated_by").notNull(),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [index("dashboards_org_created_idx").on(t.orgId, t.createdAt, t.id)],
);

export type SavedQueryRow = typeof savedQueries.$inferSelect;
export type DashboardRow = typeof dashboards.$inferSelect;
