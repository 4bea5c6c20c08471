CREATE TABLE `attribute_keys` (
	`org_id` text NOT NULL,
	`source` text NOT NULL,
	`namespace` text NOT NULL,
	`key` text NOT NULL,
	`value_types` integer NOT NULL,
	`examples` text NOT NULL,
	`first_seen` integer NOT NULL,
	`last_seen` integer NOT NULL,
	PRIMARY KEY(`org_id`, `source`, `namespace`, `key`)
);
--> statement-breakpoint
CREATE TABLE `logs` (
	`id` integer PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`timestamp` integer NOT NULL,
	`observed_timestamp` integer NOT NULL,
	`severity_number` integer,
	`severity_text` text,
	`level` text,
	`body` text,
	`trace_id` text,
	`span_id` text,
	`event_name` text,
	`service` text,
	`host` text,
	`scope_name` text,
	`scope_version` text,
	`resource_attributes` text NOT NULL,
	`scope_attributes` text,
	`attributes` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `logs_org_time_idx` ON `logs` (`org_id`,`timestamp`);--> statement-breakpoint
CREATE INDEX `logs_org_service_time_idx` ON `logs` (`org_id`,`service`,`timestamp`);--> statement-breakpoint
CREATE INDEX `logs_org_level_time_idx` ON `logs` (`org_id`,`level`,`timestamp`);--> statement-breakpoint
CREATE INDEX `logs_org_host_time_idx` ON `logs` (`org_id`,`host`,`timestamp`);--> statement-breakpoint
CREATE INDEX `logs_org_trace_idx` ON `logs` (`org_id`,`trace_id`) WHERE "logs"."trace_id" IS NOT NULL;--> statement-breakpoint
CREATE TABLE `metric_names` (
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`unit` text,
	`description` text,
	`first_seen` integer NOT NULL,
	`last_seen` integer NOT NULL,
	PRIMARY KEY(`org_id`, `name`)
);
--> statement-breakpoint
CREATE TABLE `metric_points` (
	`id` integer PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`timestamp` integer NOT NULL,
	`start_timestamp` integer,
	`metric_name` text NOT NULL,
	`kind` text NOT NULL,
	`unit` text,
	`temporality` text,
	`is_monotonic` integer,
	`value` real,
	`count` integer,
	`sum` real,
	`min` real,
	`max` real,
	`bucket_counts` text,
	`explicit_bounds` text,
	`exponential_buckets` text,
	`quantiles` text,
	`service` text,
	`host` text,
	`scope_name` text,
	`scope_version` text,
	`resource_attributes` text NOT NULL,
	`scope_attributes` text,
	`attributes` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `metric_points_org_time_idx` ON `metric_points` (`org_id`,`timestamp`);--> statement-breakpoint
CREATE INDEX `metric_points_org_name_time_idx` ON `metric_points` (`org_id`,`metric_name`,`timestamp`);--> statement-breakpoint
CREATE INDEX `metric_points_org_service_time_idx` ON `metric_points` (`org_id`,`service`,`timestamp`);--> statement-breakpoint
CREATE TABLE `spans` (
	`id` integer PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`timestamp` integer NOT NULL,
	`duration_ns` integer NOT NULL,
	`trace_id` text NOT NULL,
	`span_id` text NOT NULL,
	`parent_span_id` text,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`status_code` text NOT NULL,
	`status_message` text,
	`service` text,
	`host` text,
	`scope_name` text,
	`scope_version` text,
	`resource_attributes` text NOT NULL,
	`scope_attributes` text,
	`attributes` text NOT NULL,
	`events` text,
	`links` text
);
--> statement-breakpoint
CREATE INDEX `spans_org_time_idx` ON `spans` (`org_id`,`timestamp`);--> statement-breakpoint
CREATE INDEX `spans_org_service_time_idx` ON `spans` (`org_id`,`service`,`timestamp`);--> statement-breakpoint
CREATE INDEX `spans_org_host_time_idx` ON `spans` (`org_id`,`host`,`timestamp`);--> statement-breakpoint
CREATE INDEX `spans_org_trace_idx` ON `spans` (`org_id`,`trace_id`);--> statement-breakpoint
CREATE INDEX `spans_org_root_time_idx` ON `spans` (`org_id`,`timestamp`) WHERE "spans"."parent_span_id" IS NULL;