ALTER TABLE `roles` ADD `version` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `tenant_config` ADD `version` integer DEFAULT 1 NOT NULL;