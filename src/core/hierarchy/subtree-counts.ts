// Distinct users under a group (it and every group below it) are counted by walking the
// sub-hierarchy, which is costly for a large one. The count is remembered on the group
// after a read, and forgotten, with agg_version bumped, by every change under the group:
// membership changes, links and unlinks, group and user deletion. A read that raced such
// a change does not store its count (the agg_version it started from no longer matches).
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
