import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
// A cycle with schema.ts (which re-exports this file) is harmless: `orgs` is read lazily.
import { orgs } from "./schema.js";

/**
 * Heartbeat monitors, pings, flips and alert channels (the heartbeats issue; docs/heartbeats.md).
 * All times are integer milliseconds since the Unix epoch (UTC).
 */

export const MONITOR_STATUSES = ["new", "up", "late", "down", "paused"] as const;
export type MonitorStatus = (typeof MONITOR_STATUSES)[number];

export const PING_KINDS = ["success", "start", "fail", "log"] as const;
export type PingKind = (typeof PING_KINDS)[number];

export const monitors = sqliteTable(
	"monitors",
	{
		id: text("id").primaryKey(),
		orgId: text("org_id")
			.notNull()
			.references(() => orgs.id, { onDelete: "cascade" }),
		slug: text("slug").notNull(),
		/** A label for the dashboard; null shows the slug. */
		name: text("name"),
		/** Interval monitors: seconds between pings. Null for cron monitors. */
		periodS: integer("period_s"),
		graceS: integer("grace_s").notNull(),
		/** Cron monitors: a 5-field cron expression, read in `tz`. Null for interval monitors. */
		schedule: text("schedule"),
		tz: text("tz").notNull().default("UTC"),
		/** How long a started run may last before the monitor goes down; null: the grace period. */
		maxRuntimeS: integer("max_runtime_s"),
		status: text("status", { enum: MONITOR_STATUSES }).notNull(),
		/** JSON array of the started, unfinished runs: `[{"rid": string|null, "at": ms}]`, oldest first. */
		openRuns: text("open_runs").notNull().default("[]"),
		/** The last start, success or failure ping (log pings change nothing). */
		lastPingAt: integer("last_ping_at"),
		lastPingKind: text("last_ping_kind", { enum: PING_KINDS }),
		lastDurationMs: integer("last_duration_ms"),
		/** When the next success ping is expected (late after it, down after it + grace). */
		nextDueAt: integer("next_due_at"),
		/** When the sweep must look at this monitor next; null: nothing can happen without a ping. */
		alertAfter: integer("alert_after"),
		/** A random value replaced on every state write: the compare-and-set token of pings and sweeps. */
		rev: integer("rev").notNull().default(0),
		/** Pings are numbered per monitor; pings at or below `pruned_seq` are gone. */
		pingSeq: integer("ping_seq").notNull().default(0),
		prunedSeq: integer("pruned_seq").notNull().default(0),
		/** Flips written; every FLIP_PRUNE_EVERY-th also deletes those beyond the newest 1,000. */
		flipSeq: integer("flip_seq").notNull().default(0),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [
		uniqueIndex("monitors_org_slug_unique").on(t.orgId, t.slug),
		index("monitors_org_status_slug_idx").on(t.orgId, t.status, t.slug),
		index("monitors_alert_after_idx").on(t.alertAfter).where(sql`${t.alertAfter} IS NOT NULL`),
		index("monitors_prune_idx").on(t.id).where(sql`${t.pingSeq} - ${t.prunedSeq} > 1000`),
	],
);

export const monitorPings = sqliteTable(
	"monitor_pings",
	{
		monitorId: text("monitor_id")
			.notNull()
			.references(() => monitors.id, { onDelete: "cascade" }),
		/** 1, 2, 3… per monitor. */
		seq: integer("seq").notNull(),
		orgId: text("org_id").notNull(),
		at: integer("at").notNull(),
		kind: text("kind", { enum: PING_KINDS }).notNull(),
		exitCode: integer("exit_code"),
		rid: text("rid"),
		/** For an end paired with its start: the run's duration. */
		durationMs: integer("duration_ms"),
		/** The first 10,000 bytes of the request body, as UTF-8 text; null when there was none. */
		body: text("body"),
		bodyTruncated: integer("body_truncated", { mode: "boolean" }).notNull().default(false),
		apiKeyId: text("api_key_id"),
		remoteAddr: text("remote_addr"),
		userAgent: text("user_agent"),
	},
	(t) => [primaryKey({ columns: [t.monitorId, t.seq] }), index("monitor_pings_org_at_idx").on(t.orgId, t.at)],
);

export const monitorFlips = sqliteTable(
	"monitor_flips",
	{
		id: text("id").primaryKey(),
		monitorId: text("monitor_id")
			.notNull()
			.references(() => monitors.id, { onDelete: "cascade" }),
		orgId: text("org_id").notNull(),
		at: integer("at").notNull(),
		oldStatus: text("old_status", { enum: MONITOR_STATUSES }).notNull(),
		newStatus: text("new_status", { enum: MONITOR_STATUSES }).notNull(),
		/** Why: success_ping, fail_ping, exit_code, start_ping, due, grace_ended, run_timeout, paused, resumed. */
		cause: text("cause").notNull(),
	},
	(t) => [
		index("monitor_flips_monitor_at_idx").on(t.monitorId, t.at, t.id),
		index("monitor_flips_org_at_idx").on(t.orgId, t.at),
	],
);

export const notificationChannels = sqliteTable(
	"notification_channels",
	{
		id: text("id").primaryKey(),
		orgId: text("org_id")
			.notNull()
			.references(() => orgs.id, { onDelete: "cascade" }),
		name: text("name").notNull(),
		type: text("type", { enum: ["webhook"] }).notNull(),
		url: text("url").notNull(),
		/** The HMAC secret, AES-GCM encrypted like TOTP secrets; null: deliveries are unsigned. */
		secretEncrypted: text("secret_encrypted"),
		enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
		createdAt: integer("created_at").notNull(),
		updatedAt: integer("updated_at").notNull(),
	},
	(t) => [index("notification_channels_org_created_idx").on(t.orgId, t.createdAt, t.id)],
);

export const DELIVERY_STATUSES = ["pending", "delivered", "failed"] as const;

/** The delivery log, and the queue of deliveries still to attempt (`status = 'pending'`). */
export const alertDeliveries = sqliteTable(
	"alert_deliveries",
	{
		id: integer("id").primaryKey({ autoIncrement: true }),
		orgId: text("org_id").notNull(),
		channelId: text("channel_id")
			.notNull()
			.references(() => notificationChannels.id, { onDelete: "cascade" }),
		monitorId: text("monitor_id"),
		/** The flip this delivery announces (its `event_id`); null for a test delivery. */
		flipId: text("flip_id"),
		event: text("event", { enum: ["monitor.status_changed", "test"] }).notNull(),
		/** The exact JSON body sent (and signed) on every attempt. */
		payload: text("payload").notNull(),
		status: text("status", { enum: DELIVERY_STATUSES }).notNull(),
		attempts: integer("attempts").notNull().default(0),
		/** When a pending delivery may be attempted next (also a claim: moved ahead while one is sending). */
		nextAttemptAt: integer("next_attempt_at"),
		lastAttemptAt: integer("last_attempt_at"),
		responseStatus: integer("response_status"),
		error: text("error"),
		createdAt: integer("created_at").notNull(),
		deliveredAt: integer("delivered_at"),
	},
	(t) => [
		index("alert_deliveries_pending_idx").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
		// A new flip supersedes its monitor's waiting deliveries (src/heartbeats/store.ts).
		index("alert_deliveries_monitor_pending_idx").on(t.monitorId).where(sql`${t.status} = 'pending'`),
		index("alert_deliveries_org_created_idx").on(t.orgId, t.createdAt),
		index("alert_deliveries_channel_idx").on(t.channelId, t.id),
		// A monitor's flips beyond its newest 1,000 go with their finished deliveries (src/heartbeats/store.ts).
		index("alert_deliveries_flip_idx").on(t.flipId),
	],
);

export type MonitorRow = typeof monitors.$inferSelect;
export type MonitorPingRow = typeof monitorPings.$inferSelect;
export type MonitorFlipRow = typeof monitorFlips.$inferSelect;
export type NotificationChannelRow = typeof notificationChannels.$inferSelect;
export type AlertDeliveryRow = typeof alertDeliveries.$inferSelect;
