CREATE TABLE `audit_log` (
	`tenant_id` text NOT NULL,
	`id` text NOT NULL,
	`at` integer NOT NULL,
	`actor` text,
	`action` text NOT NULL,
	`target_type` text NOT NULL,
	`target_id` text NOT NULL,
	`seq` integer,
	`detail` text DEFAULT '{}' NOT NULL,
	PRIMARY KEY(`tenant_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `audit_log_by_target` ON `audit_log` (`tenant_id`,`target_type`,`target_id`,`seq`);--> statement-breakpoint
CREATE TABLE `group_edges` (
	`tenant_id` text NOT NULL,
	`parent_id` text NOT NULL,
	`child_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `parent_id`, `child_id`)
);
--> statement-breakpoint
CREATE INDEX `group_edges_by_child` ON `group_edges` (`tenant_id`,`child_id`,`parent_id`);--> statement-breakpoint
CREATE TABLE `group_roles` (
	`tenant_id` text NOT NULL,
	`group_id` text NOT NULL,
	`role_id` text NOT NULL,
	`assigned_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `group_id`, `role_id`)
);
--> statement-breakpoint
CREATE INDEX `group_roles_by_role` ON `group_roles` (`tenant_id`,`role_id`);--> statement-breakpoint
CREATE TABLE `group_traits` (
	`tenant_id` text NOT NULL,
	`group_id` text NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	`event_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `group_id`, `key`)
);
--> statement-breakpoint
CREATE TABLE `groups` (
	`tenant_id` text NOT NULL,
	`id` text NOT NULL,
	`name` text NOT NULL,
	`name_key` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`type` text DEFAULT 'Group' NOT NULL,
	`custom_data` text DEFAULT '{}' NOT NULL,
	`external_id` text,
	`color` text,
	`welcome_message` text,
	`member_count` integer DEFAULT 0 NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`created_by` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `groups_name_key` ON `groups` (`tenant_id`,`name_key`);--> statement-breakpoint
CREATE INDEX `groups_external_id` ON `groups` (`tenant_id`,`external_id`);--> statement-breakpoint
CREATE TABLE `memberships` (
	`tenant_id` text NOT NULL,
	`group_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role` text DEFAULT 'member' NOT NULL,
	`source` text DEFAULT 'api' NOT NULL,
	`added_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `group_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `memberships_by_user` ON `memberships` (`tenant_id`,`user_id`,`group_id`);--> statement-breakpoint
CREATE TABLE `roles` (
	`tenant_id` text NOT NULL,
	`id` text NOT NULL,
	`key` text NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`level` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `roles_key` ON `roles` (`tenant_id`,`key`);--> statement-breakpoint
CREATE TABLE `tenant_config` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`settings` text DEFAULT '{}' NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tracking_messages` (
	`tenant_id` text NOT NULL,
	`message_id` text NOT NULL,
	`received_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `message_id`)
);
--> statement-breakpoint
CREATE INDEX `tracking_messages_received_at` ON `tracking_messages` (`received_at`);--> statement-breakpoint
CREATE TABLE `user_roles` (
	`tenant_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role_id` text NOT NULL,
	`assigned_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `user_id`, `role_id`)
);
--> statement-breakpoint
CREATE INDEX `user_roles_by_role` ON `user_roles` (`tenant_id`,`role_id`);--> statement-breakpoint
CREATE TABLE `users` (
	`tenant_id` text NOT NULL,
	`id` text NOT NULL,
	`email` text,
	`email_key` text,
	`phone_number` text,
	`name` text,
	`given_name` text,
	`family_name` text,
	`picture` text,
	`custom_data` text DEFAULT '{}' NOT NULL,
	`user_name` text,
	`user_name_key` text,
	`external_id` text,
	`active` integer DEFAULT true NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_key` ON `users` (`tenant_id`,`email_key`);--> statement-breakpoint
CREATE UNIQUE INDEX `users_phone_number` ON `users` (`tenant_id`,`phone_number`);--> statement-breakpoint
CREATE UNIQUE INDEX `users_user_name_key` ON `users` (`tenant_id`,`user_name_key`);