ALTER TABLE `memberships` ADD `display` text;--> statement-breakpoint
ALTER TABLE `users` ADD `scim_attributes` text;