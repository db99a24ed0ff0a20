// Forgetting rows past their retention (the daily cron), in slices of 5,000 so no statement runs long.
import { type SQL, sql } from "drizzle-orm";
import { takesWrites } from "../shards/fence";
import { batch, type Db } from "./context";

const SLICE = 5_000;

/**
 * Delete the rows of `table` whose `column` (epoch ms) is before `cutoff` (and that meet `also`,
 * when given), but for tenants a move has fenced here; how many went. Names are the caller's constants.
 */
export async function purgeBefore(db: Db, table: string, column: string, cutoff: number, also: SQL = sql`true`): Promise<number> {
  let purged = 0;
  for (;;) {
    // changes() counts the rows the DELETE itself removed; D1's meta.changes would add the move log's rows (a move's
    // triggers log each deletion while it copies the tenant).
    const [, counted] = await batch(db, [
      sql`DELETE FROM ${sql.identifier(table)} WHERE rowid IN
        (SELECT rowid FROM ${sql.identifier(table)} WHERE ${sql.identifier(column)} < ${cutoff} AND ${also}
           AND ${takesWrites(sql`${sql.identifier(table)}.tenant_id`)} LIMIT ${SLICE})`,
      sql`SELECT changes() AS n`,
    ]);
    const n = (counted!.results[0] as { n: number }).n;
    purged += n;
    if (n < SLICE) return purged;
  }
}
