CREATE TABLE `group_rules` (
	`tenant_id` text NOT NULL,
	`group_id` text NOT NULL,
	`expression` text NOT NULL,
	`paused` integer DEFAULT 0 NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `group_id`)
);
--> statement-breakpoint
ALTER TABLE `memberships` ADD `sources` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
-- Each existing membership keeps the source that made it (core/members/sources.ts).
UPDATE `memberships` SET `sources` = CASE `source` WHEN 'scim' THEN 2 WHEN 'tracking' THEN 4 ELSE 1 END;
