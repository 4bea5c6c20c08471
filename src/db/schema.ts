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
		/** Set for an invited user's one-time initial password: the next login must change it. */
		mustChangePassword: integer("must_change_password", { mode: "boolean" }).notNull().default(false),
		passwordChangedAt: integer("password_changed_at"),
		/** The TOTP secret, AES-GCM encrypted; enabled once a first code was verified. */
		totpSecret: text("totp_secret"),
		totpEnabledAt: integer("totp_enabled_at"),
		/** The last TOTP time step accepted: a code is accepted once only. */
		totpLastStep: integer("totp_last_step"),
		disabledAt: integer("disabled_at"),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
	},
	// Accounts are per org: an address is unique within an org, and may hold one account in each of
	// several orgs (docs/security.md "Accounts and email addresses"). The email index serves the
	// login's lookup of an address's accounts.
	(t) => [
		uniqueIndex("users_org_email_unique").on(t.orgId, t.email),
		index("users_email_idx").on(t.email, t.createdAt),
	],
);

export const recoveryCodes = sqliteTable(
	"recovery_codes",
	{
		codeHash: text("code_hash").primaryKey(),
		userId: text("user_id")
			.notNull()
			.references(() => users.id, { onDelete: "cascade" }),
		createdAt: integer("created_at").notNull(),
		usedAt: integer("used_at"),
	},
	(t) => [index("recovery_codes_user_idx").on(t.userId)],
);

/**
 * Failed logins per scope (`account:<email>` — per address, across its accounts in every org — or
 * `address:<ip>`): consistent, so kept in libSQL.
 */
export const loginThrottles = sqliteTable("login_throttles", {
	scope: text("scope").primaryKey(),
	failures: integer("failures").notNull(),
	lastFailureAt: integer("last_failure_at").notNull(),
	blockedUntil: integer("blocked_until").notNull(),
});

/** A login's chain of refresh tokens; revoking the family ends the session on every tab. */
export const refreshFamilies = sqliteTable(
	"refresh_families",
	{
		id: text("id").primaryKey(),
		userId: text("user_id")
			.notNull()
			.references(() => users.id, { onDelete: "cascade" }),
		orgId: text("org_id").notNull(),
		createdAt: integer("created_at").notNull(),
		/** Absolute expiry: no refresh past this, however active the session. */
		expiresAt: integer("expires_at").notNull(),
		revokedAt: integer("revoked_at"),
		revokedReason: text("revoked_reason"),
	},
	(t) => [index("refresh_families_user_idx").on(t.userId)],
);

export const refreshTokens = sqliteTable(
	"refresh_tokens",
	{
		/** SHA-256 hex of the opaque token: the token itself is never stored. */
		tokenHash: text("token_hash").primaryKey(),
		familyId: text("family_id")
			.notNull()
			.references(() => refreshFamilies.id, { onDelete: "cascade" }),
		createdAt: integer("created_at").notNull(),
		/** Idle expiry: unused this long, the token dies. */
		expiresAt: integer("expires_at").notNull(),
		/** When it was exchanged for a successor; a later use is a replay unless within the grace. */
		rotatedAt: integer("rotated_at"),
	},
	(t) => [index("refresh_tokens_family_idx").on(t.familyId)],
);

export const teams = sqliteTable(
	"teams",
	{
		id: text("id").primaryKey(),
		orgId: text("org_id")
			.notNull()
			.references(() => orgs.id, { onDelete: "cascade" }),
		name: text("name").notNull(),
		description: text("description"),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [uniqueIndex("teams_org_name_unique").on(t.orgId, t.name)],
);

export const teamMembers = sqliteTable(
	"team_members",
	{
		teamId: text("team_id")
			.notNull()
			.references(() => teams.id, { onDelete: "cascade" }),
		userId: text("user_id")
			.notNull()
			.references(() => users.id, { onDelete: "cascade" }),
		orgId: text("org_id").notNull(),
		addedAt: integer("added_at").notNull(),
	},
	(t) => [primaryKey({ columns: [t.teamId, t.userId] }), index("team_members_user_idx").on(t.userId)],
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
export type UserRow = typeof users.$inferSelect;
export type AnnotationRow = typeof annotations.$inferSelect;

export * from "./schema-dashboards.js";
export * from "./schema-heartbeats.js";
export * from "./schema-queue.js";
export * from "./schema-telemetry.js";
