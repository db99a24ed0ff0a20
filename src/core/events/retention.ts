// Forgetting events past each tenant's retention (the daily cron), and remembering how far
// each tenant's were forgotten, so a reader resuming from before that learns it missed some.
import { sql } from "drizzle-orm";
import { DEFAULT_SETTINGS } from "../config/rules";
import { takesWrites } from "../shards/fence";
import type { Budget } from "../shared/budget";
import { batch, type Db } from "../shared/context";
import { inSlices, PURGE_SLICE } from "../shared/retention";

const DAY_MS = 24 * 3600 * 1000;

/** A slice of the events past their tenant's retention. No retention is shorter than a day: audit_log_at narrows the scan to events older than that. */
export const expiredEvents = (
  now: number,
) => sql`SELECT a.cursor, a.tenant_id FROM audit_log a LEFT JOIN tenant_config c ON c.tenant_id = a.tenant_id
    WHERE a.at < ${now - DAY_MS} AND ${takesWrites(sql`a.tenant_id`)}
      AND a.at < ${now} - coalesce(json_extract(c.settings, '$.eventRetentionDays'), ${DEFAULT_SETTINGS.eventRetentionDays}) * ${DAY_MS}
    ORDER BY a.at, a.cursor LIMIT ${PURGE_SLICE}`;

/** Delete every event older than its tenant's eventRetentionDays, in slices (as far as the budget goes); how many went. */
export const purgeExpiredEvents = (db: Db, now = Date.now(), budget?: Budget) =>
  inSlices(async () => {
    const expired = expiredEvents(now);
    // One transaction: the horizon moves with exactly the events the delete takes. changes() counts the events it
    // deleted; D1's meta.changes would add the move log's rows while a move copies the tenant.
    const [, , deleted] = await batch(db, [
      sql`INSERT INTO event_horizons (tenant_id, purged_through, purged_at)
          SELECT tenant_id, max(cursor), ${now} FROM (${expired}) WHERE true GROUP BY tenant_id
          ON CONFLICT (tenant_id) DO UPDATE SET purged_through = max(purged_through, excluded.purged_through), purged_at = excluded.purged_at`,
      sql`DELETE FROM audit_log WHERE cursor IN (SELECT cursor FROM (${expired}))`,
      sql`SELECT changes() AS n`,
    ]);
    return (deleted!.results[0] as { n: number }).n;
  }, budget);
