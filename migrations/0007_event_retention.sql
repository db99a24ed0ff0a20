CREATE TABLE `event_horizons` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`purged_through` integer NOT NULL,
	`purged_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_log_at` ON `audit_log` (`at`);