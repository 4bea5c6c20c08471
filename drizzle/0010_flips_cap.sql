ALTER TABLE `monitors` ADD `flip_seq` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `alert_deliveries_flip_idx` ON `alert_deliveries` (`flip_id`);