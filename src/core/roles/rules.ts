// The two role rules of seed 001, enforced here for every surface:
//  1. a caller may assign (or take away) only roles lower than their own best role;
//  2. only a caller whose best role is higher than every role on a group may add
//     users to it or remove them.
// A lower level is a more powerful role; an equal level is not "higher". A token
// with the `admin` scope is a service or vendor-level token and is not bound by them.
import { sql } from "drizzle-orm";
import type { Db, Principal } from "../shared/context";
import { CoreError } from "../shared/errors";

/** What the rules need to know about a caller; it travels to the group's coordinator. */
export interface Authority {
  exempt: boolean;
  roleKeys: string[];
}

export function authorityOf(principal: Principal | undefined): Authority {
  if (!principal) return { exempt: true, roleKeys: [] };
  return { exempt: principal.scopes.has("admin"), roleKeys: [...principal.roles] };
}

const bestLevelSql = (tenantId: string, roleKeys: string[]) =>
  sql`(SELECT min(r.level) FROM json_each(${JSON.stringify(roleKeys)}) j
       CROSS JOIN roles r ON r.tenant_id = ${tenantId} AND r.key = j.value)`;

const describeBest = (best: number | null) => (best === null ? "you hold no role of this tenant" : `your highest role has level ${best}`);

/** Rule 1: every one of these roles must have a level greater than the caller's best. */
export async function assertMayAssignRoles(db: Db, tenantId: string, who: Authority, roleIds: string[]) {
  if (who.exempt || roleIds.length === 0) return;
  const rows = await db.all<{ id: string; key: string; level: number; best: number | null }>(
    sql`SELECT r.id, r.key, r.level, ${bestLevelSql(tenantId, who.roleKeys)} AS best
        FROM json_each(${JSON.stringify(roleIds)}) j CROSS JOIN roles r ON r.tenant_id = ${tenantId} AND r.id = j.value`,
  );
  const refused = rows.filter((r) => r.best === null || r.level <= r.best);
  if (refused.length === 0) return;
  const best = refused[0]!.best;
  throw new CoreError(
    "forbidden",
    `a caller may assign only roles lower than their own: ${describeBest(best)}, and ${refused.map((r) => `'${r.key}' (level ${r.level})`).join(", ")} is not lower`,
    refused.map((r) => ({ field: "role_ids", message: `role '${r.key}' has level ${r.level}`, rule: "assign-lower-roles-only" })),
  );
}

/** The two levels rule 2 compares, as SQL columns `best` and `top`, for folding into a larger read. */
export const memberRuleLevelsSql = (tenantId: string, groupId: string, who: Authority) =>
  sql`${bestLevelSql(tenantId, who.roleKeys)} AS best,
      (SELECT min(r.level) FROM group_roles gr CROSS JOIN roles r ON r.tenant_id = gr.tenant_id AND r.id = gr.role_id
       WHERE gr.tenant_id = ${tenantId} AND gr.group_id = ${groupId}) AS top`;

/** Rule 2 on levels already read: the caller's best role must be higher than every role on the group. */
export function checkMayChangeMembers(groupId: string, who: Authority, best: number | null, top: number | null) {
  if (who.exempt || top === null) return;
  if (best !== null && best < top) return;
  throw new CoreError(
    "forbidden",
    `only a caller whose role is higher than every role on group '${groupId}' may add or remove its users: the group holds a role of level ${top}, and ${describeBest(best)}`,
    [{ message: "caller's role is not higher than the group's roles", rule: "higher-role-than-group" }],
  );
}

/** Rule 2 as an SQL condition, for a batch that checks it itself (core/shared/preconditions.ts): true when it refuses. */
export const refusesMemberChangeSql = (tenantId: string, groupId: string, who: Authority) =>
  who.exempt
    ? sql`0`
    : sql`(SELECT top IS NOT NULL AND (best IS NULL OR best >= top) FROM (SELECT ${memberRuleLevelsSql(tenantId, groupId, who)}))`;

/** Rule 2: the caller's best role must be higher than every role on the group. */
export async function assertMayChangeMembers(db: Db, tenantId: string, groupId: string, who: Authority) {
  if (who.exempt) return;
  const row = await db.get<{ best: number | null; top: number | null }>(sql`SELECT ${memberRuleLevelsSql(tenantId, groupId, who)}`);
  checkMayChangeMembers(groupId, who, row?.best ?? null, row?.top ?? null);
}
