ALTER TABLE `groups` ADD `user_count_cache` integer;--> statement-breakpoint
ALTER TABLE `groups` ADD `agg_version` integer DEFAULT 0 NOT NULL;