// Forgetting rows past their retention (the crons), in slices of PURGE_SLICE so no statement runs long.
import { type SQL, sql } from "drizzle-orm";
import { takesWrites } from "../shards/fence";
import type { Budget } from "./budget";
import { batch, type Db } from "./context";

export const PURGE_SLICE = 5_000;

/**
 * Run `slice` (one D1 call that deletes at most PURGE_SLICE rows, and says how many) until one deletes fewer, or the
 * budget (one subrequest a slice) is spent: the rest waits for the next run. How many went.
 */
export async function inSlices(slice: () => Promise<number>, budget?: Budget): Promise<number> {
  let purged = 0;
  while (!budget || budget.left >= 1) {
    const n = await slice();
    purged += n;
    if (n < PURGE_SLICE) break;
  }
  return purged;
}

/**
 * Delete the rows of `table` whose `column` (epoch ms) is before `cutoff` (and that meet `also`,
 * when given), but for tenants a move has fenced here; how many went. Names are the caller's constants.
 */
export const purgeBefore = (db: Db, table: string, column: string, cutoff: number, also: SQL = sql`true`, budget?: Budget) =>
  inSlices(async () => {
    // changes() counts the rows the DELETE itself removed; D1's meta.changes would add the move log's rows (a move's
    // triggers log each deletion while it copies the tenant).
    const [, counted] = await batch(db, [
      sql`DELETE FROM ${sql.identifier(table)} WHERE rowid IN
        (SELECT rowid FROM ${sql.identifier(table)} WHERE ${sql.identifier(column)} < ${cutoff} AND ${also}
           AND ${takesWrites(sql`${sql.identifier(table)}.tenant_id`)} LIMIT ${PURGE_SLICE})`,
      sql`SELECT changes() AS n`,
    ]);
    return (counted!.results[0] as { n: number }).n;
  }, budget);
