// Distinct users under a group (it and every group below it) are counted by walking the
// sub-hierarchy, which is costly for a large one. The count is remembered on the group
// after a read. A membership change adjusts the remembered counts of the group and every
// group above it in the same batch (adjustSubtreeCounts); links and unlinks, group and
// user deletion forget them (forgetSubtreeCounts). Either bumps agg_version, so a read that
// raced the change does not store its count (the agg_version it started from no longer matches).
import { type SQL, sql } from "drizzle-orm";

/** Forget the counts of the groups `seeds` selects (one column of ids) and of every group above them. */
export const forgetSubtreeCounts = (tenantId: string, seeds: SQL) => sql`
  UPDATE groups SET user_count_cache = NULL, agg_version = agg_version + 1
  WHERE tenant_id = ${tenantId} AND id IN (
    WITH RECURSIVE up(id) AS (
      ${seeds}
      UNION
      SELECT e.parent_id FROM up u CROSS JOIN group_edges e ON e.tenant_id = ${tenantId} AND e.child_id = u.id
    )
    SELECT id FROM up)`;

export const idsOf = (ids: string[]) => sql`SELECT value FROM json_each(${JSON.stringify(ids)})`;

/**
 * The users of `moving` (SQL selecting user_id) join (+1) or leave (-1) group `groupId`. Each
 * remembered count at or above the group moves by the number of those users who are not
 * held there through any other membership. Runs in the change's own batch (before the
 * membership rows change), so it reads the committed state whatever races it: exact.
 */
export const adjustSubtreeCounts = (tenantId: string, groupId: string, moving: SQL, sign: 1 | -1) => sql`
  WITH RECURSIVE
    above(id) AS (
      SELECT ${groupId}
      UNION
      SELECT e.parent_id FROM above a CROSS JOIN group_edges e ON e.tenant_id = ${tenantId} AND e.child_id = a.id
    ),
    moving(user_id) AS (${moving}),
    held(user_id, id) AS (
      SELECT m.user_id, m.group_id FROM moving u CROSS JOIN memberships m
        ON m.tenant_id = ${tenantId} AND m.user_id = u.user_id AND m.group_id != ${groupId}
      UNION
      SELECT h.user_id, e.parent_id FROM held h CROSS JOIN group_edges e ON e.tenant_id = ${tenantId} AND e.child_id = h.id
    )
  UPDATE groups SET
    user_count_cache = user_count_cache + ${sign} * (
      SELECT count(*) FROM moving u WHERE NOT EXISTS (SELECT 1 FROM held h WHERE h.user_id = u.user_id AND h.id = groups.id)),
    agg_version = agg_version + 1
  WHERE tenant_id = ${tenantId} AND id IN (SELECT id FROM above)`;

/** The users of the JSON id list who are (member = true) or are not members of the group. */
export const membersAmong = (tenantId: string, groupId: string, idsJson: string, member: boolean) => sql`
  SELECT j.value AS user_id FROM json_each(${idsJson}) j
  WHERE ${member ? sql`` : sql`NOT`} EXISTS (SELECT 1 FROM memberships x WHERE x.tenant_id = ${tenantId} AND x.group_id = ${groupId} AND x.user_id = j.value)`;
