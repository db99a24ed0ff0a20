// The groups below some groups, walking the links from parent to child.
import { type SQL, sql } from "drizzle-orm";

/** `sub(id)` as a table of a WITH RECURSIVE: the ids `seed` selects and every group below them; one CTE, never a query per level. */
export const groupsBelowCte = (tenantId: string, seed: SQL) => sql`sub(id) AS (
      ${seed}
      UNION
      SELECT e.child_id FROM sub s CROSS JOIN group_edges e ON e.tenant_id = ${tenantId} AND e.parent_id = s.id
    )`;

/** `sub(root, id)`: each of these groups (a JSON id list) paired with itself and every group below it, each once. */
export const subtreesCte = (tenantId: string, idsJson: string) => sql`sub(root, id) AS (
      SELECT value, value FROM json_each(${idsJson})
      UNION
      SELECT s.root, e.child_id FROM sub s CROSS JOIN group_edges e ON e.tenant_id = ${tenantId} AND e.parent_id = s.id
    )`;
