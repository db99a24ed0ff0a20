// Forgetting rows past their retention (the daily cron), in slices of 5,000 so no statement runs long.
import { sql } from "drizzle-orm";
import type { Db } from "./context";

/** Delete the rows of `table` whose `column` (epoch ms) is before `cutoff`; how many went. Names are the caller's constants. */
export async function purgeBefore(db: Db, table: string, column: string, cutoff: number): Promise<number> {
  let purged = 0;
  for (;;) {
    const r = await db.run(sql`DELETE FROM ${sql.identifier(table)} WHERE rowid IN
      (SELECT rowid FROM ${sql.identifier(table)} WHERE ${sql.identifier(column)} < ${cutoff} LIMIT 5000)`);
    purged += r.meta.changes ?? 0;
    if ((r.meta.changes ?? 0) < 5000) return purged;
  }
}
