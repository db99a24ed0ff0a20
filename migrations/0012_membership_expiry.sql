ALTER TABLE `memberships` ADD `expires_at` integer;--> statement-breakpoint
CREATE INDEX `memberships_expiring` ON `memberships` (`tenant_id`,`group_id`,`expires_at`) WHERE expires_at IS NOT NULL;--> statement-breakpoint
-- Every read of memberships goes through this view (db/schema.ts liveMemberships): from its
-- expires_at on, the direct source no longer holds. 'now' is one instant within a statement step.
CREATE VIEW `live_memberships` AS
SELECT `tenant_id`, `group_id`, `user_id`, `role`,
  CASE WHEN `expires_at` <= CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) THEN `sources` & ~1 ELSE `sources` END AS `sources`,
  `display`, `added_at`,
  CASE WHEN `expires_at` <= CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) THEN NULL ELSE `expires_at` END AS `expires_at`
FROM `memberships`
WHERE `expires_at` IS NULL OR `expires_at` > CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) OR (`sources` & ~1) != 0;
