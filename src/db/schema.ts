import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** All times are integer milliseconds since the Unix epoch (UTC). */

export const orgs = sqliteTable("orgs", {
	id: text("id").primaryKey(),
	name: text("name").notNull(),
	retentionDays: integer("retention_days").notNull().default(30),
	createdAt: integer("created_at").notNull(),
});

/** Users are managed by the sessions issue; annotations already name their author from here. */
export const users = sqliteTable(
	"users",
	{
		id: text("id").primaryKey(),
		orgId: text("org_id")
			.notNull()
			.references(() => orgs.id, { onDelete: "cascade" }),
		email: text("email").notNull(),
		name: text("name").notNull(),
		role: text("role", { enum: ["viewer", "member", "admin", "owner"] }).notNull(),
		passwordHash: text("password_hash"),
		disabledAt: integer("disabled_at"),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [uniqueIndex("users_email_unique").on(t.email), index("users_org_idx").on(t.orgId)],
);

export const apiKeys = sqliteTable(
	"api_keys",
	{
		id: text("id").primaryKey(),
		orgId: text("org_id")
			.notNull()
			.references(() => orgs.id, { onDelete: "cascade" }),
		name: text("name").notNull(),
		start: text("start").notNull(),
		keyHash: text("key_hash").notNull(),
		createdAt: integer("created_at").notNull(),
		/** `cli`, or the id of the user who created it. */
		createdBy: text("created_by").notNull(),
		lastUsedAt: integer("last_used_at"),
		expiresAt: integer("expires_at"),
		revokedAt: integer("revoked_at"),
	},
	(t) => [
		uniqueIndex("api_keys_key_hash_unique").on(t.keyHash),
		index("api_keys_org_created_idx").on(t.orgId, t.createdAt),
	],
);

export const annotations = sqliteTable(
	"annotations",
	{
		id: text("id").primaryKey(),
		orgId: text("org_id")
			.notNull()
			.references(() => orgs.id, { onDelete: "cascade" }),
		title: text("title").notNull(),
		text: text("text"),
		/** JSON array of strings; `annotation_tags` holds the same tags for indexed filtering. */
		tags: text("tags").notNull().default("[]"),
		time: integer("time").notNull(),
		timeEnd: integer("time_end"),
		service: text("service"),
		environment: text("environment"),
		version: text("version"),
		url: text("url"),
		externalId: text("external_id"),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
		createdByType: text("created_by_type", { enum: ["api_key", "user"] }).notNull(),
		createdById: text("created_by_id").notNull(),
		createdByName: text("created_by_name"),
	},
	(t) => [
		index("annotations_org_time_idx").on(t.orgId, t.time, t.id),
		index("annotations_org_service_time_idx").on(t.orgId, t.service, t.time, t.id),
		index("annotations_org_environment_time_idx").on(t.orgId, t.environment, t.time, t.id),
		uniqueIndex("annotations_org_external_id_unique")
			.on(t.orgId, t.externalId)
			.where(sql`${t.externalId} IS NOT NULL`),
	],
);

export const annotationTags = sqliteTable(
	"annotation_tags",
	{
		annotationId: text("annotation_id")
			.notNull()
			.references(() => annotations.id, { onDelete: "cascade" }),
		orgId: text("org_id").notNull(),
		tag: text("tag").notNull(),
		time: integer("time").notNull(),
	},
	(t) => [
		primaryKey({ columns: [t.annotationId, t.tag] }),
		index("annotation_tags_org_tag_time_idx").on(t.orgId, t.tag, t.time),
	],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type AnnotationRow = typeof annotations.$inferSelect;
