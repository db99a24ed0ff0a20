ALTER TABLE `groups` ADD `rule_owed` integer;--> statement-breakpoint
CREATE INDEX `groups_rule_owed` ON `groups` (`rule_owed`) WHERE rule_owed IS NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `rules_owed` integer;--> statement-breakpoint
CREATE INDEX `users_rules_owed` ON `users` (`rules_owed`) WHERE rules_owed IS NOT NULL;