-- audit_log becomes the change stream: a cursor that only grows, and the source of each change.
-- No table references audit_log, so the rebuild needs no foreign-key pragma (D1 ignores foreign_keys=OFF).
CREATE TABLE `__new_audit_log` (
	`cursor` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`tenant_id` text NOT NULL,
	`id` text NOT NULL,
	`at` integer NOT NULL,
	`actor` text,
	`source` text,
	`action` text NOT NULL,
	`target_type` text NOT NULL,
	`target_id` text NOT NULL,
	`seq` integer,
	`detail` text DEFAULT '{}' NOT NULL
);
--> statement-breakpoint
-- Existing entries get cursors in the order they were written (the old table's rowid); their source is unknown.
INSERT INTO `__new_audit_log`("tenant_id", "id", "at", "actor", "action", "target_type", "target_id", "seq", "detail") SELECT "tenant_id", "id", "at", "actor", "action", "target_type", "target_id", "seq", "detail" FROM `audit_log` ORDER BY rowid;--> statement-breakpoint
DROP TABLE `audit_log`;--> statement-breakpoint
ALTER TABLE `__new_audit_log` RENAME TO `audit_log`;--> statement-breakpoint
CREATE UNIQUE INDEX `audit_log_id` ON `audit_log` (`tenant_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_log_feed` ON `audit_log` (`tenant_id`,`cursor`);--> statement-breakpoint
CREATE INDEX `audit_log_by_target` ON `audit_log` (`tenant_id`,`target_type`,`target_id`,`seq`);