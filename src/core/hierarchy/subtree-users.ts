// Who holds a group through the hierarchy: the users whose claims change when what the group's
// subtree inherits changes (a link or unlink above it, its deletion, its rename).
import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../shared/context";
import { groupsBelowCte } from "./below";

/** Users who are members of these groups or of any group below them, as a statement a write's batch can hold too. */
export const subtreeUsers = (tenantId: string, groupIds: string[]): SQL => sql`
    WITH RECURSIVE ${groupsBelowCte(tenantId, sql`SELECT value FROM json_each(${JSON.stringify(groupIds)})`)}
    SELECT DISTINCT m.user_id FROM sub s CROSS JOIN memberships m ON m.tenant_id = ${tenantId} AND m.group_id = s.id`;

const userIdsOf = (rows: readonly unknown[]) => (rows as { user_id: string }[]).map((r) => r.user_id);

async function subtreeUserIds(db: Db, tenantId: string, groupIds: string[]): Promise<string[]> {
  return userIdsOf(await db.all(subtreeUsers(tenantId, groupIds)));
}

/** How a write hands on the users whose claims it changes (a coordinator queues their refresh; see MutationMeta). */
export interface ClaimRefresh {
  /**
   * Called with the users whose claims the mutation changes, just before its D1 batch:
   * the coordinator makes their refresh durable first, so a crash between the commit and
   * the refresh cannot leave a claim stale (coordinator/claims-queue.ts).
   */
  beforeCommit?: (userIds: string[]) => Promise<void>;
  /** Called after the commit with users the batch found changed that beforeCommit could not name (subtreeJoiners). */
  afterCommit?: (userIds: string[]) => Promise<void>;
}

/**
 * A write that changes what everyone under these groups inherits reads them first and queues their refresh before
 * it commits (durable, as every write's refresh is). Members join groups below through their own groups'
 * coordinators meanwhile, and such a joiner's own refresh may read D1 before this write commits: so the write's
 * batch also holds subtreeUsers, and subtreeJoiners queues whoever that found and this read did not.
 */
export async function subtreeBeforeWrite(db: Db, tenantId: string, groupIds: string[], refresh: ClaimRefresh): Promise<string[]> {
  const users = await subtreeUserIds(db, tenantId, groupIds);
  await refresh.beforeCommit?.(users);
  return users;
}

/** After the commit: every user subtreeUsers found in the batch (`found`, its result), the ones subtreeBeforeWrite missed queued now. */
export async function subtreeJoiners(found: D1Result, before: string[], refresh: ClaimRefresh): Promise<string[]> {
  const known = new Set(before);
  const joined = userIdsOf(found.results).filter((u) => !known.has(u));
  if (joined.length > 0) await refresh.afterCommit?.(joined);
  return [...before, ...joined];
}
