// Rule work a request owes once its change has committed: the tenant's rules evaluated for a
// changed profile (users.rules_owed), or a group reconciled after its rule was set or dropped
// (groups.rule_owed). The mark is written in the change's own batch and cleared when the work
// is done; a request cut off in between (its isolate gone, say) leaves the mark, and the
// per-minute cron does the work (sweepOwedRules in ./index.ts). Doing it twice is harmless: a
// reconcile reads the rule and the profiles as they are when it runs.
import { type SQL, sql } from "drizzle-orm";
import { takesWrites } from "../shards/fence";
import type { Db } from "../shared/context";

/** How long a mark waits for its own request before the cron takes the work over. */
export const OWED_GRACE_MS = 60_000;
/** Marks, users and groups each, the cron takes per shard and minute (each a few subrequests). */
export const OWED_SWEEP_BATCH = 50;

const PER_MS = 1024;
/** A mark: when it was made (ms × 1,024), with random low bits so two marks of one millisecond differ. */
export const owedToken = (now: number = Date.now()) => now * PER_MS + Math.floor(Math.random() * PER_MS);
/** The marks made before this time. */
export const owedBefore = (ms: number) => ms * PER_MS;

/** The mark a profile write sets: owed only while the tenant has a rule that is not paused. */
export const profileOwed = (tenantId: string, token: number): SQL =>
  sql`CASE WHEN EXISTS (SELECT 1 FROM group_rules WHERE tenant_id = ${tenantId} AND paused = 0) THEN ${token} END`;

/** Where each kind of mark is kept: the table, its column, and the column of the work's progress (a group's reconcile). */
const MARK_COLUMN = { users: "rules_owed", groups: "rule_owed" } as const;
const PROGRESS_COLUMN = { users: "NULL", groups: "rule_owed_after" } as const;
export type MarkTable = keyof typeof MARK_COLUMN;
export interface Mark {
  id: string;
  token: number;
}

/** These marks set to `value` (null: cleared), each only while it is still the one named: a later change's own mark is left alone. */
async function replaceMarks(db: Db, table: MarkTable, tenantId: string, marks: Mark[], value: number | null) {
  if (marks.length === 0) return;
  const [t, column] = [sql.raw(table), sql.raw(MARK_COLUMN[table])];
  await db.run(sql`UPDATE ${t} SET ${column} = ${value} WHERE tenant_id = ${tenantId} AND (id, ${column}) IN
    (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(${JSON.stringify(marks.map((m) => [m.id, m.token]))}))`);
}

/** The users' marks cleared, each only if no later change set its own since. */
export const settleProfiles = (db: Db, tenantId: string, owed: Mark[]) => replaceMarks(db, "users", tenantId, owed, null);

/** The statement that marks the group's reconcile as owed (in the batch that sets or drops its rule), from its first user. */
export const markGroupOwed = (tenantId: string, groupId: string, token: number): SQL =>
  sql`UPDATE groups SET rule_owed = ${token}, rule_owed_after = NULL WHERE tenant_id = ${tenantId} AND id = ${groupId}`;

/** The group's mark and its progress cleared, unless a later rule change set its own. */
export const settleGroup = (db: Db, tenantId: string, groupId: string, token: number) =>
  db.run(sql`UPDATE groups SET rule_owed = NULL, rule_owed_after = NULL
    WHERE tenant_id = ${tenantId} AND id = ${groupId} AND rule_owed = ${token}`);

/** How far a reconcile cut short got (the last user it walked), kept while the mark is still this one. */
export const noteGroupProgress = (db: Db, tenantId: string, groupId: string, token: number, after: string) =>
  db.run(sql`UPDATE groups SET rule_owed_after = ${after} WHERE tenant_id = ${tenantId} AND id = ${groupId} AND rule_owed = ${token}`);

/**
 * The marks made before `before` (an owedBefore), oldest first, across the shard's tenants: a range of the mark's partial
 * index. A tenant a move has fenced here is left out: its work would only fail until the move lets it write again.
 */
export function overdueQuery(table: MarkTable, before: number): SQL {
  const [t, column] = [sql.raw(table), sql.raw(MARK_COLUMN[table])];
  return sql`SELECT tenant_id, id, ${column} AS token, ${sql.raw(PROGRESS_COLUMN[table])} AS after FROM ${t} WHERE ${column} IS NOT NULL AND ${column} < ${before}
    AND ${takesWrites(sql`${t}.tenant_id`)} ORDER BY ${column} LIMIT ${OWED_SWEEP_BATCH}`;
}

/**
 * Marks whose work failed in the cron, made anew (as if just made), so the next attempt comes
 * after another grace and the marks behind them in the queue are not starved meanwhile.
 */
export const postpone = (db: Db, table: MarkTable, tenantId: string, marks: Mark[]) =>
  replaceMarks(db, table, tenantId, marks, owedToken());

/** Marks older than the grace, oldest first, across the shard's tenants. */
export async function overdue(db: Db, now: number) {
  const before = owedBefore(now - OWED_GRACE_MS);
  type Owed = Mark & { tenant_id: string; after: string | null };
  const [profiles, groups] = await Promise.all([db.all<Owed>(overdueQuery("users", before)), db.all<Owed>(overdueQuery("groups", before))]);
  return { profiles, groups };
}
