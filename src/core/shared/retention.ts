// Forgetting rows past their retention (the daily cron), in slices of 5,000 so no statement runs long.
import { type SQL, sql } from "drizzle-orm";
import { takesWrites } from "../shards/fence";
import type { Db } from "./context";

/**
 * Delete the rows of `table` whose `column` (epoch ms) is before `cutoff` (and that meet `also`,
 * when given), but for tenants a move has fenced here; how many went. Names are the caller's constants.
 */
export async function purgeBefore(db: Db, table: string, column: string, cutoff: number, also: SQL = sql`true`): Promise<number> {
  let purged = 0;
  for (;;) {
    const r = await db.run(sql`DELETE FROM ${sql.identifier(table)} WHERE rowid IN
      (SELECT rowid FROM ${sql.identifier(table)} WHERE ${sql.identifier(column)} < ${cutoff} AND ${also}
         AND ${takesWrites(sql`${sql.identifier(table)}.tenant_id`)} LIMIT 5000)`);
    purged += r.meta.changes ?? 0;
    if ((r.meta.changes ?? 0) < 5000) return purged;
  }
}
