DROP INDEX `users_email_unique`;--> statement-breakpoint
DROP INDEX `users_org_idx`;--> statement-breakpoint
CREATE UNIQUE INDEX `users_org_email_unique` ON `users` (`org_id`,`email`);--> statement-breakpoint
CREATE INDEX `users_email_idx` ON `users` (`email`,`created_at`);