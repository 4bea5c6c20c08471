CREATE TABLE `alert_deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`org_id` text NOT NULL,
	`channel_id` text NOT NULL,
	`monitor_id` text,
	`flip_id` text,
	`event` text NOT NULL,
	`payload` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`last_attempt_at` integer,
	`response_status` integer,
	`error` text,
	`created_at` integer NOT NULL,
	`delivered_at` integer,
	FOREIGN KEY (`channel_id`) REFERENCES `notification_channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `alert_deliveries_pending_idx` ON `alert_deliveries` (`next_attempt_at`) WHERE "alert_deliveries"."status" = 'pending';--> statement-breakpoint
CREATE INDEX `alert_deliveries_org_created_idx` ON `alert_deliveries` (`org_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `alert_deliveries_channel_idx` ON `alert_deliveries` (`channel_id`,`id`);--> statement-breakpoint
CREATE TABLE `monitor_flips` (
	`id` text PRIMARY KEY NOT NULL,
	`monitor_id` text NOT NULL,
	`org_id` text NOT NULL,
	`at` integer NOT NULL,
	`old_status` text NOT NULL,
	`new_status` text NOT NULL,
	`cause` text NOT NULL,
	FOREIGN KEY (`monitor_id`) REFERENCES `monitors`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `monitor_flips_monitor_at_idx` ON `monitor_flips` (`monitor_id`,`at`,`id`);--> statement-breakpoint
CREATE INDEX `monitor_flips_org_at_idx` ON `monitor_flips` (`org_id`,`at`);--> statement-breakpoint
CREATE TABLE `monitor_pings` (
	`monitor_id` text NOT NULL,
	`seq` integer NOT NULL,
	`org_id` text NOT NULL,
	`at` integer NOT NULL,
	`kind` text NOT NULL,
	`exit_code` integer,
	`rid` text,
	`duration_ms` integer,
	`body` text,
	`body_truncated` integer DEFAULT false NOT NULL,
	`api_key_id` text,
	`remote_addr` text,
	`user_agent` text,
	PRIMARY KEY(`monitor_id`, `seq`),
	FOREIGN KEY (`monitor_id`) REFERENCES `monitors`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `monitor_pings_org_at_idx` ON `monitor_pings` (`org_id`,`at`);--> statement-breakpoint
CREATE TABLE `monitors` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`slug` text NOT NULL,
	`name` text,
	`period_s` integer,
	`grace_s` integer NOT NULL,
	`schedule` text,
	`tz` text DEFAULT 'UTC' NOT NULL,
	`max_runtime_s` integer,
	`status` text NOT NULL,
	`open_runs` text DEFAULT '[]' NOT NULL,
	`last_ping_at` integer,
	`last_ping_kind` text,
	`last_duration_ms` integer,
	`next_due_at` integer,
	`alert_after` integer,
	`rev` integer DEFAULT 0 NOT NULL,
	`ping_seq` integer DEFAULT 0 NOT NULL,
	`pruned_seq` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `monitors_org_slug_unique` ON `monitors` (`org_id`,`slug`);--> statement-breakpoint
CREATE INDEX `monitors_org_status_slug_idx` ON `monitors` (`org_id`,`status`,`slug`);--> statement-breakpoint
CREATE INDEX `monitors_alert_after_idx` ON `monitors` (`alert_after`) WHERE "monitors"."alert_after" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `monitors_prune_idx` ON `monitors` (`id`) WHERE "monitors"."ping_seq" - "monitors"."pruned_seq" > 1000;--> statement-breakpoint
CREATE TABLE `notification_channels` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`url` text NOT NULL,
	`secret_encrypted` text,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `notification_channels_org_created_idx` ON `notification_channels` (`org_id`,`created_at`,`id`);