CREATE TABLE `log_rollups_1h` (
	`org_id` text NOT NULL,
	`bucket` integer NOT NULL,
	`dims` text NOT NULL,
	`service` text,
	`host` text,
	`level` text,
	`count` integer NOT NULL,
	`last_ts` integer NOT NULL,
	PRIMARY KEY(`org_id`, `bucket`, `dims`)
);
--> statement-breakpoint
CREATE TABLE `log_rollups_1m` (
	`org_id` text NOT NULL,
	`bucket` integer NOT NULL,
	`dims` text NOT NULL,
	`service` text,
	`host` text,
	`level` text,
	`count` integer NOT NULL,
	`last_ts` integer NOT NULL,
	PRIMARY KEY(`org_id`, `bucket`, `dims`)
);
--> statement-breakpoint
CREATE TABLE `metric_rollups_1h` (
	`org_id` text NOT NULL,
	`bucket` integer NOT NULL,
	`dims` text NOT NULL,
	`host` text,
	`service` text,
	`metric_name` text NOT NULL,
	`count` integer NOT NULL,
	`value_count` integer NOT NULL,
	`value_sum` real,
	`value_min` real,
	`value_max` real,
	`last_ts` integer NOT NULL,
	PRIMARY KEY(`org_id`, `bucket`, `dims`)
);
--> statement-breakpoint
CREATE TABLE `metric_rollups_1m` (
	`org_id` text NOT NULL,
	`bucket` integer NOT NULL,
	`dims` text NOT NULL,
	`host` text,
	`service` text,
	`metric_name` text NOT NULL,
	`count` integer NOT NULL,
	`value_count` integer NOT NULL,
	`value_sum` real,
	`value_min` real,
	`value_max` real,
	`last_ts` integer NOT NULL,
	PRIMARY KEY(`org_id`, `bucket`, `dims`)
);
--> statement-breakpoint
CREATE TABLE `span_latency_1h` (
	`org_id` text NOT NULL,
	`bucket` integer NOT NULL,
	`dims` text NOT NULL,
	`service` text,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`is_root` integer NOT NULL,
	`count` integer NOT NULL,
	`error_count` integer NOT NULL,
	`duration_sum_ns` integer NOT NULL,
	`duration_min_ns` integer NOT NULL,
	`duration_max_ns` integer NOT NULL,
	`hist` text NOT NULL,
	`last_ts` integer NOT NULL,
	PRIMARY KEY(`org_id`, `bucket`, `dims`)
);
--> statement-breakpoint
CREATE TABLE `span_latency_1m` (
	`org_id` text NOT NULL,
	`bucket` integer NOT NULL,
	`dims` text NOT NULL,
	`service` text,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`is_root` integer NOT NULL,
	`count` integer NOT NULL,
	`error_count` integer NOT NULL,
	`duration_sum_ns` integer NOT NULL,
	`duration_min_ns` integer NOT NULL,
	`duration_max_ns` integer NOT NULL,
	`hist` text NOT NULL,
	`last_ts` integer NOT NULL,
	PRIMARY KEY(`org_id`, `bucket`, `dims`)
);
--> statement-breakpoint
CREATE TABLE `span_rollups_1h` (
	`org_id` text NOT NULL,
	`bucket` integer NOT NULL,
	`dims` text NOT NULL,
	`service` text,
	`host` text,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`is_root` integer NOT NULL,
	`status_code` text NOT NULL,
	`count` integer NOT NULL,
	`duration_sum_ns` integer NOT NULL,
	`duration_min_ns` integer NOT NULL,
	`duration_max_ns` integer NOT NULL,
	`last_ts` integer NOT NULL,
	PRIMARY KEY(`org_id`, `bucket`, `dims`)
);
--> statement-breakpoint
CREATE TABLE `span_rollups_1m` (
	`org_id` text NOT NULL,
	`bucket` integer NOT NULL,
	`dims` text NOT NULL,
	`service` text,
	`host` text,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`is_root` integer NOT NULL,
	`status_code` text NOT NULL,
	`count` integer NOT NULL,
	`duration_sum_ns` integer NOT NULL,
	`duration_min_ns` integer NOT NULL,
	`duration_max_ns` integer NOT NULL,
	`last_ts` integer NOT NULL,
	PRIMARY KEY(`org_id`, `bucket`, `dims`)
);
