// The walk up from a user: the groups they are in and every group above those, once each.
import { type SQL, sql } from "drizzle-orm";

/** `held(group_id)` as the first table of a WITH RECURSIVE: one CTE, never a query per level. */
export const heldGroupsCte = (tenantId: string, userId: string): SQL => sql`held(group_id) AS (
  SELECT group_id FROM live_memberships WHERE tenant_id = ${tenantId} AND user_id = ${userId}
  UNION
  SELECT e.parent_id FROM held h CROSS JOIN group_edges e ON e.tenant_id = ${tenantId} AND e.child_id = h.group_id
)`;
