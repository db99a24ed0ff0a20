CREATE TABLE `api_key_tenants` (
	`secret_hash` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tenant_moves` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`from_shard` text NOT NULL,
	`to_shard` text NOT NULL,
	`state` text NOT NULL,
	`progress` text DEFAULT '{}' NOT NULL,
	`copied` integer DEFAULT 0 NOT NULL,
	`caught_up` integer DEFAULT 0 NOT NULL,
	`requested_by` text NOT NULL,
	`started_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`state_at` integer NOT NULL,
	`finished_at` integer,
	`error` text
);
--> statement-breakpoint
CREATE TABLE `tenant_shards` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`shard` text NOT NULL,
	`placed_at` integer NOT NULL,
	`placed_by` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tenant_shards_by_shard` ON `tenant_shards` (`shard`);