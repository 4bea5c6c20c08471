CREATE TABLE `queue_dead_letters` (
	`message_id` text PRIMARY KEY NOT NULL,
	`org_id` text,
	`queue` text NOT NULL,
	`body` text NOT NULL,
	`attempts` integer NOT NULL,
	`reason` text NOT NULL,
	`parked_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `queue_dead_letters_parked_at` ON `queue_dead_letters` (`parked_at`);--> statement-breakpoint
CREATE TABLE `queue_receipts` (
	`message_id` text PRIMARY KEY NOT NULL,
	`stored_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `queue_receipts_stored_at` ON `queue_receipts` (`stored_at`);